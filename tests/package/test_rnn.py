"""Pruebas de libroia.rnn: la RNN de NumPy contra PyTorch, BPTT contra autograd,
diagnósticos del gradiente y recorte contra ``torch.nn.utils.clip_grad_norm_``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from libroia.rnn import (
    clip_grad_norm,
    gradient_norms_by_distance,
    hidden_grads,
    jacobian_product_norms,
    recurrent_matrix,
    rnn_backward,
    rnn_forward,
    spectral_radius,
)

NAMES = ("x", "h0", "W_xh", "W_hh", "b")


def make_args(N, T, d_in, d_h, *, seed=0, radius=0.9, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, T, d_in))
    h0 = 0.5 * rng.standard_normal((N, d_h))
    W_xh = rng.standard_normal((d_in, d_h)) / np.sqrt(d_in)
    W_hh = recurrent_matrix(d_h, radius, rng=rng)
    b = 0.1 * rng.standard_normal(d_h)
    return tuple(a.astype(dtype) for a in (x, h0, W_xh, W_hh, b))


def torch_rnn(x, h0, W_xh, W_hh, b):
    """La misma recurrencia, escrita con operaciones de PyTorch (para autograd)."""
    h, out = h0, []
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t] @ W_xh + h @ W_hh + b)
        out.append(h)
    return torch.stack(out, dim=1)


def relative_error(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


# --- hacia delante ---------------------------------------------------------------------------


def test_forward_hand_example():
    H = rnn_forward([[[0.0], [1.0]]], [[0.0]], [[1.0]], [[0.0]], [0.0])
    np.testing.assert_allclose(H, [[[0.0], [np.tanh(1.0)]]])


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (3, 7, 4, 5), (2, 50, 3, 16)])
def test_forward_matches_torch_rnn(shape):
    args = make_args(*shape)
    H = rnn_forward(*args)
    # nn.RNN usa h W_hhᵀ y dos sesgos: se cargan nuestros pesos transpuestos.
    _, _, d_in, d_h = shape
    layer = torch.nn.RNN(d_in, d_h, batch_first=True, dtype=torch.float64)
    x, h0, W_xh, W_hh, b = (torch.from_numpy(a) for a in args)
    with torch.no_grad():
        layer.weight_ih_l0.copy_(W_xh.T)
        layer.weight_hh_l0.copy_(W_hh.T)
        layer.bias_ih_l0.copy_(b)
        layer.bias_hh_l0.zero_()
        H_torch, h_last = layer(x, h0[None])
    torch.testing.assert_close(torch.from_numpy(H), H_torch, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(torch.from_numpy(H[:, -1]), h_last[0], rtol=1e-12, atol=1e-12)


def test_forward_keeps_float32():
    args = make_args(2, 4, 3, 5, dtype=np.float32)
    assert rnn_forward(*args).dtype == np.float32


# --- hacia atrás: BPTT contra autograd ------------------------------------------------------


@pytest.mark.parametrize(
    "shape, radius",
    [((1, 1, 1, 1), 0.9), ((3, 7, 4, 5), 0.9), ((4, 20, 2, 8), 1.5), ((2, 200, 3, 6), 0.95)],
)
def test_backward_matches_autograd(shape, radius):
    args = make_args(*shape, radius=radius, seed=sum(shape))
    H = rnn_forward(*args)
    dH = np.random.default_rng(1).standard_normal(H.shape)
    grads = rnn_backward(*args, H, dH)
    assert set(grads) == set(NAMES)
    tensors = [torch.tensor(a, requires_grad=True) for a in args]
    H_torch = torch_rnn(*tensors)
    np.testing.assert_allclose(H, H_torch.detach().numpy(), rtol=1e-12, atol=1e-13)
    torch.autograd.backward(H_torch, torch.from_numpy(dH))
    for name, tensor in zip(NAMES, tensors, strict=True):
        assert grads[name].shape == tensor.shape
        assert relative_error(grads[name], tensor.grad.numpy()) <= 1e-8, name


def test_backward_loss_on_last_state_only_long_sequence():
    """El caso del capítulo: la pérdida solo mira h_T y T es largo."""
    args = make_args(3, 200, 2, 8, radius=1.0, seed=5)
    H = rnn_forward(*args)
    dH = np.zeros_like(H)
    dH[:, -1] = 1.0
    grads = rnn_backward(*args, H, dH)
    tensors = [torch.tensor(a, requires_grad=True) for a in args]
    torch_rnn(*tensors)[:, -1].sum().backward()
    for name, tensor in zip(NAMES, tensors, strict=True):
        assert relative_error(grads[name], tensor.grad.numpy()) <= 1e-8, name


def test_backward_finite_differences():
    args = make_args(2, 5, 3, 4, seed=3, radius=1.2)
    rng = np.random.default_rng(7)
    H = rnn_forward(*args)
    dH = rng.standard_normal(H.shape)
    grads = rnn_backward(*args, H, dH)
    eps = 1e-6
    for i, name in enumerate(NAMES):
        direction = rng.standard_normal(args[i].shape)
        plus, minus = list(args), list(args)
        plus[i] = args[i] + eps * direction
        minus[i] = args[i] - eps * direction
        numeric = np.sum((rnn_forward(*plus) - rnn_forward(*minus)) * dH) / (2 * eps)
        analytic = np.sum(grads[name] * direction)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, err_msg=name)


def test_hidden_grads_total_gradient():
    args = make_args(2, 6, 3, 4, seed=2)
    H = rnn_forward(*args)
    dH = np.random.default_rng(0).standard_normal(H.shape)
    G, g0 = hidden_grads(H, args[3], dH)
    grads = rnn_backward(*args, H, dH)
    np.testing.assert_allclose(g0, grads["h0"])
    np.testing.assert_allclose(G[:, -1], dH[:, -1])  # el último estado solo recibe dH_T


# --- diagnósticos ---------------------------------------------------------------------------


def test_gradient_norms_by_distance_match_autograd():
    args = make_args(3, 12, 2, 5, seed=4)
    H = rnn_forward(*args)
    g_last = np.random.default_rng(0).standard_normal((3, 5))
    norms = gradient_norms_by_distance(H, args[3], g_last)
    assert norms.shape == (3, 13)
    x, h0, W_xh, W_hh, b = (torch.tensor(a) for a in args)
    h0.requires_grad_(True)
    states = [h0]
    for t in range(12):
        states[-1].retain_grad()
        states.append(torch.tanh(x[:, t] @ W_xh + states[-1] @ W_hh + b))
    states[-1].retain_grad()
    (states[-1] * torch.from_numpy(g_last)).sum().backward()
    expected = np.stack([s.grad.norm(dim=-1).numpy() for s in states[::-1]], axis=1)
    np.testing.assert_allclose(norms, expected, rtol=1e-10)


def test_jacobian_product_norms_match_autograd_jacobian():
    args = make_args(2, 6, 3, 4, seed=8, radius=1.3)
    H = rnn_forward(*args)
    norms = jacobian_product_norms(H, args[3])
    x, _, W_xh, W_hh, b = (torch.tensor(a) for a in args)
    for n in range(2):
        for k in range(7):  # ∂h_T/∂h_{T-k}, tomando h_{T-k} como entrada
            start = H[n, 5 - k] if k < 6 else args[1][n]

            def tail(h, n=n, k=k):
                for t in range(6 - k, 6):
                    h = torch.tanh(x[n, t] @ W_xh + h @ W_hh + b)
                return h

            J = torch.autograd.functional.jacobian(tail, torch.tensor(start))
            np.testing.assert_allclose(norms[n, k], torch.linalg.matrix_norm(J, 2), rtol=1e-10)


def test_spectral_radius_hand_example():
    assert spectral_radius([[0.0, 2.0], [0.5, 0.0]]) == pytest.approx(1.0)


@pytest.mark.parametrize("kind", ["gaussian", "orthogonal"])
def test_recurrent_matrix_has_requested_radius(kind):
    W = recurrent_matrix(16, 0.7, kind=kind, rng=0)
    assert W.shape == (16, 16)
    assert spectral_radius(W) == pytest.approx(0.7)
    if kind == "orthogonal":
        assert np.linalg.norm(W, 2) == pytest.approx(0.7)


@settings(max_examples=30, deadline=None)
@given(
    radius=st.floats(0.3, 0.95),
    seed=st.integers(0, 10_000),
    kind=st.sampled_from(["orthogonal", "gaussian"]),
)
def test_vanishing_is_geometric_below_radius_one(radius, seed, kind):
    """Con ρ < 1 el gradiente que llega a t - k se apaga geométricamente en k."""
    d_h, T = 8, 60
    args = list(make_args(4, T, 2, d_h, seed=seed))
    args[3] = recurrent_matrix(d_h, radius, kind=kind, rng=seed)
    H = rnn_forward(*args)
    norms = gradient_norms_by_distance(H, args[3])  # (N, T + 1), norms[:, 0] = 1
    k = np.arange(T + 1)
    jac = jacobian_product_norms(H, args[3])
    assert np.all(norms <= jac * (1 + 1e-9))  # ‖gᵀP‖ ≤ ‖g‖ ‖P‖ con ‖g‖ = 1
    if kind == "orthogonal":  # aquí ‖W_hh‖₂ = ρ y |tanh'| ≤ 1 dan la cota exacta ρᵏ
        assert np.all(jac <= radius**k * (1 + 1e-9))
    else:  # para una gaussiana, ‖Wᵏ‖ ~ ρᵏ solo a la larga: la tasa media tiende a ρ
        rate = (jac[:, -1] / jac[:, T // 2]) ** (1 / (T - T // 2))
        assert np.all(rate <= radius * 1.15)


@settings(max_examples=30, deadline=None)
@given(radius=st.floats(1.2, 3.0), seed=st.integers(0, 10_000))
def test_exploding_with_large_weights(radius, seed):
    """En el régimen lineal (estados en 0) el gradiente crece exactamente como ρᵏ."""
    d_h, T = 8, 30
    W_hh = recurrent_matrix(d_h, radius, kind="orthogonal", rng=seed)
    zeros = np.zeros
    H = rnn_forward(zeros((2, T, 1)), zeros((2, d_h)), zeros((1, d_h)), W_hh, zeros(d_h))
    norms = gradient_norms_by_distance(H, W_hh)
    np.testing.assert_allclose(norms, np.broadcast_to(radius ** np.arange(T + 1), norms.shape),
                               rtol=1e-9)
    assert np.all(np.diff(norms, axis=1) > 0)


def test_saturation_tames_explosion():
    """Con pesos grandes y entradas grandes, tanh satura: la cota ‖W_hh‖₂ᵏ es holgada."""
    args = list(make_args(4, 40, 2, 8, seed=1))
    args[2] = 5.0 * args[2]
    args[3] = recurrent_matrix(8, 3.0, kind="orthogonal", rng=1)
    H = rnn_forward(*args)
    norms = gradient_norms_by_distance(H, args[3])
    assert np.all(norms[:, -1] < 3.0**40 * 1e-6)


# --- recorte del gradiente ------------------------------------------------------------------


def torch_clip(arrays, max_norm):
    params = [torch.zeros(a.shape, dtype=torch.float64, requires_grad=True) for a in arrays]
    for p, a in zip(params, arrays, strict=True):
        p.grad = torch.tensor(a)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return [p.grad.numpy() for p in params], float(total)


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    scale=st.floats(1e-3, 1e3),
    max_norm=st.floats(0.01, 100.0),
)
def test_clip_matches_torch(seed, scale, max_norm):
    rng = np.random.default_rng(seed)
    arrays = [scale * rng.standard_normal(s) for s in [(3, 4), (4,), (2, 2, 2)]]
    clipped, total = clip_grad_norm(arrays, max_norm)
    expected, expected_total = torch_clip(arrays, max_norm)
    assert total == pytest.approx(expected_total, rel=1e-12)
    for c, e in zip(clipped, expected, strict=True):
        np.testing.assert_allclose(c, e, rtol=1e-12, atol=0)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(1e-3, 1e3), max_norm=st.floats(0.01, 100.0))
def test_clip_bounds_norm_and_keeps_direction(seed, scale, max_norm):
    rng = np.random.default_rng(seed)
    grads = {"a": scale * rng.standard_normal((5, 3)), "b": scale * rng.standard_normal(7)}
    before = {k: v.copy() for k, v in grads.items()}
    clipped, total = clip_grad_norm(grads, max_norm)
    flat = np.concatenate([clipped[k].ravel() for k in grads])
    orig = np.concatenate([grads[k].ravel() for k in grads])
    assert total == pytest.approx(np.linalg.norm(orig))
    assert np.linalg.norm(flat) <= max_norm * (1 + 1e-9)
    if total <= max_norm:  # por debajo del umbral apenas cambia (solo el 1e-6 de PyTorch)
        np.testing.assert_allclose(flat, orig, rtol=1e-5)
    cosine = flat @ orig / (np.linalg.norm(flat) * np.linalg.norm(orig))
    assert cosine == pytest.approx(1.0, abs=1e-12)
    for k in grads:  # la entrada no se toca
        np.testing.assert_array_equal(grads[k], before[k])


def test_clip_hand_example_and_containers():
    clipped, total = clip_grad_norm([np.array([3.0, 4.0])], 1.0)
    assert total == 5.0
    np.testing.assert_allclose(clipped[0], [0.6, 0.8], rtol=1e-6)
    as_tuple, _ = clip_grad_norm((np.array([3.0, 4.0]),), 1.0)
    assert isinstance(as_tuple, tuple)


def test_clip_float32_matches_torch():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((4, 4)).astype(np.float32) * 10 for _ in range(3)]
    clipped, total = clip_grad_norm(arrays, 1.0)
    params = [torch.zeros(4, 4, requires_grad=True) for _ in arrays]
    for p, a in zip(params, arrays, strict=True):
        p.grad = torch.tensor(a)
    expected_total = float(torch.nn.utils.clip_grad_norm_(params, 1.0))
    assert total == pytest.approx(expected_total, rel=1e-6)
    for c, p in zip(clipped, params, strict=True):
        assert c.dtype == np.float32
        np.testing.assert_allclose(c, p.grad.numpy(), rtol=1e-6)


def test_clip_non_finite_like_torch():
    """Recortar no arregla un gradiente que ya se desbordó: PyTorch da nan y aquí también."""
    arrays = [np.array([np.inf, 1.0]), np.array([2.0])]
    clipped, total = clip_grad_norm(arrays, 1.0)
    expected, expected_total = torch_clip(arrays, 1.0)
    assert total == expected_total == np.inf
    for c, e in zip(clipped, expected, strict=True):
        np.testing.assert_array_equal(c, e)  # assert_array_equal trata nan == nan


# --- entradas incorrectas -------------------------------------------------------------------


def test_bad_shapes_name_the_argument():
    x, h0, W_xh, W_hh, b = make_args(2, 3, 4, 5)
    with pytest.raises(ValueError, match=r"`x` debe tener forma \(N, T, d_in\)"):
        rnn_forward(x[0], h0, W_xh, W_hh, b)
    with pytest.raises(ValueError, match=r"`W_xh`.*d_in = 4.*\(3, 5\)"):
        rnn_forward(x, h0, W_xh[:3], W_hh, b)
    with pytest.raises(ValueError, match=r"`W_hh`.*\(5, 4\)"):
        rnn_forward(x, h0, W_xh, W_hh[:, :4], b)
    with pytest.raises(ValueError, match=r"`h0`.*\(2, 5\).*\(3, 5\)"):
        rnn_forward(x, np.zeros((3, 5)), W_xh, W_hh, b)
    with pytest.raises(ValueError, match=r"`b`.*\(5,\).*\(4,\)"):
        rnn_forward(x, h0, W_xh, W_hh, b[:4])
    with pytest.raises(ValueError, match=r"`x`.*al menos un"):
        rnn_forward(x[:, :0], h0, W_xh, W_hh, b)
    H = rnn_forward(x, h0, W_xh, W_hh, b)
    with pytest.raises(ValueError, match=r"`dH`.*\(2, 3, 5\)"):
        rnn_backward(x, h0, W_xh, W_hh, b, H, H[:, :2])
    with pytest.raises(ValueError, match=r"`H`"):
        rnn_backward(x, h0, W_xh, W_hh, b, H[..., :4], H)
    with pytest.raises(ValueError, match="g_last"):
        gradient_norms_by_distance(H, W_hh, np.ones(4))
    with pytest.raises(ValueError, match="W_hh"):
        jacobian_product_norms(H, W_hh[:4, :4])
    with pytest.raises(ValueError, match="`W` debe ser una matriz cuadrada"):
        spectral_radius(np.ones((2, 3)))


def test_bad_types_and_values():
    x, h0, W_xh, W_hh, b = make_args(2, 3, 4, 5)
    with pytest.raises(TypeError, match=r"`x`.*tensor de PyTorch"):
        rnn_forward(torch.from_numpy(x), h0, W_xh, W_hh, b)
    with pytest.raises(TypeError, match="`b`"):
        rnn_forward(x, h0, W_xh, W_hh, "b")
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm([np.ones(2)], 0.0)
    with pytest.raises(ValueError, match="grads"):
        clip_grad_norm([], 1.0)
    with pytest.raises(TypeError, match="grads"):
        clip_grad_norm(np.ones(3), 1.0)
    with pytest.raises(ValueError, match="radius"):
        recurrent_matrix(4, -1.0)
    with pytest.raises(ValueError, match="kind"):
        recurrent_matrix(4, 1.0, kind="uniform")
    with pytest.raises(ValueError, match="d_h"):
        recurrent_matrix(0, 1.0)
