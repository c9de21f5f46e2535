"""Pruebas de libroia.sampling: filtros de logits, sorteo y entropía.

Los filtros se comparan con los ``LogitsWarper`` de Hugging Face ``transformers``
(si está instalado) y con tablas de probabilidad hechas a mano que listan los
tokens que deben sobrevivir. La búsqueda en haz y las secuencias se prueban en
``test_decoding.py``; la decodificación restringida, en ``test_constrained.py``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import softmax

from libroia.sampling import (
    apply_temperature,
    entropy,
    greedy,
    min_p_filter,
    sample,
    sampler,
    top_k_filter,
    top_p_filter,
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


BOUNDARY = np.array([0.5, 0.25, 0.125, 0.125])


@pytest.mark.parametrize("as_torch", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_top_p_exactly_at_the_boundary(as_torch, dtype):
    # Los dos primeros suman justo p = 0.75. Un token se conserva si la masa de los más
    # probables que él es < p: el tercero (con 0.75 por delante) ya no entra, ni su empatado.
    x = np.log(BOUNDARY).astype(dtype)
    arr = torch.tensor(x) if as_torch else x
    assert survivors(top_p_filter(arr, 0.75)) == [0, 1]
    assert survivors(top_p_filter(arr, 0.7499999)) == [0, 1]
    # Por poco que p pase de 0.75 hace falta un token de 0.125: entran los dos empatados.
    assert survivors(top_p_filter(arr, 0.7500001)) == [0, 1, 2, 3]
    assert survivors(top_p_filter(arr, 0.5)) == [0]  # el otro borde exacto de la tabla
    assert survivors(top_p_filter(arr, 0.875)) == [0, 1, 2, 3]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_top_p_boundary_matches_transformers(dtype):
    # Con logits 0, -ln 2, -2 ln 2, -2 ln 2 la softmax de transformers es exacta y las dos
    # reglas coinciden en los bordes. (Con np.log de las probabilidades en float64, su softmax
    # da 0.12500000000000003 y conserva uno de los dos empatados: redondeo y orden de los
    # empates, la diferencia documentada en libroia.sampling.)
    lp = pytest.importorskip("transformers.generation.logits_process")
    x = torch.tensor([0.0, -math.log(2), -2 * math.log(2), -2 * math.log(2)], dtype=dtype)
    for p, kept in ((0.75, [0, 1]), (0.5, [0])):
        reference = lp.TopPLogitsWarper(p)(None, x[None])[0]
        assert survivors(reference) == kept
        torch.testing.assert_close(top_p_filter(x, p), reference)


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
    assert _chi2_pvalue(draws, softmax(LOGITS6 / t)) > 0.01
    # la prueba sí distingue: con la temperatura equivocada el p-valor es ínfimo
    assert _chi2_pvalue(draws, softmax(LOGITS6)) < 1e-6


def test_sample_frequencies_with_filters():
    n = 20_000
    batch = np.tile(LOGITS6, (n, 1))
    draws = sample(batch, top_k=3, generator=np.random.default_rng(1))
    probs = softmax(LOGITS6) * np.isin(np.arange(6), [0, 1, 5])
    assert _chi2_pvalue(draws, probs / probs.sum()) > 0.01
    draws = sample(batch, temperature=2, top_p=0.6, generator=np.random.default_rng(2))
    hot = softmax(LOGITS6 / 2)
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
