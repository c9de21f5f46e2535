"""Pruebas de libroia.optim: descenso del gradiente, SGD y estrategias evolutivas."""

import numpy as np
import pytest
import torch

from libroia import optim, regression


@pytest.fixture
def fourier_fit():
    x, y = regression.make_data(48, kind="square", noise=0.2, seed=1)
    return regression.FourierFit(x, y, n_terms=4)


def test_gradient_descent_converges_below_two_over_lambda(fourier_fit):
    lam = fourier_fit.curvature()
    theta0 = fourier_fit.init()
    good = optim.gradient_descent(fourier_fit, theta0, lr=1.0 / lam, steps=300)
    np.testing.assert_allclose(good.theta[-1], fourier_fit.solve(), atol=1e-6)
    assert not good.diverged
    assert good.grad_evals[-1] == 300
    assert good.loss.shape == (301,) and good.theta.shape == (301, fourier_fit.n_params)
    edge = optim.gradient_descent(fourier_fit, theta0, lr=0.95 * 2 / lam, steps=300)
    assert not edge.diverged
    bad = optim.gradient_descent(fourier_fit, theta0, lr=1.1 * 2 / lam, steps=300)
    assert bad.diverged
    assert np.isnan(bad.loss[-1])


def test_full_batch_sgd_equals_gd(fourier_fit):
    theta0 = fourier_fit.init()
    gd = optim.gradient_descent(fourier_fit, theta0, lr=0.2, steps=20)
    sgd = optim.gradient_descent(fourier_fit, theta0, lr=0.2, steps=20, batch_size=48)
    np.testing.assert_allclose(sgd.theta, gd.theta, atol=1e-12)


def test_sgd_counts_fractional_evaluations_and_is_seeded(fourier_fit):
    theta0 = fourier_fit.init()
    a = optim.gradient_descent(fourier_fit, theta0, lr=0.05, steps=40, batch_size=12, seed=3)
    b = optim.gradient_descent(fourier_fit, theta0, lr=0.05, steps=40, batch_size=12, seed=3)
    np.testing.assert_array_equal(a.theta, b.theta)
    assert a.grad_evals[-1] == pytest.approx(10.0)
    assert a.loss[-1] < a.loss[0]


def test_es_estimator_is_unbiased_on_a_quadratic(fourier_fit):
    """Con muchas parejas, un paso de ES es un paso de descenso del gradiente."""
    theta0 = np.random.default_rng(4).normal(size=fourier_fit.n_params)
    grad = fourier_fit.loss_and_grad(theta0)[1]
    h = optim.evolution_strategies(fourier_fit, theta0, sigma=0.3, lr=1.0, pairs=40_000, steps=1)
    estimate = h.theta[0] - h.theta[1]
    assert np.linalg.norm(estimate - grad) < 0.05 * np.linalg.norm(grad)
    assert h.loss_evals[-1] == 80_000 and h.grad_evals[-1] == 0


def test_guided_es_with_exact_surrogate_and_alpha_zero_follows_the_gradient(fourier_fit):
    theta0 = np.random.default_rng(5).normal(size=fourier_fit.n_params)
    grad = fourier_fit.loss_and_grad(theta0)[1]

    def exact(theta):
        return fourier_fit.loss_and_grad(theta)[1]

    h = optim.evolution_strategies(
        fourier_fit, theta0, lr=1.0, pairs=20_000, steps=1, alpha=0.0, surrogate=exact
    )
    np.testing.assert_allclose(h.theta[0] - h.theta[1], grad, rtol=0.05, atol=1e-3)
    assert h.grad_evals[-1] == 1


def test_es_reaches_optimum_and_guided_es_is_cheaper():
    x, y = regression.make_data(64, kind="square", noise=0.2, seed=0)
    fit = regression.FourierFit(x, y, n_terms=16)
    theta0, lam, P = fit.init(), fit.curvature(), fit.n_params
    l_min, l_0 = fit.loss(fit.solve()), fit.loss(theta0)
    target = l_min + 0.05 * (l_0 - l_min)
    es_lr = 4 / (P + 5) / lam
    es = optim.evolution_strategies(fit, theta0, sigma=0.1, lr=es_lr, pairs=4, steps=600)
    guided = optim.evolution_strategies(
        fit,
        theta0,
        lr=0.5 / lam,
        pairs=1,
        steps=600,
        alpha=0.5,
        surrogate=optim.minibatch_surrogate(fit, 8, seed=1),
    )
    gd = optim.gradient_descent(fit, theta0, lr=1 / lam, steps=100)
    n_es, n_guided = optim.evals_to_reach(es, target), optim.evals_to_reach(guided, target)
    n_gd = optim.evals_to_reach(gd, target, kind="grad")
    assert n_gd < n_guided < n_es
    assert es.loss_evals[1] == 8


def test_evals_to_reach_by_hand():
    h = optim.History(
        loss=np.array([3.0, 2.0, 1.0]),
        theta=np.zeros((3, 1)),
        loss_evals=np.array([0.0, 4.0, 8.0]),
        grad_evals=np.array([0.0, 1.0, 2.0]),
    )
    assert optim.evals_to_reach(h, 1.5) == 8.0
    assert optim.evals_to_reach(h, 2.0, kind="grad") == 1.0
    assert np.isnan(optim.evals_to_reach(h, 0.5))


def test_compare_methods_orders_the_costs():
    x, y = regression.make_data(64, kind="square", noise=0.2, seed=0)
    small, large = optim.compare_methods(x, y, 2), optim.compare_methods(x, y, 16)
    assert small["n_params"] == 5 and large["n_params"] == 33
    for row in (small, large):
        assert row["gd"] < row["guided_es"] < row["es"]
        assert row["guided_es_grads"] == row["guided_es"] / 2  # una pareja: 2 pérdidas, 1 sustituto
    assert large["es"] > 2 * small["es"]  # ES se encarece con P


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda f: optim.gradient_descent(f, np.zeros(4), lr=0.1, steps=1), "theta0"),
        (lambda f: optim.gradient_descent(f, f.init(), lr=0.0, steps=1), "lr"),
        (lambda f: optim.gradient_descent(f, f.init(), lr=0.1, steps=0), "steps"),
        (lambda f: optim.gradient_descent(f, f.init(), lr=1, steps=1, batch_size=99), "batch_size"),
        (lambda f: optim.evolution_strategies(f, f.init(), sigma=-1.0), "sigma"),
        (lambda f: optim.evolution_strategies(f, f.init(), pairs=0), "pairs"),
        (lambda f: optim.evolution_strategies(f, f.init(), alpha=1.5), "alpha"),
        (lambda f: optim.minibatch_surrogate(f, 0), "batch_size"),
        (lambda f: optim.compare_methods(f.x, f.y, 2, tolerance=2.0), "tolerance"),
    ],
)
def test_bad_values_raise(fourier_fit, call, match):
    with pytest.raises(ValueError, match=match):
        call(fourier_fit)


def test_bad_types_raise(fourier_fit):
    with pytest.raises(TypeError, match="surrogate"):
        optim.evolution_strategies(fourier_fit, fourier_fit.init(), surrogate=3)
    with pytest.raises(TypeError, match="theta0"):
        optim.gradient_descent(fourier_fit, torch.zeros(9), lr=0.1, steps=1)
    history = optim.gradient_descent(fourier_fit, fourier_fit.init(), lr=0.1, steps=2)
    with pytest.raises(ValueError, match="kind"):
        optim.evals_to_reach(history, 0.1, kind="both")
