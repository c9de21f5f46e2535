"""Pruebas de libroia.constrained: la salida cumple la expresión regular por construcción."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from libroia.constrained import (
    RegexConstraint,
    constrained_decode,
    model_next_logits,
    token_strings,
)
from tests.package.tiny_gpt import TINY_TEXT, tiny_language_model

# ------------------------------------------------------------------ decodificación restringida

VOCAB = [*"0123456789", "-", ".", "a", "b", " ", "{", "}", '"', ":", ",", "12", "3.", '{"']
VOCAB += [None, ""]  # tokens que nunca se permiten
NUMBER = r"-?(0|[1-9][0-9]{0,3})(\.[0-9]{1,2})?"
JSONISH = r'\{"a": (-?(0|[1-9][0-9]{0,2})|"[ab]{1,4}"), "b": [0-9]\}'


def test_constraint_masks_hand_case():
    c = RegexConstraint(r"[0-9]+", ["1", "2", "a", "12", None])
    assert c.allowed("").tolist() == [True, True, False, True, False]
    assert c.is_complete("12") and not c.is_complete("") and c.is_viable("")
    masked = c.mask_logits(torch.zeros(5), "1")
    assert torch.isinf(masked).tolist() == [False, False, True, False, True]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 100_000), temperature=st.sampled_from([0.0, 0.5, 1.0, 3.0]))
def test_constrained_outputs_always_parse(seed, temperature):
    rng = np.random.default_rng(seed)
    for pattern, parse in ((NUMBER, float), (JSONISH, json.loads)):
        c = RegexConstraint(pattern, VOCAB)
        out = constrained_decode(
            lambda ids: rng.normal(size=len(VOCAB)) * 3,
            c,
            max_new_tokens=40,
            temperature=temperature,
            generator=np.random.default_rng(seed),
        )
        assert c.is_complete(out.text)
        parse(out.text)
        assert out.text == "".join(VOCAB[i] for i in out.ids)


def test_constrained_with_torch_logits_and_tokenizer():
    class Bytes:
        vocab_size = 258

        def token_bytes(self, i):
            return {256: b"12", 257: "ó".encode()}[i] if i >= 256 else bytes([i])

    tokens = token_strings(Bytes())
    assert tokens[ord("7")] == "7" and tokens[0xC3] is None and tokens[257] == "ó"
    c = RegexConstraint(r"[0-9]{3}", tokens)
    out = constrained_decode(lambda ids: torch.randn(258), c, max_new_tokens=5)
    assert c.is_complete(out.text) and len(out.text) == 3


def test_constrained_budget_too_small_raises():
    c = RegexConstraint(r"[0-9]{5}", VOCAB)
    with pytest.raises(RuntimeError, match="max_new_tokens"):
        constrained_decode(lambda ids: np.zeros(len(VOCAB)), c, max_new_tokens=2)


def test_bad_constraint_inputs():
    with pytest.raises(ValueError, match="pattern"):
        RegexConstraint("(", VOCAB)
    with pytest.raises(TypeError, match="pattern"):
        RegexConstraint(3, VOCAB)
    with pytest.raises(ValueError, match="tokens"):
        RegexConstraint("a", [])
    with pytest.raises(ValueError, match="logits"):
        RegexConstraint("a", VOCAB).mask_logits(np.zeros(3), "")
    with pytest.raises(ValueError, match="max_new_tokens"):
        constrained_decode(lambda ids: np.zeros(3), RegexConstraint("a", VOCAB), max_new_tokens=0)
    with pytest.raises(TypeError, match="tokens"):
        RegexConstraint("a", ["a", 3])
    with pytest.raises(TypeError, match="constraint"):
        constrained_decode(lambda ids: np.zeros(3), "a", max_new_tokens=1)
    with pytest.raises(ValueError, match="logits"):
        RegexConstraint("a", VOCAB).mask_logits(np.full(len(VOCAB), np.nan), "")


def test_allowed_is_cached_and_mask_keeps_the_type():
    c = RegexConstraint(r"a+b", ["a", "b", "ab", "c"])
    assert c.allowed("a") is c.allowed("a")
    assert c.allowed("aa").tolist() == [True, True, True, False]
    assert c.allowed("ab").tolist() == [False, False, False, False]
    assert c.is_complete("aab") and not c.is_viable("ba")
    np.testing.assert_array_equal(
        c.mask_logits(np.arange(4.0), ""), [0.0, -np.inf, 2.0, -np.inf]
    )
    masked = c.mask_logits(torch.arange(4.0), "")
    assert isinstance(masked, torch.Tensor) and torch.isinf(masked).tolist() == [
        False, True, False, True,
    ]


def test_greedy_stops_when_the_model_prefers_a_forbidden_token():
    tokens = ["a", "1", "2"]
    out = constrained_decode(lambda ids: np.array([5.0, 1.0, 0.0]),
                             RegexConstraint(r"[0-9]+", tokens), max_new_tokens=6)
    assert out.text == "1" and out.ids == [1] and out.blocked == [1]


# --------------------------------------------------------------------------- con un GPT diminuto

@pytest.fixture(scope="module")
def tiny():
    return tiny_language_model(TINY_TEXT)


def test_constrained_decode_with_the_model(tiny):
    model, tok = tiny
    c = RegexConstraint(r" el [0-9]{1,2} de (marzo|abril) de 20[0-9]{2}", token_strings(tok))
    prompt = tok.encode("El modelo")
    for temperature in (0.0, 1.0):
        out = constrained_decode(model_next_logits(model, prompt), c, max_new_tokens=20,
                                 temperature=temperature, generator=torch.Generator())
        assert c.is_complete(out.text) and tok.decode(out.ids) == out.text
