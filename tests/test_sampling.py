"""Pruebas de libroia.sampling y libroia.constrained.

Los filtros se comparan con los ``LogitsWarper`` de Hugging Face ``transformers``
(si está instalado) y con tablas de probabilidad hechas a mano que listan los
tokens que deben sobrevivir.
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from libroia.constrained import (
    RegexConstraint,
    constrained_decode,
    model_next_logits,
    token_strings,
)
from libroia.sampling import (
    apply_temperature,
    beam_search,
    best_of_n,
    continuation_log_probs,
    entropy,
    greedy,
    log_prob_step,
    min_p_filter,
    next_token_logits,
    sample,
    sampler,
    self_consistency,
    sequence_log_prob,
    token_log_probs,
    top_k_filter,
    top_p_filter,
    top_tokens,
)

FILTERS = {
    "top_k": lambda x, v: top_k_filter(x, v),
    "top_p": lambda x, v: top_p_filter(x, v),
    "min_p": lambda x, v: min_p_filter(x, v),
    "temperature": lambda x, v: apply_temperature(x, v),
}
PARAMS = {"top_k": 3, "top_p": 0.8, "min_p": 0.1, "temperature": 0.7}

TABLE = np.log(np.array([0.5, 0.3, 0.15, 0.05]))


def survivors(filtered) -> list[int]:
    """Índices que no son -inf en un vector de logits filtrado."""
    return [int(i) for i in np.flatnonzero(np.isfinite(np.asarray(filtered)))]


def distinct_logits(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """Logits sin empates: una permutación de valores bien separados."""
    rng = np.random.default_rng(seed)
    V = shape[-1]
    base = np.linspace(-4.0, 4.0, V)
    out = np.stack([rng.permutation(base) for _ in range(math.prod(shape[:-1]))])
    return (out + rng.uniform(0, 0.5 * 8 / V, out.shape)).reshape(shape)


# --------------------------------------------------------------------------- tablas a mano


@pytest.mark.parametrize(
    ("p", "expected"),
    [(0.4, [0]), (0.7, [0, 1]), (0.81, [0, 1, 2]), (0.99, [0, 1, 2, 3]), (1, [0, 1, 2, 3])],
)
def test_top_p_hand_table(p, expected):
    # Probabilidades 0.5, 0.3, 0.15, 0.05: se suman de mayor a menor hasta llegar a p.
    assert survivors(top_p_filter(TABLE, p)) == expected
    assert survivors(top_p_filter(torch.tensor(TABLE), p)) == expected


@pytest.mark.parametrize(
    ("p", "expected"), [(0.05, [0, 1, 2, 3]), (0.2, [0, 1, 2]), (0.5, [0, 1]), (1, [0])]
)
def test_min_p_hand_table(p, expected):
    # Umbral p · 0.5: 0.025, 0.1, 0.25 y 0.5.
    assert survivors(min_p_filter(TABLE, p)) == expected


@pytest.mark.parametrize(
    ("k", "expected"), [(1, [0]), (2, [0, 1]), (3, [0, 1, 2]), (9, [0, 1, 2, 3])]
)
def test_top_k_hand_table(k, expected):
    assert survivors(top_k_filter(TABLE, k)) == expected


def test_top_k_keeps_ties():
    x = np.array([1.0, 3.0, 2.0, 3.0, 2.0])
    assert survivors(top_k_filter(x, 1)) == [1, 3]
    assert survivors(top_k_filter(x, 3)) == [1, 2, 3, 4]


def test_top_p_keeps_ties_at_the_cut():
    # 0.4 no llega a 0.5; hace falta un token de 0.2 y los tres empatan: se quedan todos.
    x = np.log(np.array([0.2, 0.4, 0.2, 0.2]))
    assert survivors(top_p_filter(x, 0.5)) == [0, 1, 2, 3]


def test_temperature_hand_values_and_batch():
    x = np.array([[2.0, 1.0], [0.0, 4.0]])
    np.testing.assert_allclose(apply_temperature(x, 0.5), [[4.0, 2.0], [0.0, 8.0]])
    np.testing.assert_allclose(apply_temperature(x, 2), [[1.0, 0.5], [0.0, 2.0]])  # entero vale


def test_temperature_tiny_does_not_overflow():
    out = apply_temperature(np.array([3.0, 1.0]), 1e-308)
    assert np.isfinite(out[0]) and out[1] == -np.inf
    assert survivors(top_p_filter(out, 0.9)) == [0]


def test_filters_compose_with_minus_inf():
    x = top_k_filter(TABLE, 2)
    assert survivors(top_p_filter(x, 0.99)) == [0, 1]
    assert survivors(min_p_filter(x, 0.01)) == [0, 1]
    assert survivors(top_k_filter(x, 3)) == [0, 1]


# --------------------------------------------------------------------------- contra transformers


@pytest.fixture(scope="module")
def hf():
    lp = pytest.importorskip("transformers.generation.logits_process")
    return lp


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("seed", range(4))
def test_filters_match_transformers(hf, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    scores = (torch.randn(5, 40, generator=g) * (1 + seed)).to(dtype)
    before = scores.clone()
    for value in (0.05, 0.3, 0.75, 0.95, 1.0):
        torch.testing.assert_close(
            top_p_filter(scores, value), hf.TopPLogitsWarper(value)(None, scores)
        )
        torch.testing.assert_close(
            min_p_filter(scores, value), hf.MinPLogitsWarper(value)(None, scores)
        )
    for k in (1, 2, 7, 40, 100):
        torch.testing.assert_close(top_k_filter(scores, k), hf.TopKLogitsWarper(k)(None, scores))
    for t in (0.1, 0.5, 1.0, 3.0):
        torch.testing.assert_close(
            apply_temperature(scores, t), hf.TemperatureLogitsWarper(t)(None, scores)
        )
    torch.testing.assert_close(scores, before, rtol=0, atol=0)


def test_top_p_matches_transformers_on_a_long_vocabulary(hf):
    # V > 1024 obliga a ordenar la fila entera; las filas planas y las picudas se mezclan.
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(6, 3000, generator=g, dtype=torch.float64)
    scores[::2] *= 8
    for value in (0.2, 0.9):
        torch.testing.assert_close(
            top_p_filter(scores, value), hf.TopPLogitsWarper(value)(None, scores)
        )


@pytest.mark.parametrize("as_torch", [False, True])
def test_top_p_one_keeps_every_token_with_probability(as_torch):
    x = np.random.default_rng(0).normal(size=(4, 3000)).astype(np.float32) * 3
    x[0, :10] = -200.0  # exp(-200) es 0 en float32: probabilidad cero, se descarta
    arr = torch.tensor(x) if as_torch else x
    kept = np.isfinite(np.asarray(top_p_filter(arr, 1.0)))
    np.testing.assert_array_equal(kept, np.exp(x - x.max(-1, keepdims=True)) > 0)


@pytest.mark.parametrize("seed", range(3))
def test_numpy_equals_torch(seed):
    x = np.random.default_rng(seed).normal(size=(3, 30)) * 3
    for name, f in FILTERS.items():
        np.testing.assert_array_equal(f(x, PARAMS[name]), f(torch.tensor(x), PARAMS[name]).numpy())


# --------------------------------------------------------------------------- propiedades

logit_rows = arrays(
    np.float64,
    st.tuples(st.integers(1, 3), st.integers(1, 30)),
    elements=st.floats(-20, 20, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), V=st.integers(2, 60), k=st.integers(1, 60))
def test_top_k_keeps_exactly_k_without_ties(seed, V, k):
    x = distinct_logits(seed, (2, V))
    kept = np.isfinite(top_k_filter(x, k))
    np.testing.assert_array_equal(kept.sum(axis=-1), min(k, V))
    # y son los k mayores: ninguno descartado supera a uno conservado
    for row, keep in zip(x, kept, strict=True):
        if not keep.all():
            assert row[keep].min() > row[~keep].max()


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), V=st.integers(1, 60), p=st.floats(0.01, 1.0))
def test_top_p_mass_at_least_p_and_minimal(seed, V, p):
    x = distinct_logits(seed, (3, V)) * 2
    probs = np.exp(x - x.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    kept = np.isfinite(top_p_filter(x, p))
    for prob, keep in zip(probs, kept, strict=True):
        mass = prob[keep].sum()
        smallest = prob[keep].min()
        assume(abs(mass - p) > 1e-9 and abs(mass - smallest - p) > 1e-9)
        assert keep.any()
        assert mass >= p or keep.all()  # alcanza p (o no hay más que quitar)
        assert mass - smallest < p  # mínimo: sin el menor ya no llega
        assert prob[keep].min() >= prob[~keep].max(initial=0.0)  # y son los más probables


@settings(max_examples=40, deadline=None)
@given(x=logit_rows, p=st.floats(0.001, 1.0))
def test_min_p_threshold_property(x, p):
    probs = np.exp(x - x.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    kept = np.isfinite(min_p_filter(x, p))
    threshold = p * probs.max(-1, keepdims=True)
    margin = np.abs(probs - threshold) > 1e-12 * (1 + threshold)
    np.testing.assert_array_equal(kept[margin], (probs >= threshold)[margin])
    assert kept.any(axis=-1).all()


@settings(max_examples=40, deadline=None)
@given(x=logit_rows, name=st.sampled_from(sorted(FILTERS)), as_torch=st.booleans())
def test_inputs_unchanged_and_same_kind(x, name, as_torch):
    arr = torch.tensor(x, dtype=torch.float32) if as_torch else x.astype(np.float32)
    copy = arr.clone() if as_torch else arr.copy()
    out = FILTERS[name](arr, PARAMS[name])
    assert type(out) is type(arr) and out.dtype == arr.dtype and out.shape == arr.shape
    if as_torch:
        torch.testing.assert_close(arr, copy, rtol=0, atol=0)
    else:
        np.testing.assert_array_equal(arr, copy)
    assert out is not arr


@settings(max_examples=30, deadline=None)
@given(x=logit_rows)
def test_uniform_and_idempotent(x):
    uniform = np.zeros_like(x)
    for name, f in FILTERS.items():
        if name != "temperature":
            np.testing.assert_array_equal(f(uniform, PARAMS[name]), uniform)  # plana sigue plana
        if name in ("top_k", "min_p"):  # top-p no: tras renormalizar puede recortar más
            once = f(x, PARAMS[name])
            np.testing.assert_array_equal(f(once, PARAMS[name]), once)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), V=st.integers(2, 40))
def test_temperature_to_zero_approaches_greedy(seed, V):
    x = distinct_logits(seed, (4, V))
    best = greedy(x)
    top_prob = [
        np.exp(apply_temperature(x, t) - apply_temperature(x, t).max(-1, keepdims=True))
        for t in (1.0, 0.3, 0.1, 0.01)
    ]
    masses = [np.take_along_axis(e / e.sum(-1, keepdims=True), best[:, None], -1) for e in top_prob]
    assert all((a <= b + 1e-12).all() for a, b in itertools.pairwise(masses))
    assert (masses[-1] > 0.99).all()
    rng = np.random.default_rng(seed)
    np.testing.assert_array_equal(sample(x, temperature=1e-3, generator=rng), best)
    np.testing.assert_array_equal(sample(x, temperature=0, generator=rng), best)


def test_entropy_values():
    np.testing.assert_allclose(entropy(np.zeros(4)), 2.0)
    np.testing.assert_allclose(entropy(np.array([0.0, -np.inf, -np.inf])), 0.0)
    np.testing.assert_allclose(entropy(np.zeros((2, 8)), base=math.e), [math.log(8)] * 2)
    hot, cold = entropy(apply_temperature(TABLE, 2.0)), entropy(apply_temperature(TABLE, 0.5))
    assert cold < entropy(TABLE) < hot


# --------------------------------------------------------------------------- sorteo


def _chi2_pvalue(draws, probs):
    from scipy.stats import chisquare

    counts = np.bincount(np.asarray(draws).ravel(), minlength=len(probs))
    keep = probs > 0
    assert counts[~keep].sum() == 0  # nunca sale un token descartado
    return chisquare(counts[keep], probs[keep] * counts.sum()).pvalue


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


LOGITS6 = np.array([1.0, 0.5, 0.0, -0.5, -1.0, 2.0])


@pytest.mark.parametrize("as_torch", [False, True])
def test_sample_frequencies_follow_softmax_over_temperature(as_torch):
    n, t = 20_000, 0.7
    batch = np.tile(LOGITS6, (n, 1))
    if as_torch:
        g = torch.Generator().manual_seed(0)
        draws = sample(torch.tensor(batch), temperature=t, generator=g)
        assert draws.dtype == torch.int64 and draws.shape == (n,)
        draws = draws.numpy()
    else:
        draws = sample(batch, temperature=t, generator=np.random.default_rng(0))
        assert draws.shape == (n,)
    assert _chi2_pvalue(draws, _softmax(LOGITS6 / t)) > 0.01
    # la prueba sí distingue: con la temperatura equivocada el p-valor es ínfimo
    assert _chi2_pvalue(draws, _softmax(LOGITS6)) < 1e-6


def test_sample_frequencies_with_filters():
    n = 20_000
    batch = np.tile(LOGITS6, (n, 1))
    draws = sample(batch, top_k=3, generator=np.random.default_rng(1))
    probs = _softmax(LOGITS6) * np.isin(np.arange(6), [0, 1, 5])
    assert _chi2_pvalue(draws, probs / probs.sum()) > 0.01
    draws = sample(batch, temperature=2, top_p=0.6, generator=np.random.default_rng(2))
    hot = _softmax(LOGITS6 / 2)
    probs = hot * np.isfinite(top_p_filter(LOGITS6 / 2, 0.6))
    assert _chi2_pvalue(draws, probs / probs.sum()) > 0.01


def test_sample_is_reproducible_with_seed_and_keeps_shape():
    x = np.random.default_rng(0).normal(size=(2, 3, 50))
    a = sample(x, top_p=0.9, generator=np.random.default_rng(7))
    b = sample(x, top_p=0.9, generator=np.random.default_rng(7))
    assert a.shape == (2, 3)
    np.testing.assert_array_equal(a, b)
    t = torch.tensor(x)
    c = sample(t, min_p=0.1, generator=torch.Generator().manual_seed(3))
    d = sample(t, min_p=0.1, generator=torch.Generator().manual_seed(3))
    assert torch.equal(c, d)


def test_sampler_closure_for_generate():
    pick = sampler(top_k=1, generator=torch.Generator().manual_seed(0))
    logits = torch.tensor([[0.0, 3.0, 1.0], [5.0, 0.0, 1.0]])
    assert pick(logits).tolist() == [1, 0]
    with pytest.raises(ValueError, match="top_p"):
        sampler(top_p=0)


# --------------------------------------------------------------------------- secuencias


def bigram_step(table):
    """Función de paso de un modelo de bigramas: log P(siguiente | último token)."""
    log_table = np.log(table)

    def step(prefixes):
        return log_table[prefixes[:, -1]]

    return step


def test_beam_search_beats_greedy_on_hand_example():
    # Tras 0: A=1 (0.6) o B=2 (0.4). Tras A todo es plano (máx 0.34); tras B, 0.9.
    table = np.array(
        [
            [0.0, 0.6, 0.4, 0.0],
            [0.33, 0.33, 0.0, 0.34],
            [0.05, 0.0, 0.05, 0.9],
            [0.25, 0.25, 0.25, 0.25],
        ]
    ) + 1e-12
    step = bigram_step(table)
    greedy_seq = beam_search(step, np.array([0]), beam_width=1, max_new_tokens=2)
    wide = beam_search(step, np.array([0]), beam_width=2, max_new_tokens=2)
    assert greedy_seq.sequences[0].tolist() == [0, 1, 3]
    assert wide.sequences[0].tolist() == [0, 2, 3]
    np.testing.assert_allclose(wide.scores[0], math.log(0.4 * 0.9), rtol=1e-9)
    assert wide.scores[0] > greedy_seq.scores[0]
    assert (np.diff(wide.scores) <= 0).all()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), V=st.integers(2, 12), n=st.integers(1, 6))
def test_beam_width_one_equals_greedy(seed, V, n):
    table = np.random.default_rng(seed).dirichlet(np.ones(V), size=V)
    step = bigram_step(table)
    ids = [0]
    for _ in range(n):
        ids.append(int(greedy(np.log(table[ids[-1]]))))
    out = beam_search(step, np.array([0]), beam_width=1, max_new_tokens=n)
    assert out.sequences[0].tolist() == ids


def test_beam_search_with_torch_and_eos():
    table = torch.tensor([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    step = lambda prefixes: torch.log(table[prefixes[:, -1]])  # noqa: E731
    out = beam_search(step, torch.tensor([2]), beam_width=3, max_new_tokens=4, eos_id=0)
    assert isinstance(out.sequences, torch.Tensor) and out.sequences.shape[0] == 3
    for seq, done in zip(out.sequences.tolist(), out.finished.tolist(), strict=True):
        if done:  # tras el primer eos, solo eos
            first = seq.index(0, 1)
            assert all(t == 0 for t in seq[first:])


def test_sequence_log_prob_against_torch():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 7, generator=g, dtype=torch.float64)
    ids = torch.randint(0, 7, (2, 5), generator=g)
    log_probs = torch.log_softmax(logits, -1)
    expected = -torch.nn.functional.cross_entropy(
        logits.reshape(-1, 7), ids.reshape(-1), reduction="none"
    ).reshape(2, 5)
    torch.testing.assert_close(token_log_probs(log_probs, ids), expected)
    torch.testing.assert_close(sequence_log_prob(log_probs, ids), expected.sum(-1))
    hand = np.log(np.array([[0.5, 0.5], [0.75, 0.25]]))
    np.testing.assert_allclose(sequence_log_prob(hand, np.array([0, 1])), math.log(0.125))


def test_best_of_n_and_self_consistency():
    assert best_of_n(["a", "b", "c"], [0.1, 0.7, 0.7]) == ("b", 1)
    assert best_of_n(["x", "y"], torch.tensor([2.0, -1.0])) == ("x", 0)
    vote = self_consistency(["4", "5", "4", "6"])
    assert (vote.answer, vote.count, vote.total, vote.agreement) == ("4", 2, 4, 0.5)
    assert self_consistency(["b", "a", "a", "b"]).answer == "b"  # empate: la primera
    assert list(self_consistency(["b", "a", "a"]).counts) == ["a", "b"]


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


# --------------------------------------------------------------------------- entradas inválidas


@pytest.mark.parametrize("bad", [-1, -0.5])
def test_negative_temperature(bad):
    with pytest.raises(ValueError, match="temperature"):
        apply_temperature(TABLE, bad)
    with pytest.raises(ValueError, match="temperature"):
        sample(TABLE, temperature=bad)


def test_temperature_zero_only_in_sample():
    with pytest.raises(ValueError, match=r"temperature.*greedy"):
        apply_temperature(TABLE, 0)
    assert int(sample(TABLE, temperature=0)) == 0


@pytest.mark.parametrize("bad", [0, 0.0, -0.1, 1.5, float("nan"), float("inf")])
@pytest.mark.parametrize("name", ["top_p", "min_p"])
def test_p_outside_unit_interval(bad, name):
    f = top_p_filter if name == "top_p" else min_p_filter
    with pytest.raises(ValueError, match="`p`"):
        f(TABLE, bad)
    with pytest.raises(ValueError, match=name):
        sample(TABLE, **{name: bad})


@pytest.mark.parametrize("bad", [0, -3])
def test_k_below_one(bad):
    with pytest.raises(ValueError, match="`k`"):
        top_k_filter(TABLE, bad)
    with pytest.raises(ValueError, match="top_k"):
        sample(TABLE, top_k=bad)


@pytest.mark.parametrize("bad", [2.0, True, "3", None])
def test_k_must_be_integer(bad):
    with pytest.raises(TypeError, match="`k`"):
        top_k_filter(TABLE, bad)


def test_integers_accepted_where_a_float_makes_sense():
    np.testing.assert_array_equal(top_p_filter(TABLE, 1), top_p_filter(TABLE, 1.0))
    np.testing.assert_array_equal(min_p_filter(TABLE, 1), min_p_filter(TABLE, 1.0))
    np.testing.assert_array_equal(apply_temperature(TABLE, 1), TABLE)
    ints = top_k_filter(np.array([3, 1, 2]), np.int64(1))  # logits enteros y k de NumPy
    np.testing.assert_array_equal(ints, [3.0, -np.inf, -np.inf])
    with pytest.raises(TypeError, match="temperature"):
        sample(TABLE, temperature="1")


@pytest.mark.parametrize("name", sorted(FILTERS))
@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.array(1.0), "forma"),
        (np.zeros((2, 0)), "forma"),
        (np.array([1.0, np.nan]), "nan"),
        (np.array([1.0, np.inf]), r"\+inf"),
        (np.array([[0.0, 1.0], [-np.inf, -np.inf]]), "finito"),
    ],
)
def test_bad_logits(name, bad, match):
    with pytest.raises(ValueError, match=match):
        FILTERS[name](bad, PARAMS[name])


def test_bad_logits_type_and_generator():
    with pytest.raises(TypeError, match="logits"):
        top_k_filter("hola", 1)
    with pytest.raises(TypeError, match="generator"):
        sample(TABLE, generator=torch.Generator())
    with pytest.raises(TypeError, match="generator"):
        sample(torch.tensor(TABLE), generator=np.random.default_rng(0))
    with pytest.raises(TypeError, match="generator"):
        sample(TABLE, generator=0)


def test_bad_sequence_inputs():
    lp = np.log(np.full((3, 4), 0.25))
    with pytest.raises(ValueError, match="ids"):
        token_log_probs(lp, np.array([0, 1]))
    with pytest.raises(ValueError, match="ids"):
        token_log_probs(lp, np.array([0, 1, 4]))
    with pytest.raises(TypeError, match="ids"):
        token_log_probs(lp, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="scores"):
        best_of_n(["a"], [1.0, 2.0])
    with pytest.raises(ValueError, match="answers"):
        self_consistency([])


def test_bad_beam_search_inputs():
    step = bigram_step(np.full((3, 3), 1 / 3))
    with pytest.raises(ValueError, match="beam_width"):
        beam_search(step, np.array([0]), beam_width=0, max_new_tokens=2)
    with pytest.raises(ValueError, match="prompt"):
        beam_search(step, np.array([[0]]), beam_width=1, max_new_tokens=2)
    with pytest.raises(ValueError, match="step"):
        beam_search(lambda b: np.zeros((5, 3)), np.array([0]), beam_width=1, max_new_tokens=2)
    with pytest.raises(ValueError, match="eos_id"):
        beam_search(step, np.array([0]), beam_width=1, max_new_tokens=2, eos_id=3)


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


# --------------------------------------------------------------------------- con un GPT diminuto

TINY_TEXT = "El modelo elige un token y luego otro. El 12 de marzo de 2024 fue martes. " * 6


@pytest.fixture(scope="module")
def tiny():
    from libroia.gpt import GPT, GPTConfig
    from libroia.tokenizer import BPETokenizer

    tok = BPETokenizer.train(TINY_TEXT, 280)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=280, context=12, d_model=32, n_layers=1, n_heads=2)).eval()
    return model, tok


def test_beam_width_one_equals_model_generate(tiny):
    model, tok = tiny
    prompt = torch.tensor(tok.encode("El modelo"))
    beams = beam_search(log_prob_step(model), prompt, beam_width=1, max_new_tokens=15)
    expected = model.generate(prompt[None], 15)  # voraz, con caché y ventana deslizante
    assert torch.equal(beams.sequences[0], expected[0])
    wide = beam_search(log_prob_step(model), prompt, beam_width=3, max_new_tokens=15)
    assert wide.sequences.shape == (3, len(prompt) + 15)


def test_continuation_log_probs_and_next_logits(tiny):
    model, tok = tiny
    prompt = torch.tensor(tok.encode("El modelo elige"))
    conts = torch.randint(0, 280, (4, 3), generator=torch.Generator().manual_seed(0))
    got = continuation_log_probs(model, prompt, conts)  # (4, 3)
    full = torch.cat([prompt.expand(4, -1), conts], dim=1)
    with torch.no_grad():
        log_p = torch.log_softmax(model(full).double(), -1)
    T0 = len(prompt)
    expected = log_p[:, T0 - 1 : -1].gather(-1, conts[..., None])[..., 0]
    torch.testing.assert_close(got, expected)
    logits = next_token_logits(model, tok, "El modelo elige")
    torch.testing.assert_close(logits, model(prompt[None])[0, -1].detach())
    first = top_tokens(logits, tok, 3)
    assert len(first) == 3 and first[0][1] >= first[1][1] >= first[2][1]
    with pytest.raises(ValueError, match="prompt"):
        next_token_logits(model, tok, "")
    with pytest.raises(ValueError, match="continuations"):
        continuation_log_probs(model, prompt, conts[0])


def test_constrained_decode_with_the_model(tiny):
    model, tok = tiny
    c = RegexConstraint(r" el [0-9]{1,2} de (marzo|abril) de 20[0-9]{2}", token_strings(tok))
    prompt = tok.encode("El modelo")
    for temperature in (0.0, 1.0):
        out = constrained_decode(model_next_logits(model, prompt), c, max_new_tokens=20,
                                 temperature=temperature, generator=torch.Generator())
        assert c.is_complete(out.text) and tok.decode(out.ids) == out.text
