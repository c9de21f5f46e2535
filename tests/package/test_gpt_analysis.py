"""Pruebas de libroia.gpt_analysis: la fórmula de parámetros y los patrones de las cabezas."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from libroia.gpt import GPT, GPTConfig
from libroia.gpt_analysis import count_parameters_formula, head_patterns
from libroia.scaling import DecoderShape, params_breakdown
from tests.package.tiny_gpt import VARIANTS, random_ids, tiny_model


@settings(max_examples=30, deadline=None)
@given(
    variant=VARIANTS,
    d_head=st.sampled_from([2, 4, 6]),
    n_heads=st.integers(1, 3),
    n_layers=st.integers(1, 3),
    bias=st.booleans(),
    tie=st.booleans(),
    hidden=st.one_of(st.none(), st.integers(1, 20)),
)
def test_parameter_count_equals_formula(variant, d_head, n_heads, n_layers, bias, tie, hidden):
    config = GPTConfig(vocab_size=30, context=7, d_model=d_head * n_heads, n_heads=n_heads,
                       n_layers=n_layers, bias=bias, tie_embeddings=tie, mlp_hidden=hidden,
                       **variant)  # fmt: skip
    model = GPT(config)
    counts = model.parameter_counts()
    assert counts == count_parameters_formula(config)
    assert sum(counts.values()) == sum(p.numel() for p in model.parameters())


def test_published_models_built_on_meta_device_match_formula():
    llama2_7b = GPTConfig(vocab_size=32000, context=4096, d_model=4096, n_layers=32,
                          n_heads=32, activation="swiglu", mlp_hidden=11008, positions="rope",
                          norm="rmsnorm", bias=False, tie_embeddings=False)  # fmt: skip
    gpt2 = GPTConfig(vocab_size=50257, context=1024, d_model=768, n_layers=12, n_heads=12,
                     positions="learned", tie_embeddings=True)  # fmt: skip
    for config, published in ((llama2_7b, 6_738_415_616), (gpt2, 124_439_808)):
        assert sum(count_parameters_formula(config).values()) == published
        with torch.device("meta"):  # sin reservar memoria
            model = GPT(config)
        assert sum(p.numel() for p in model.parameters()) == published




def test_formula_is_the_general_one_of_scaling():
    config = GPTConfig(activation="swiglu", norm="rmsnorm", bias=False)
    assert count_parameters_formula(config) == params_breakdown(
        DecoderShape.from_gpt_config(config))


def test_gpt2_example_of_the_docstring_needs_tied_embeddings():
    gpt2 = GPTConfig(vocab_size=50257, context=1024, d_model=768, n_layers=12, n_heads=12,
                     positions="learned", tie_embeddings=True)
    assert sum(count_parameters_formula(gpt2).values()) == 124_439_808
    untied = count_parameters_formula(replace(gpt2, tie_embeddings=False))
    assert sum(untied.values()) == 124_439_808 + 50257 * 768


def test_formula_rejects_what_is_not_a_config():
    with pytest.raises(TypeError, match="`config`"):
        count_parameters_formula({"d_model": 16})


def test_head_patterns_recognise_a_previous_token_head():
    T = 6
    prev = torch.zeros(1, 1, T, T)
    prev[0, 0, 0, 0] = 1.0
    prev[0, 0, torch.arange(1, T), torch.arange(T - 1)] = 1.0  # cada fila mira a la anterior
    first = torch.zeros(1, 1, T, T)
    first[..., 0] = 1.0
    out = head_patterns([torch.cat([prev, first], dim=1)])  # (L=1, h=2)
    torch.testing.assert_close(out["previous"], torch.tensor([[1.0, 0.0]]))
    torch.testing.assert_close(out["first"], torch.tensor([[0.0, 1.0]]))
    torch.testing.assert_close(out["self"], torch.tensor([[0.0, 0.0]]))
    torch.testing.assert_close(out["peak"], torch.tensor([[1.0, 1.0]]))
    uniform = torch.ones(T, T).tril() / torch.arange(1, T + 1)[:, None]  # (T, T)
    expected = torch.tensor([1 / (t + 1) for t in range(2, T)]).mean()
    torch.testing.assert_close(head_patterns([uniform[None, None]])["peak"][0, 0], expected)
    real = head_patterns(tiny_model().attention_weights(random_ids(2, 8)))
    assert real["previous"].shape == (2, 2)
    total = real["previous"] + real["self"] + real["first"]
    assert torch.all(total <= 1.0 + 1e-6)
    with pytest.raises(ValueError, match="`weights`"):
        head_patterns([torch.zeros(1, 1, 2, 2)])
