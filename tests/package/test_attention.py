"""Pruebas de libroia.attention contra PyTorch: núcleo, cabezas, módulo y caché."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from libroia.attention import (
    DEFAULT_BLOCK_SIZE,
    KVCache,
    MultiHeadAttention,
    causal_mask,
    masked_softmax,
    merge_heads,
    padding_mask,
    scaled_dot_product_attention,
    split_heads,
)
from libroia.plots.attention import (
    attention_heatmap,
    cost_figure,
    letter_features,
    saturation_figure,
)

TOL = {"rtol": 1e-5, "atol": 1e-5}


def _qkv(shape_q, shape_k, d_v, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal(shape_q).astype(dtype)
    k = rng.standard_normal(shape_k).astype(dtype)
    v = rng.standard_normal((*shape_k[:-1], d_v)).astype(dtype)
    return q, k, v


def _reference(q, k, v, mask=None, causal=False):
    """Salida de PyTorch y pesos calculados aparte con torch.softmax (True = puede mirar)."""
    q, k, v = (torch.as_tensor(a) for a in (q, k, v))
    if mask is not None:
        mask = torch.as_tensor(mask)
    if causal:
        tril = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril()
        mask = tril if mask is None else mask & tril
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, -math.inf)
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return out, weights


# --------------------------------------------------------------------------- contra PyTorch

CASES = [
    # (forma de q, forma de k, d_v, forma de la máscara o None, causal)
    ((2, 5, 8), (2, 5, 8), 8, None, False),
    ((2, 5, 8), (2, 5, 8), 3, None, True),
    ((2, 4, 6), (2, 7, 6), 5, None, True),  # T_q ≠ T_k: tril alineada arriba a la izquierda
    ((2, 3, 5, 8), (2, 3, 5, 8), 8, (2, 1, 1, 5), False),  # relleno con cabezas
    ((2, 5, 8), (2, 5, 8), 8, (2, 1, 5), True),  # relleno y causal a la vez
    ((3, 4, 8), (3, 6, 8), 2, (4, 6), False),  # máscara (T_q, T_k) para todo el lote
    ((4, 8), (6, 8), 8, None, False),  # sin dimensiones de lote
]


@pytest.mark.parametrize("kind", ["numpy", "torch"])
@pytest.mark.parametrize(("sq", "sk", "d_v", "mask_shape", "causal"), CASES)
def test_matches_torch(kind, sq, sk, d_v, mask_shape, causal):
    q, k, v = _qkv(sq, sk, d_v)
    mask = None
    if mask_shape is not None:
        mask = np.random.default_rng(1).random(mask_shape) < 0.7
        mask[..., 0] = True  # al menos una clave por fila (las filas vacías, aparte)
    ref_out, ref_w = _reference(q, k, v, mask, causal)
    if kind == "torch":
        args = [torch.from_numpy(a) for a in (q, k, v)]
        m = None if mask is None else torch.from_numpy(mask)
        out, w = scaled_dot_product_attention(*args, m, causal=causal)
        assert isinstance(out, torch.Tensor) and isinstance(w, torch.Tensor)
    else:
        out, w = scaled_dot_product_attention(q, k, v, mask, causal=causal)
        assert isinstance(out, np.ndarray) and isinstance(w, np.ndarray)
        assert out.dtype == np.float32 and w.dtype == np.float32
        out, w = torch.from_numpy(out), torch.from_numpy(w)
    torch.testing.assert_close(out, ref_out, **TOL)
    torch.testing.assert_close(w, ref_w, **TOL)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_llama_width_split_into_heads(kind):
    """Un lote N×T×4096 partido en 32 cabezas de 128, como en un modelo tipo Llama."""
    rng = np.random.default_rng(2)
    x = [rng.standard_normal((2, 3, 4096)).astype(np.float32) for _ in range(3)]
    if kind == "torch":
        x = [torch.from_numpy(a) for a in x]
    q, k, v = (split_heads(a, 32) for a in x)  # (2, 32, 3, 128)
    assert tuple(q.shape) == (2, 32, 3, 128)
    out, w = scaled_dot_product_attention(q, k, v, causal=True)
    ref_out, ref_w = _reference(*(np.asarray(a) for a in (q, k, v)), causal=True)
    torch.testing.assert_close(torch.as_tensor(np.asarray(out)), ref_out, **TOL)
    torch.testing.assert_close(torch.as_tensor(np.asarray(w)), ref_w, **TOL)
    assert tuple(merge_heads(out).shape) == (2, 3, 4096)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_fully_masked_row_gives_zeros(kind):
    q, k, v = _qkv((2, 3, 4), (2, 5, 4), 2)
    mask = np.ones((2, 3, 5), dtype=bool)
    mask[1, 2] = False  # la consulta 2 del ejemplo 1 no puede mirar nada
    if kind == "torch":
        q, k, v, mask = (torch.from_numpy(a) for a in (q, k, v, mask))
    out, w = scaled_dot_product_attention(q, k, v, mask)
    out, w = np.asarray(out), np.asarray(w)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(w))
    np.testing.assert_array_equal(out[1, 2], 0.0)
    np.testing.assert_array_equal(w[1, 2], 0.0)
    np.testing.assert_allclose(w[0].sum(-1), 1.0, rtol=1e-6)
    ref_out, _ = _reference(q, k, v, mask)  # PyTorch también devuelve ceros
    torch.testing.assert_close(torch.as_tensor(out), ref_out, **TOL)


def test_scale_argument():
    q, k, v = _qkv((2, 4, 8), (2, 4, 8), 3)
    out, _ = scaled_dot_product_attention(q, k, v, scale=1.0)
    ref = F.scaled_dot_product_attention(*(torch.from_numpy(a) for a in (q, k, v)), scale=1.0)
    torch.testing.assert_close(torch.from_numpy(out), ref, **TOL)


def test_masked_softmax_matches_torch_and_handles_empty_rows():
    x = np.random.default_rng(3).standard_normal((3, 4)) * 30
    x[1, :] = -np.inf
    x[2, 1] = -np.inf
    p = masked_softmax(x)
    np.testing.assert_allclose(p[[0, 2]], torch.softmax(torch.from_numpy(x[[0, 2]]), -1))
    np.testing.assert_array_equal(p[1], 0.0)
    assert p[2, 1] == 0.0


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_masked_softmax_overwrite_reuses_memory(kind):
    x = np.random.default_rng(5).standard_normal((3, 4)).astype(np.float32)
    x[0] = -np.inf
    if kind == "torch":
        x = torch.from_numpy(x)
    expected = np.asarray(masked_softmax(x))
    got = masked_softmax(x, overwrite=True)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(x)[1:].max(-1), 0.0)  # x - max, en el sitio


def test_gradcheck_float64():
    q, k, v = (torch.from_numpy(a).requires_grad_() for a in _qkv(
        (2, 3, 4), (2, 5, 4), 3, dtype=np.float64))
    mask = torch.ones(2, 1, 5, dtype=torch.bool)
    mask[0, :, 3:] = False

    def f(q, k, v):
        return scaled_dot_product_attention(q, k, v, mask, causal=True)

    assert torch.autograd.gradcheck(f, (q, k, v))
    # Con una fila sin claves el gradiente sigue siendo finito (y nulo en esa fila).
    empty = torch.ones(3, 5, dtype=torch.bool)
    empty[1] = False
    out, _ = scaled_dot_product_attention(q, k, v, empty)
    out.sum().backward()
    assert all(torch.isfinite(t.grad).all() for t in (q, k, v))
    torch.testing.assert_close(q.grad[:, 1], torch.zeros(2, 4, dtype=torch.float64))


# --------------------------------------------------------------------------- por bloques

BLOCK_CASES = [
    # (forma de q, forma de k, d_v, forma de la máscara o None, causal, block_size)
    ((2, 3, 9, 8), (2, 3, 9, 8), 8, None, False, 4),  # 9 no es múltiplo de 4
    ((2, 3, 9, 8), (2, 3, 9, 8), 5, None, True, 4),
    ((2, 7, 6), (2, 11, 6), 5, None, True, 3),  # T_q < T_k
    ((2, 11, 6), (2, 7, 6), 5, None, True, 3),  # T_q > T_k: las últimas consultas lo ven todo
    ((2, 3, 10, 8), (2, 3, 10, 8), 8, (2, 1, 1, 10), True, 4),  # relleno y causal
    ((3, 9, 8), (3, 6, 8), 2, (9, 6), False, 2),  # máscara (T_q, T_k) para todo el lote
    ((3, 9, 8), (3, 6, 8), 2, (3, 9, 1), True, 5),  # máscara difundida a lo largo de T_k
    ((9, 8), (9, 8), 4, (9,), True, 2),  # máscara (T_k,) y sin lote
    ((2, 5, 8), (2, 5, 8), 8, None, True, 64),  # un solo bloque, mayor que T
]


@pytest.mark.parametrize("kind", ["numpy", "torch"])
@pytest.mark.parametrize(("sq", "sk", "d_v", "mask_shape", "causal", "block"), BLOCK_CASES)
def test_blockwise_matches_full_and_torch(kind, sq, sk, d_v, mask_shape, causal, block):
    q, k, v = _qkv(sq, sk, d_v, seed=6)
    mask = None
    if mask_shape is not None:
        mask = np.random.default_rng(7).random(mask_shape) < 0.7
        mask[..., 0] = True  # al menos una clave por fila
    ref_out, _ = _reference(q, k, v, mask, causal)
    if kind == "torch":
        q, k, v = (torch.from_numpy(a) for a in (q, k, v))
        mask = None if mask is None else torch.from_numpy(mask)
    full, _ = scaled_dot_product_attention(q, k, v, mask, causal=causal)
    out, w = scaled_dot_product_attention(
        q, k, v, mask, causal=causal, need_weights=False, block_size=block
    )
    assert w is None and type(out) is type(q) and out.dtype == q.dtype
    out, full = torch.as_tensor(np.asarray(out)), torch.as_tensor(np.asarray(full))
    torch.testing.assert_close(out, full, **TOL)
    torch.testing.assert_close(out, ref_out, **TOL)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
@pytest.mark.parametrize("causal", [False, True])
def test_blockwise_fully_masked_rows_give_zeros(kind, causal):
    q, k, v = _qkv((2, 7, 4), (2, 7, 4), 3)
    mask = np.ones((2, 7, 7), dtype=bool)
    mask[0, 5] = False  # la consulta 5 del ejemplo 0 no puede mirar nada
    mask[1, :, :] = False  # el ejemplo 1 entero, sin claves (una frase vacía)
    if kind == "torch":
        q, k, v, mask = (torch.from_numpy(a) for a in (q, k, v, mask))
    out, _ = scaled_dot_product_attention(q, k, v, mask, causal=causal, need_weights=False,
                                          block_size=3)
    out = np.asarray(out)
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[0, 5], 0.0)
    np.testing.assert_array_equal(out[1], 0.0)
    ref_out, _ = _reference(q, k, v, mask, causal)  # PyTorch también devuelve ceros
    torch.testing.assert_close(torch.as_tensor(out), ref_out, **TOL)


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_blockwise_without_queries(kind):
    q, k, v = _qkv((2, 0, 4), (2, 3, 4), 5)
    if kind == "torch":
        q, k, v = (torch.from_numpy(a) for a in (q, k, v))
    out, _ = scaled_dot_product_attention(q, k, v, causal=True, need_weights=False)
    assert tuple(out.shape) == (2, 0, 5)


def test_blockwise_default_block_on_long_sequence():
    """Con el bloque por omisión y T = 300 (no múltiplo de 64), igual que PyTorch."""
    q, k, v = (torch.from_numpy(a) for a in _qkv((1, 2, 300, 16), (1, 2, 300, 16), 16, seed=8))
    out, _ = scaled_dot_product_attention(q, k, v, causal=True, need_weights=False)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(out, ref, **TOL)
    assert DEFAULT_BLOCK_SIZE < 300 and 300 % DEFAULT_BLOCK_SIZE


def test_blockwise_gradcheck_float64():
    q, k, v = (torch.from_numpy(a).requires_grad_() for a in _qkv(
        (2, 5, 4), (2, 6, 4), 3, dtype=np.float64))
    mask = torch.ones(2, 1, 6, dtype=torch.bool)
    mask[0, :, 4:] = False

    def f(q, k, v):
        return scaled_dot_product_attention(q, k, v, mask, causal=True, need_weights=False,
                                            block_size=2)[0]

    assert torch.autograd.gradcheck(f, (q, k, v))
    # Los gradientes coinciden con los del camino con pesos.
    full, _ = scaled_dot_product_attention(q, k, v, mask, causal=True)
    g_out = torch.randn_like(full)
    g_full = torch.autograd.grad(full, (q, k, v), g_out)
    g_block = torch.autograd.grad(f(q, k, v), (q, k, v), g_out)
    for a, b in zip(g_block, g_full, strict=True):
        torch.testing.assert_close(a, b)
    # Una fila sin claves: gradiente finito y nulo en esa consulta.
    empty = torch.ones(5, 6, dtype=torch.bool)
    empty[3] = False
    out, _ = scaled_dot_product_attention(q, k, v, empty, need_weights=False, block_size=2)
    out.sum().backward()
    assert all(torch.isfinite(t.grad).all() for t in (q, k, v))
    torch.testing.assert_close(q.grad[:, 3], torch.zeros(2, 4, dtype=torch.float64))


# --------------------------------------------------------------------------- cabezas y módulos


def test_split_merge_heads():
    x = torch.randn(2, 5, 12)
    heads = split_heads(x, 3)
    assert heads.shape == (2, 3, 5, 4)
    assert torch.equal(heads, x.view(2, 5, 3, 4).transpose(1, 2))
    assert torch.equal(merge_heads(heads), x)
    assert isinstance(split_heads(x.numpy(), 3), np.ndarray)


@pytest.mark.parametrize("bias", [True, False])
def test_multihead_matches_torch(bias):
    torch.manual_seed(0)
    N, T, d, h = 3, 6, 16, 4
    ref = torch.nn.MultiheadAttention(d, h, bias=bias, batch_first=True)
    mha = MultiHeadAttention.from_torch(ref)
    x = torch.randn(N, T, d)
    lengths = torch.tensor([6, 4, 1])
    keep = padding_mask(lengths, T)  # (N, 1, T), True = token real
    out, w = mha(x, mask=keep, causal=True)
    ref_out, ref_w = ref(
        x, x, x, key_padding_mask=~keep[:, 0],  # PyTorch aquí: True = ignorar
        attn_mask=~causal_mask(T, like=x), average_attn_weights=False,
    )
    assert out.shape == (N, T, d) and w.shape == (N, h, T, T)
    torch.testing.assert_close(out, ref_out, **TOL)
    torch.testing.assert_close(w, ref_w, **TOL)
    fast, none = mha(x, mask=keep, causal=True, need_weights=False)
    assert none is None
    torch.testing.assert_close(fast, ref_out, **TOL)
    fast, _ = mha(x, causal=True, need_weights=False)
    torch.testing.assert_close(fast, mha(x, causal=True)[0], **TOL)


def test_multihead_without_weights_is_ours(monkeypatch):
    """need_weights=False usa el camino por bloques de libroia, no el núcleo de PyTorch."""
    torch.manual_seed(3)
    mha = MultiHeadAttention(16, 4)
    x = torch.randn(2, 70, 16)  # 70 posiciones: más de un bloque
    keep = padding_mask(torch.tensor([70, 41]), 70)
    expected = [mha(x, causal=True)[0], mha(x, mask=keep)[0], mha(x, keep, causal=True)[0]]

    def forbidden(*args, **kwargs):
        raise AssertionError("no se debe llamar a F.scaled_dot_product_attention")

    monkeypatch.setattr(F, "scaled_dot_product_attention", forbidden)
    got = [mha(x, causal=True, need_weights=False), mha(x, mask=keep, need_weights=False),
           mha(x, keep, causal=True, need_weights=False)]
    for (out, weights), ref in zip(got, expected, strict=True):
        assert weights is None
        torch.testing.assert_close(out, ref, **TOL)


def test_multihead_cache_matches_full_pass():
    torch.manual_seed(1)
    mha = MultiHeadAttention(8, 2)
    x = torch.randn(2, 5, 8)
    full, _ = mha(x, causal=True)
    cache = KVCache()
    first, _ = mha(x[:, :3], causal=True, kv_cache=cache)  # tres tokens de una vez
    steps = [mha(x[:, t : t + 1], causal=True, kv_cache=cache)[0] for t in (3, 4)]
    assert cache.length == 5
    torch.testing.assert_close(torch.cat([first, *steps], dim=1), full, **TOL)
    fast_cache = KVCache()  # lo mismo sin pesos (camino por bloques)
    fast = [mha(x[:, :2], causal=True, kv_cache=fast_cache, need_weights=False)[0]]
    fast += [mha(x[:, t : t + 1], causal=True, kv_cache=fast_cache, need_weights=False)[0]
             for t in (2, 3, 4)]
    torch.testing.assert_close(torch.cat(fast, dim=1), full, **TOL)


# --------------------------------------------------------------------------- propiedades

shapes = st.tuples(
    st.integers(1, 3), st.integers(1, 6), st.integers(1, 6), st.integers(1, 5), st.integers(0, 99)
)


@settings(max_examples=40, deadline=None)
@given(shapes, st.booleans())
def test_rows_sum_to_one(shape, causal):
    N, T_q, T_k, d, seed = shape
    q, k, v = _qkv((N, T_q, d), (N, T_k, d), 2, seed, np.float64)
    _, w = scaled_dot_product_attention(q, k, v, causal=causal)
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-12)
    assert np.all(w >= 0)


@settings(max_examples=40, deadline=None)
@given(shapes, st.data())
def test_permuting_keys_and_values_together(shape, data):
    N, T_q, T_k, d, seed = shape
    q, k, v = _qkv((N, T_q, d), (N, T_k, d), 3, seed, np.float64)
    perm = np.array(data.draw(st.permutations(range(T_k))))
    out, w = scaled_dot_product_attention(q, k, v)
    out_p, w_p = scaled_dot_product_attention(q, k[:, perm], v[:, perm])
    np.testing.assert_allclose(out_p, out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w_p, w[..., perm], rtol=1e-10, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(shapes, st.integers(0, 5))
def test_causal_ignores_the_future(shape, cut):
    N, T, _, d, seed = shape
    cut = min(cut, T - 1)
    q, k, v = _qkv((N, T, d), (N, T, d), 2, seed, np.float64)
    q2, k2, v2 = q.copy(), k.copy(), v.copy()
    for a in (q2, k2, v2):  # cambiar todo lo que viene después de `cut`
        a[:, cut + 1 :] = np.random.default_rng(seed + 1).standard_normal(a[:, cut + 1 :].shape)
    out, _ = scaled_dot_product_attention(q, k, v, causal=True)
    out2, _ = scaled_dot_product_attention(q2, k2, v2, causal=True)
    np.testing.assert_array_equal(out2[:, : cut + 1], out[:, : cut + 1])


@settings(max_examples=40, deadline=None)
@given(shapes, st.integers(1, 8), st.integers(1, 8), st.booleans(), st.booleans())
def test_block_size_does_not_change_the_result(shape, block_a, block_b, causal, masked):
    N, T_q, T_k, d, seed = shape
    q, k, v = _qkv((N, T_q, d), (N, T_k, d), 3, seed, np.float64)
    mask = np.random.default_rng(seed).random((N, 1, T_k)) < 0.6 if masked else None
    full, _ = scaled_dot_product_attention(q, k, v, mask, causal=causal)
    outs = [scaled_dot_product_attention(q, k, v, mask, causal=causal, need_weights=False,
                                         block_size=b)[0] for b in (block_a, block_b)]
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(outs[0], full, rtol=1e-10, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(shapes, st.booleans(), st.booleans(), st.booleans())
def test_inputs_are_not_modified(shape, as_torch, causal, need_weights):
    N, T_q, T_k, d, seed = shape
    arrays = list(_qkv((N, T_q, d), (N, T_k, d), 2, seed))
    arrays.append(np.random.default_rng(seed).random((N, 1, T_k)) < 0.5)
    if as_torch:
        arrays = [torch.from_numpy(a) for a in arrays]
    copies = [a.copy() if isinstance(a, np.ndarray) else a.clone() for a in arrays]
    scaled_dot_product_attention(*arrays, causal=causal, need_weights=need_weights)
    for a, c in zip(arrays, copies, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(c))


# --------------------------------------------------------------------------- errores

GOOD = _qkv((2, 3, 4), (2, 5, 4), 6)


def _with(**changes):
    args = dict(zip("qkv", GOOD, strict=True))
    args.update(changes)
    return args


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (_with(k=np.zeros((2, 5, 3), np.float32)), ValueError, r"`q` y `k`.*d_k"),
        (_with(v=np.zeros((2, 4, 6), np.float32)), ValueError, r"`k` y `v`.*T_k"),
        (_with(k=np.zeros((2, 0, 4), np.float32), v=np.zeros((2, 0, 6), np.float32)),
         ValueError, "`k`.*al menos una clave"),
        (_with(q=np.zeros(4, np.float32)), ValueError, r"`q`.*\(\.\.\., T_q, d_k\)"),
        (_with(k=np.zeros((3, 5, 4), np.float32), v=np.zeros((3, 5, 6), np.float32)),
         ValueError, r"lote.*`q` y `k` no.*\(3, 5, 4\)"),
        (_with(v=np.zeros((3, 5, 6), np.float32)), ValueError,
         r"lote.*`v` tiene forma \(3, 5, 6\)"),
        (_with(mask=np.ones((2, 3, 4), bool)), ValueError, r"`mask`.*\(2, 3, 5\)"),
        (_with(mask=np.ones((3, 1, 5), bool)), ValueError, r"`mask`.*difundirse"),
        (_with(mask=np.ones((2, 3, 5), np.float32)), TypeError, "`mask`.*booleana"),
        (_with(mask=torch.ones(2, 3, 5, dtype=torch.bool)), TypeError, "`mask`"),
        (_with(q=np.full((2, 3, 4), np.nan, np.float32)), ValueError, r"`q`.*no finitos"),
        (_with(v=np.full((2, 5, 6), np.inf, np.float32)), ValueError, r"`v`.*no finitos"),
        (_with(q=np.full((2, 3, 4), 3e38, np.float32)), ValueError, r"desbordar.*`q` o `k`"),
        (_with(q=np.zeros((2, 3, 4), np.int64)), TypeError, "`q`.*coma flotante"),
        (_with(k=np.zeros((2, 5, 4), np.float64)), TypeError, "mismo tipo"),
        (_with(k=torch.zeros(2, 5, 4)), TypeError, "mezclar"),
        (_with(q="hola"), TypeError, "`q`"),
        (_with(scale=math.inf), ValueError, "`scale`"),
    ],
)
@pytest.mark.parametrize("need_weights", [True, False])
def test_bad_input(args, error, match, need_weights):
    with pytest.raises(error, match=match):
        scaled_dot_product_attention(**args, need_weights=need_weights)


@pytest.mark.parametrize("need_weights", [True, False])
def test_overflowing_scores_raise(need_weights):
    q = torch.full((2, 3, 4), 2e19)  # finitos, pero q·k = 4 · 4e38 / 2 > 3.4e38
    with pytest.raises(ValueError, match=r"desbordar.*`q` o `k`"):
        scaled_dot_product_attention(q, q, q, need_weights=need_weights)


def test_bad_block_size():
    q, k, v = GOOD
    with pytest.raises(ValueError, match=r"`block_size`.*≥ 1.*0"):
        scaled_dot_product_attention(q, k, v, need_weights=False, block_size=0)
    with pytest.raises(TypeError, match=r"`block_size`.*entero"):
        scaled_dot_product_attention(q, k, v, need_weights=False, block_size=2.5)
    with pytest.raises(ValueError, match=r"`block_size`.*need_weights=False"):
        scaled_dot_product_attention(q, k, v, block_size=4)


def test_bad_heads_and_modules():
    with pytest.raises(ValueError, match=r"`x`.*divisible por n_heads = 5"):
        split_heads(np.zeros((2, 3, 12)), 5)
    with pytest.raises(ValueError, match=r"`x`.*\(N, T, d\)"):
        split_heads(np.zeros((3, 12)), 3)
    with pytest.raises(ValueError, match=r"`x`.*\(N, h, T, d/h\)"):
        merge_heads(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"`d_model`.*`n_heads`"):
        MultiHeadAttention(10, 3)
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"`x`.*\(N, T, 8\)"):
        mha(torch.zeros(2, 3, 6))
    with pytest.raises(TypeError, match="`x`"):
        mha(np.zeros((2, 3, 8), np.float32))
    with pytest.raises(ValueError, match="`mask`"):
        mha(torch.zeros(2, 3, 8), mask=torch.ones(2, 1, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="`module`"):
        MultiHeadAttention.from_torch(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="`module`"):
        MultiHeadAttention.from_torch(torch.nn.MultiheadAttention(4, 2, kdim=3, vdim=3))


# --------------------------------------------------------------------------- figuras


def test_letter_features_and_figures():
    x = letter_features(["gato", "Ñandú"])
    assert x.shape == (1, 2, 28)
    np.testing.assert_allclose(x[0, 0][x[0, 0] > 0], 1 / math.sqrt(5), rtol=1e-6)
    torch.testing.assert_close(x.norm(dim=-1), torch.ones(1, 2))
    with pytest.raises(TypeError, match="`words`"):
        letter_features("gato")
    w = torch.softmax(torch.randn(3, 2, 2), -1)
    fig = attention_heatmap(w, ["la", "casa"], labels=["a", "b", "c"])
    assert len(fig.data) == 3 and fig.layout.meta["alt"]
    with pytest.raises(ValueError, match="`weights`"):
        attention_heatmap(w, ["una"])
    with pytest.raises(ValueError, match="`labels`"):
        attention_heatmap(w, ["la", "casa"], labels=["a"])
    assert len(saturation_figure([4, 16], {"a": [0.3, 0.4], "b": [0.5, 0.9]}).data) == 2
    assert len(cost_figure([64, 128], [0.001, 0.004], [0.1, 0.4]).data) == 4


# --------------------------------------------------------------------------- media precisión


@pytest.mark.parametrize("kind", ["numpy", "torch"])
@pytest.mark.parametrize("need_weights", [True, False])
def test_float16_input_whose_sum_overflows_is_accepted(kind, need_weights):
    """70 000 unos en float16 suman más que 65 504, pero la atención es finita (vale 1)."""
    q, k, v = np.ones((1, 1)), np.ones((70_000, 1)), np.ones((70_000, 1))
    args = [a.astype(np.float16) for a in (q, k, v)]
    if kind == "torch":
        args = [torch.from_numpy(a) for a in args]
    out, w = scaled_dot_product_attention(*args, need_weights=need_weights)
    assert out.dtype == args[0].dtype and (w is None or w.dtype == args[0].dtype)
    np.testing.assert_allclose(np.asarray(out, dtype=np.float32), [[1.0]], rtol=5e-3)
    if w is not None:
        np.testing.assert_allclose(np.asarray(w, dtype=np.float32).sum(), 1.0, rtol=5e-3)


def test_float16_matches_float32_reference():
    q, k, v = _qkv((2, 3, 7, 8), (2, 3, 9, 8), 4, seed=11)
    half = [torch.from_numpy(a).half() for a in (q, k, v)]
    ref, _ = _reference(*(a.float() for a in half), causal=True)
    for need_weights in (True, False):
        out, _ = scaled_dot_product_attention(*half, causal=True, need_weights=need_weights)
        assert out.dtype == torch.float16
        torch.testing.assert_close(out.float(), ref, rtol=2e-3, atol=2e-3)


def test_non_finite_half_input_is_still_rejected():
    q = torch.ones(2, 3, dtype=torch.float16)
    bad = q.clone()
    bad[1, 2] = math.inf
    with pytest.raises(ValueError, match=r"`k`.*no finitos"):
        scaled_dot_product_attention(q, bad, q)


# --------------------------------------------------------------------------- softmax con máscara


def test_masked_softmax_is_the_softmax_of_what_the_mask_allows():
    x = torch.randn(3, 5, generator=torch.Generator().manual_seed(0))
    mask = torch.rand(3, 5, generator=torch.Generator().manual_seed(1)) < 0.6
    mask[1] = False  # una fila sin nada permitido
    got = masked_softmax(x, mask=mask)
    ref = torch.softmax(x.masked_fill(~mask, -math.inf), dim=-1).nan_to_num(0.0)
    torch.testing.assert_close(got, ref)
    assert torch.equal(got[1], torch.zeros(5))
    col = masked_softmax(x.numpy(), axis=0, mask=mask.numpy()[:, :1])  # máscara difundida
    ref0 = torch.softmax(x.masked_fill(~mask[:, :1], -math.inf), dim=0).nan_to_num(0.0)
    np.testing.assert_allclose(col, ref0.numpy(), rtol=1e-6)


def test_masked_softmax_rejects_bad_axis_and_mask():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"`axis`.*entre -2 y 1.*2"):
        masked_softmax(x, axis=2)
    with pytest.raises(TypeError, match="`axis`"):
        masked_softmax(x, axis=1.0)
    with pytest.raises(ValueError, match=r"`mask`.*\(2, 3\)"):
        masked_softmax(x, mask=np.ones((3, 3), bool))
    with pytest.raises(ValueError, match=r"`mask`.*\(2, 3\)"):
        masked_softmax(x, mask=np.ones((4, 2, 3), bool))  # difundiría, pero agrandando `x`
    with pytest.raises(TypeError, match=r"`mask`.*booleana"):
        masked_softmax(x, mask=np.ones((2, 3)))
    with pytest.raises(TypeError, match="mezclar"):
        masked_softmax(x, mask=torch.ones(2, 3, dtype=torch.bool))


# --------------------------------------------------------------------------- caché KV


def test_kv_cache_stores_each_layer_apart():
    cache = KVCache(3)
    assert cache.length == 0 and cache.batch_size is None
    k = torch.randn(2, 4, 3, 5)
    k_all, v_all = cache.update(1, k, -k)
    assert torch.equal(k_all, k) and torch.equal(v_all, -k)
    assert [cache.layer_length(i) for i in range(3)] == [0, 3, 0]
    k_all, _ = cache.update(1, k[:, :, :1], k[:, :, :1])
    assert tuple(k_all.shape) == (2, 4, 4, 5) and cache.layer_length(1) == 4
    assert cache.batch_size == 2 and len(cache.keys) == len(cache.values) == 3
    assert "n_layers=3" in repr(cache)


def test_kv_cache_rejects_another_batch_layer_or_shape():
    cache = KVCache(2)
    cache.update(0, torch.zeros(2, 4, 3, 5), torch.zeros(2, 4, 3, 5))
    with pytest.raises(ValueError, match=r"`kv_cache`.*\(2, 4, 3, 5\).*\(3, 4, 1, 5\)"):
        cache.update(0, torch.zeros(3, 4, 1, 5), torch.zeros(3, 4, 1, 5))
    with pytest.raises(ValueError, match="`kv_cache`"):
        cache.update(0, torch.zeros(2, 4, 1, 6), torch.zeros(2, 4, 1, 6))
    with pytest.raises(ValueError, match=r"`layer`.*≤ 1.*2"):
        cache.update(2, torch.zeros(2, 4, 1, 5), torch.zeros(2, 4, 1, 5))
    with pytest.raises(ValueError, match=r"`k` y `v`.*misma forma"):
        cache.update(1, torch.zeros(2, 4, 1, 5), torch.zeros(2, 4, 2, 5))
    with pytest.raises(ValueError, match=r"`k`.*\(N, h, T, d/h\)"):
        cache.update(1, torch.zeros(4, 1, 5), torch.zeros(4, 1, 5))
    with pytest.raises(ValueError, match="`n_layers`"):
        KVCache(0)
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(TypeError, match=r"`kv_cache`.*KVCache"):
        mha(torch.zeros(1, 2, 8), causal=True, kv_cache=[])
    with pytest.raises(ValueError, match="`kv_cache`"):  # otro lote que el guardado
        mha(torch.zeros(3, 1, 8), causal=True, kv_cache=cache)


def test_multihead_cache_layers_are_independent():
    torch.manual_seed(4)
    a, b = MultiHeadAttention(8, 2), MultiHeadAttention(8, 2)
    x = torch.randn(1, 4, 8)
    cache = KVCache(2)
    for t in range(4):
        out_a, _ = a(x[:, t : t + 1], causal=True, kv_cache=cache, layer=0)
        out_b, _ = b(x[:, t : t + 1], causal=True, kv_cache=cache, layer=1)
    torch.testing.assert_close(out_a, a(x, causal=True)[0][:, -1:], **TOL)
    torch.testing.assert_close(out_b, b(x, causal=True)[0][:, -1:], **TOL)


# --------------------------------------------------------------------------- máscaras del módulo


def test_multihead_rejects_ambiguous_masks():
    torch.manual_seed(5)
    mha = MultiHeadAttention(8, 2)
    x = torch.randn(4, 4, 8)  # N = T = 4: una máscara (N, T_k) se confundiría con (T, T_k)
    padding = torch.tensor([4, 3, 2, 1])[:, None] > torch.arange(4)  # (N, T_k)
    with pytest.raises(ValueError, match=r"`mask`.*tres dimensiones.*\(4, 4\)"):
        mha(x, mask=padding)
    with pytest.raises(ValueError, match=r"`mask`.*tres dimensiones.*\(4,\)"):
        mha(x, mask=torch.ones(4, dtype=torch.bool))  # (T_k,)
    with pytest.raises(ValueError, match="`mask`"):
        mha(x, mask=padding[:, None, None, :])  # (N, 1, 1, T_k): cuatro dimensiones
    with pytest.raises(ValueError, match=r"`mask`.*tres dimensiones.*list"):
        mha(x, mask=[[True]])
    # La forma sin ambigüedad funciona y es la máscara de relleno por secuencia.
    out, w = mha(x, mask=padding[:, None, :])
    assert torch.all(w[1, :, :, 3:] == 0) and torch.all(w[3, :, :, 1:] == 0)
    torch.testing.assert_close(out, mha(x, mask=padding_mask(torch.tensor([4, 3, 2, 1]), 4))[0])


# --------------------------------------------------------------------------- RoPE en el módulo


def test_multihead_rope_rotates_queries_and_keys_of_each_head():
    from libroia.positions import apply_rotary, rotary_angles

    torch.manual_seed(6)
    N, T, d, h = 2, 5, 12, 3
    mha = MultiHeadAttention(d, h)
    x = torch.randn(N, T, d)
    cos, sin = (t.float() for t in rotary_angles(torch.arange(T), d // h))
    out, _ = mha(x, causal=True, rope=(cos, sin))
    q = apply_rotary(split_heads(mha.q_proj(x), h))  # (N, h, T, d/h)
    k = apply_rotary(split_heads(mha.k_proj(x), h))
    v = split_heads(mha.v_proj(x), h)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(out, mha.out_proj(merge_heads(ref)), **TOL)
    # Con caché: las claves se guardan ya giradas, cada paso con los ángulos de su posición.
    cache = KVCache()
    steps = [mha(x[:, t : t + 1], causal=True, kv_cache=cache, rope=(cos[t : t + 1],
                                                                     sin[t : t + 1]))[0]
             for t in range(T)]
    torch.testing.assert_close(torch.cat(steps, dim=1), out, **TOL)
    with pytest.raises(ValueError, match=r"`rope`.*\(5, d_h/2\).*\(4, 2\)"):
        mha(x, rope=(cos[:4], sin[:4]))
    with pytest.raises(TypeError, match="`rope`"):
        mha(x, rope=cos)
