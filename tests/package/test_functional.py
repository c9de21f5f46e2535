"""Pruebas de libroia.functional: la única softmax del paquete, contra PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from libroia.functional import check_axis, log_softmax, softmax, unnormalized_softmax


@pytest.mark.parametrize("axis", [0, 1, -1, -2])
def test_softmax_and_log_softmax_match_torch(axis):
    z = torch.randn(3, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 20
    torch.testing.assert_close(softmax(z, axis), torch.softmax(z, axis))
    torch.testing.assert_close(log_softmax(z, axis), torch.log_softmax(z, axis))
    np.testing.assert_allclose(softmax(z.numpy(), axis), torch.softmax(z, axis).numpy())
    np.testing.assert_allclose(log_softmax(z.numpy(), axis), torch.log_softmax(z, axis).numpy())


def test_types_are_kept_and_integers_become_float64():
    assert softmax(np.zeros(3, np.float32)).dtype == np.float32
    assert softmax(torch.zeros(3, dtype=torch.float16)).dtype == torch.float16
    p = softmax(np.array([0, 0]))
    assert p.dtype == np.float64 and p.tolist() == [0.5, 0.5]
    assert log_softmax(torch.tensor([1, 1])).dtype == torch.float64


def test_minus_infinity_gets_zero_and_large_scores_do_not_overflow():
    np.testing.assert_allclose(softmax(np.array([1000.0, 1000.0, -np.inf])), [0.5, 0.5, 0.0])
    np.testing.assert_allclose(log_softmax(np.array([1000.0, 1000.0, -np.inf])),
                               [-np.log(2), -np.log(2), -np.inf])


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_all_minus_infinity_row_is_defined(kind):
    """Convención del módulo: una fila sin nada permitido da ceros (softmax) y -inf (log)."""
    x = np.array([[0.0, -np.inf, 1.0], [-np.inf, -np.inf, -np.inf]])
    if kind == "torch":
        x = torch.from_numpy(x)
    p, logp = np.asarray(softmax(x)), np.asarray(log_softmax(x))
    assert not np.isnan(p).any() and not np.isnan(logp).any()
    np.testing.assert_array_equal(p[1], 0.0)
    np.testing.assert_array_equal(logp[1], -np.inf)
    np.testing.assert_allclose(p[0].sum(), 1.0)
    # Una columna entera de -inf, a lo largo de axis=0, también.
    np.testing.assert_array_equal(np.asarray(softmax(x, axis=0))[:, 1], 0.0)


def test_gradient_is_finite_with_an_empty_row():
    x = torch.tensor([[0.5, -torch.inf], [-torch.inf, -torch.inf]], requires_grad=True)
    softmax(x)[0, 0].backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_overwrite_reuses_x_for_the_shift(kind):
    x = np.random.default_rng(5).standard_normal((3, 4)).astype(np.float32)
    x[0] = -np.inf
    if kind == "torch":
        x = torch.from_numpy(x)
    expected = np.asarray(softmax(x))
    got = softmax(x, overwrite=True)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(x)[1:].max(-1), 0.0)  # x - max, en el sitio


def test_unnormalized_softmax_divides_to_the_softmax():
    x = np.array([[0.0, np.log(3.0)], [-np.inf, -np.inf]])
    e, z = unnormalized_softmax(x)
    assert z.shape == (2, 1)
    np.testing.assert_allclose(e / z, softmax(x))
    np.testing.assert_array_equal(z[1], 1.0)  # fila vacía: 0 / 1 = 0


@settings(max_examples=50, deadline=None)
@given(
    x=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
                 elements=st.floats(-500, 500)),
    data=st.data(),
)
def test_properties(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    p = softmax(x, axis)
    np.testing.assert_allclose(p.sum(axis=axis), 1.0, rtol=1e-12)
    assert np.all(p >= 0)
    np.testing.assert_allclose(np.exp(log_softmax(x, axis)), p, rtol=1e-9, atol=1e-300)
    shift = data.draw(st.floats(-100, 100))
    np.testing.assert_allclose(softmax(x + shift, axis), p, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("fn", [softmax, log_softmax])
def test_bad_input(fn):
    with pytest.raises(TypeError, match="`x`"):
        fn(np.array(["hola"]))
    with pytest.raises(TypeError, match="`x`"):
        fn("hola")
    with pytest.raises(ValueError, match=r"`axis`.*entre -2 y 1.*2"):
        fn(np.zeros((2, 3)), axis=2)
    with pytest.raises(ValueError, match=r"`axis`.*-3"):
        fn(np.zeros((2, 3)), axis=-3)
    with pytest.raises(TypeError, match="`axis`"):
        fn(np.zeros(3), axis=0.0)


def test_check_axis():
    assert check_axis(np.zeros((2, 3)), -2) == -2
    with pytest.raises(ValueError, match=r"`x`.*al menos una dimensión.*`axis`"):
        check_axis(np.zeros(()), 0)


def test_log_softmax_con_gradiente_usa_la_misma_cuenta():
    """Con ``requires_grad`` se delega en PyTorch: mismos valores y mismo gradiente."""
    import torch

    from libroia.functional import log_softmax

    torch.manual_seed(0)
    x = torch.randn(3, 5, 7, dtype=torch.float64)
    ours = log_softmax(x, axis=1)  # sin gradiente: la cuenta escrita a mano
    x_grad = x.clone().requires_grad_(True)
    fused = log_softmax(x_grad, axis=1)
    torch.testing.assert_close(fused.detach(), ours)
    fused.sum().backward()
    torch.testing.assert_close(x_grad.grad, 1 - 5 * torch.softmax(x, dim=1))
