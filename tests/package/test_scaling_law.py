"""Pruebas de libroia.scaling_law: ajuste de leyes de potencia, Chinchilla y barridos del GPT."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from libroia.gpt import GPT, GPTConfig
from libroia.scaling_law import (
    CHINCHILLA_FIT,
    chinchilla_loss,
    fit_power_law,
    power_law,
    sweep_configs,
    tiny_gpt_sweep,
)

# --- la pérdida de Chinchilla -----------------------------------------------------------------


def test_chinchilla_loss_by_hand():
    f = CHINCHILLA_FIT
    assert chinchilla_loss(1.0, 1.0) == pytest.approx(f["E"] + f["A"] + f["G"])
    assert chinchilla_loss(1e300, 1e300) == pytest.approx(f["E"])  # la pérdida irreducible
    np.testing.assert_allclose(chinchilla_loss([70e9, 280e9], [1.4e12, 300e9]),
                               [1.9366, 1.9933], atol=1e-4)  # fmt: skip


def test_chinchilla_loss_prefers_balanced_allocation():
    c = 5.76e23
    n = np.geomspace(1e9, 1e12, 400)
    loss = chinchilla_loss(n, c / (6 * n))
    assert np.all(np.isfinite(loss))
    n_best = n[np.argmin(loss)]
    assert 10e9 < n_best < 100e9  # el óptimo está cerca de Chinchilla, lejos de los extremos
    assert chinchilla_loss(70e9, 1.4e12) < chinchilla_loss(280e9, 300e9)  # Chinchilla < Gopher


def test_chinchilla_loss_bad_input():
    with pytest.raises(ValueError, match="n_params"):
        chinchilla_loss(-1.0, 1e9)
    with pytest.raises(ValueError, match="n_tokens"):
        chinchilla_loss(1e9, [1e9, 0.0])
    with pytest.raises(TypeError, match="n_params"):
        chinchilla_loss("mucho", 1e9)


# --- leyes de potencia ------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(a=st.floats(1.0, 100.0), alpha=st.floats(0.05, 0.8), c=st.floats(0.0, 3.0))
@example(a=1.0, alpha=0.5, c=6.103515625e-05)  # falló con el ajuste por error absoluto
@example(a=1.0, alpha=0.8, c=0.0)
@example(a=100.0, alpha=0.05, c=3.0)
def test_fit_power_law_recovers_exact_parameters(a, alpha, c):
    """Con datos exactos, la curva ajustada pasa por los puntos (error relativo < 1e-6).

    Los parámetros solo se recuperan aproximadamente: cuando ``c`` es mucho menor que
    la menor pérdida, o ``alpha`` es pequeño, la curva apenas depende de ellos.
    """
    n = np.geomspace(1e4, 1e8, 7)
    fit = fit_power_law(n, power_law(n, a, alpha, c))
    np.testing.assert_allclose(power_law(n, *fit), power_law(n, a, alpha, c), rtol=1e-6)
    assert fit.alpha == pytest.approx(alpha, rel=0.05, abs=0.01)
    assert fit.a > 0 and fit.alpha >= 0 and 0 <= fit.c <= power_law(n, a, alpha, c).min()


def test_fit_power_law_matches_scipy_curve_fit_in_log_space():
    """Misma función objetivo (error en escala logarítmica) resuelta con ``curve_fit``."""
    from scipy.optimize import curve_fit

    rng = np.random.default_rng(1)
    n = np.geomspace(1e4, 1e7, 8)
    loss = power_law(n, 30.0, 0.3, 1.5) * np.exp(rng.normal(0, 0.01, n.size))
    fit = fit_power_law(n, loss)

    def log_model(x, log_a, alpha, c):
        return np.log(np.exp(log_a - alpha * x) + c)

    ref, _ = curve_fit(log_model, np.log(n), np.log(loss), p0=(math.log(30), 0.3, 1.5),
                       bounds=([-np.inf, 0, 0], [np.inf, np.inf, loss.min()]),
                       xtol=1e-15, ftol=1e-15, gtol=1e-15)  # fmt: skip
    np.testing.assert_allclose([math.log(fit.a), fit.alpha, fit.c], ref, rtol=1e-4)


def test_fit_power_law_with_noise():
    rng = np.random.default_rng(0)
    n = np.geomspace(1e4, 1e7, 8)
    loss = power_law(n, 30.0, 0.3, 1.5) * np.exp(rng.normal(0, 0.005, n.size))
    fit = fit_power_law(n, loss)
    assert fit.alpha == pytest.approx(0.3, abs=0.08)
    assert fit.c == pytest.approx(1.5, abs=0.3)


def test_fit_power_law_without_offset_is_loglog_line():
    n = np.array([1e3, 1e4, 1e5, 1e6])
    loss = np.array([5.0, 3.9, 3.1, 2.4])
    fit = fit_power_law(n, loss, with_offset=False)
    slope, intercept = np.polyfit(np.log(n), np.log(loss), 1)
    assert fit.alpha == pytest.approx(-slope)
    assert fit.a == pytest.approx(math.exp(intercept))
    assert fit.c == 0.0


@pytest.mark.parametrize(
    ("n", "loss", "name"),
    [
        ([1, 2, 3], [1, 2], "loss"),
        ([1, 2], [1, 2], "n"),
        ([1, -2, 3], [3, 2, 1], "n"),
        ([1, 2, 3], [3, 0, 1], "loss"),
        ([1, 2, np.inf], [3, 2, 1], "n"),
        ([1, 2, 3], [3, np.nan, 1], "loss"),
    ],
)
def test_fit_power_law_bad_input(n, loss, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        fit_power_law(n, loss)


def test_fit_power_law_bad_types():
    with pytest.raises(TypeError, match="`n`"):
        fit_power_law(["a", "b", "c"], [3, 2, 1])
    with pytest.raises(TypeError, match="`alpha`"):
        power_law([1.0], 1.0, "0.5")


# --- barrido de tamaños del GPT del libro ---------------------------------------------------


def test_sweep_configs_change_only_the_size():
    base = GPTConfig(steps=7, lr=1e-3)
    configs = sweep_configs([(16, 1, 2), (32, 2, 4)], base=base)
    assert [(c.d_model, c.n_layers, c.n_heads) for c in configs] == [(16, 1, 2), (32, 2, 4)]
    assert all(replace(c, d_model=base.d_model, n_layers=base.n_layers,
                       n_heads=base.n_heads) == base for c in configs)  # fmt: skip
    default = GPTConfig()
    size = (default.d_model, default.n_layers, default.n_heads)
    assert sweep_configs([size])[0] == default  # el modelo por defecto, tal cual


def test_tiny_gpt_sweep_counts_and_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LIBROIA_CACHE", str(tmp_path))
    text = "\n\n".join(f"El gato {i} come pescado y el perro come carne. " * 4
                       for i in range(20))  # fmt: skip  # 20 párrafos: 2 van a validación
    base = GPTConfig(vocab_size=260, context=8, steps=3, batch_size=2)
    configs = sweep_configs([(8, 1, 2), (16, 1, 2)], base=base)
    first = tiny_gpt_sweep(configs, text=text)
    assert first["n_params"].tolist() == [
        sum(p.numel() for p in GPT(c).parameters()) for c in configs
    ]
    assert first["n_tokens"].tolist() == [3 * 2 * 8] * 2
    np.testing.assert_allclose(first["compute_flops"], 6 * first["n_params"] * 48)
    first_losses = np.array([h["val_loss"][0] for h in first["histories"]])
    assert np.all(first["best_val_loss"] <= first_losses)
    assert not first["from_cache"].any()
    again = tiny_gpt_sweep(configs, text=text)
    assert again["from_cache"].all()
    np.testing.assert_array_equal(again["val_loss"], first["val_loss"])


def test_sweep_bad_arguments():
    with pytest.raises(ValueError, match="sizes"):
        sweep_configs([])
    with pytest.raises(TypeError, match="base"):
        sweep_configs([(8, 1, 1)], base={"d_model": 8})
    with pytest.raises(ValueError, match="configs"):
        tiny_gpt_sweep([])
