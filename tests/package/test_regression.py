"""Pruebas de libroia.regression: gradientes a mano contra torch.autograd, parámetros congelados."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from libroia import regression


@pytest.fixture
def fourier_fit():
    x, y = regression.make_data(48, kind="square", noise=0.2, seed=1)
    return regression.FourierFit(x, y, n_terms=4)


@pytest.fixture
def mlp_fit():
    x, y = regression.make_data(32, kind="smooth", noise=0.1, seed=2)
    return regression.CurveFit(x, y, hidden=5)


def torch_fourier_loss(fit, theta):
    """La misma pérdida escrita en PyTorch, para derivarla con autograd."""
    x = torch.from_numpy(fit.x)
    k = torch.arange(1, fit.n_terms + 1, dtype=torch.float64)
    kx = x[:, None] * k  # (N, K)
    ones = torch.ones(len(x), 1, dtype=torch.float64)
    phi = torch.cat([ones, torch.stack([kx.cos(), kx.sin()], -1).flatten(1)], dim=1)  # (N, P)
    return ((phi @ theta - torch.from_numpy(fit.y)) ** 2).mean()


def test_fourier_gradient_and_curvature_match_autograd(fourier_fit):
    theta = np.random.default_rng(0).normal(size=fourier_fit.n_params)
    value, grad = fourier_fit.loss_and_grad(theta)
    t = torch.tensor(theta, requires_grad=True)
    loss = torch_fourier_loss(fourier_fit, t)
    loss.backward()
    assert value == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-10, atol=1e-12)
    hess = torch.autograd.functional.hessian(lambda v: torch_fourier_loss(fourier_fit, v), t)
    assert fourier_fit.curvature() == pytest.approx(torch.linalg.eigvalsh(hess)[-1].item())


def test_fourier_loss_is_vectorised_over_thetas(fourier_fit):
    thetas = np.random.default_rng(1).normal(size=(3, 2, fourier_fit.n_params))
    losses = fourier_fit.loss(thetas)
    assert losses.shape == (3, 2)
    assert losses[2, 1] == pytest.approx(fourier_fit.loss_and_grad(thetas[2, 1])[0])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), hidden=st.integers(1, 8))
def test_mlp_hand_gradient_matches_autograd(seed, hidden):
    x, y = regression.make_data(20, kind="smooth", seed=seed % 7)
    fit = regression.CurveFit(x, y, hidden=hidden)
    theta = fit.init(seed)
    value, grad = fit.loss_and_grad(theta)
    reference = regression.autograd_gradient(fit, theta)
    np.testing.assert_allclose(grad, reference, rtol=1e-9, atol=1e-12)
    net = regression.to_torch(fit, theta)
    with torch.no_grad():
        out = net(torch.from_numpy(x)[:, None])[:, 0].numpy()
    np.testing.assert_allclose(out, fit.predict(theta), rtol=1e-12, atol=1e-12)
    assert value == pytest.approx(float(np.mean((out - y) ** 2)), rel=1e-10)


def test_mlp_minibatch_gradient_matches_autograd_on_subset(mlp_fit):
    theta = mlp_fit.init(3)
    idx = np.array([0, 5, 7, 30])
    sub = regression.CurveFit(mlp_fit.x[idx], mlp_fit.y[idx], hidden=mlp_fit.hidden)
    np.testing.assert_allclose(
        mlp_fit.loss_and_grad(theta, idx)[1], regression.autograd_gradient(sub, theta), atol=1e-12
    )


def test_feedback_alignment_changes_only_the_hidden_layer(mlp_fit):
    theta = mlp_fit.init(0)
    H = mlp_fit.hidden
    exact = mlp_fit.loss_and_grad(theta)[1]
    w2 = mlp_fit.unpack(theta)[2]
    np.testing.assert_allclose(mlp_fit.loss_and_grad(theta, feedback=w2)[1], exact)
    dfa = mlp_fit.loss_and_grad(theta, feedback=np.ones(H))[1]
    np.testing.assert_allclose(dfa[2 * H :], exact[2 * H :])  # w2 y b2: igual
    assert not np.allclose(dfa[: 2 * H], exact[: 2 * H])  # W1 y b1: distinto


def test_frozen_parameters_get_no_gradient_and_do_not_change(mlp_fit):
    net = regression.to_torch(mlp_fit, mlp_fit.init(0))
    net[0].weight.requires_grad_(False)
    net[0].bias.requires_grad_(False)
    x = torch.from_numpy(mlp_fit.x)[:, None]
    report = regression.parameter_report(net, x, torch.from_numpy(mlp_fit.y), steps=3)
    assert report["0.weight"] == {
        "numel": 5,
        "requires_grad": False,
        "has_grad": False,
        "changed": False,
    }
    assert not report["0.bias"]["changed"]
    assert report["2.weight"]["has_grad"] and report["2.weight"]["changed"]
    assert report["2.bias"]["changed"]
    for p in net.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="net"):
        regression.parameter_report(net, x, torch.from_numpy(mlp_fit.y))


def test_make_data_without_noise_is_the_signal():
    x, y = regression.make_data(16, kind="triangle", noise=0.0)
    np.testing.assert_allclose(y, 1 - 2 * np.abs(x) / np.pi)
    assert (np.diff(x) >= 0).all() and x.min() >= -np.pi and x.max() <= np.pi


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda f: regression.FourierFit(f.x, f.y[:-1]), "y"),
        (lambda f: regression.FourierFit(f.x[:, None], f.y), "x"),
        (lambda f: regression.FourierFit(f.x, f.y, n_terms=0), "n_terms"),
        (lambda f: regression.CurveFit(f.x, f.y, hidden=0), "hidden"),
        (lambda f: f.loss(np.zeros(3)), "theta"),
        (lambda f: f.loss_and_grad(np.zeros((2, f.n_params))), "theta"),
        (lambda f: regression.make_data(10, kind="sine"), "kind"),
        (lambda f: regression.make_data(10, noise=-0.1), "noise"),
        (lambda f: regression.make_data(1), "n"),
    ],
)
def test_bad_values_raise(fourier_fit, call, match):
    with pytest.raises(ValueError, match=match):
        call(fourier_fit)


def test_bad_types_and_shapes_raise(mlp_fit):
    with pytest.raises(TypeError, match="x"):
        regression.FourierFit(torch.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match="feedback"):
        mlp_fit.loss_and_grad(mlp_fit.init(), feedback=np.ones(2))
    with pytest.raises(ValueError, match="theta"):
        mlp_fit.loss_and_grad(np.zeros((2, mlp_fit.n_params)))
