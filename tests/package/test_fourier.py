"""Pruebas de libroia.fourier: sumas parciales, coeficientes y fenómeno de Gibbs."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from libroia import fourier

KINDS = fourier.SIGNALS


def direct_sum(kind, x, n):
    """Suma parcial término a término, con un bucle: la referencia lenta y obvia."""
    total = np.zeros_like(x)
    for j in range(1, n + 1):
        if kind == "square":
            k = 2 * j - 1
            total += 4 / (math.pi * k) * np.sin(k * x)
        elif kind == "sawtooth":
            total += 2 / math.pi * (-1) ** (j + 1) * np.sin(j * x) / j
        else:
            k = 2 * j - 1
            total += 8 / (math.pi**2 * k**2) * np.cos(k * x)
    return total


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [0, 1, 2, 7])
def test_partial_sum_matches_direct_sum(kind, n):
    x = np.linspace(-4, 4, 37)
    np.testing.assert_allclose(fourier.partial_sum(kind, x, n), direct_sum(kind, x, n), atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_partial_sum_vectorised_over_n_terms(kind):
    x = np.linspace(-3, 3, 11)
    many = fourier.partial_sum(kind, x, [3, 1, 5])
    assert many.shape == (3, 11)
    for row, n in zip(many, [3, 1, 5], strict=True):
        np.testing.assert_allclose(row, fourier.partial_sum(kind, x, n), atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_coefficients_match_numerical_integrals(kind):
    """b_k = (1/π)∫ f(x) sin(kx) dx y a_k = (1/π)∫ f(x) cos(kx) dx, por cuadratura."""
    x = np.linspace(-np.pi, np.pi, 200_001)
    f = fourier.signal(kind, x)
    k, b, a = fourier.fourier_coefficients(kind, 6)
    b_num = np.trapezoid(f * np.sin(np.outer(k, x)), x, axis=1) / np.pi
    a_num = np.trapezoid(f * np.cos(np.outer(k, x)), x, axis=1) / np.pi
    np.testing.assert_allclose(b, b_num, atol=1e-4)
    np.testing.assert_allclose(a, a_num, atol=1e-4)
    # Ningún término constante, y los armónicos que no se listan son nulos.
    assert abs(np.trapezoid(f, x)) < 1e-4
    if kind != "sawtooth":
        even = np.trapezoid(f * np.sin(2 * x), x) / np.pi, np.trapezoid(f * np.cos(2 * x), x)
        np.testing.assert_allclose(even, 0.0, atol=1e-4)


def test_signal_values_by_hand():
    np.testing.assert_allclose(fourier.signal("square", [1.0, -1.0, 0.0]), [1.0, -1.0, 0.0])
    np.testing.assert_allclose(fourier.signal("sawtooth", [0.5 * np.pi, -np.pi]), [0.5, 0.0])
    np.testing.assert_allclose(fourier.signal("triangle", [0.0, np.pi / 2, np.pi]), [1, 0, -1])
    # Periodo 2π.
    x = np.linspace(-3, 3, 13)
    for kind in KINDS:
        np.testing.assert_allclose(
            fourier.signal(kind, x + 2 * np.pi), fourier.signal(kind, x), atol=1e-12
        )


def test_partial_sum_example_from_docstring():
    np.testing.assert_allclose(fourier.partial_sum("square", [np.pi / 2], 1), [4 / np.pi])


def test_converges_away_from_jumps():
    x = np.array([-2.0, -1.0, 1.0, 2.0])
    np.testing.assert_allclose(
        fourier.partial_sum("square", x, 3000), fourier.signal("square", x), atol=1e-3
    )
    xs = np.linspace(-np.pi, np.pi, 50)
    # La triangular converge uniformemente: error ≤ (8/π²) Σ_{k>n} 1/(2k−1)² < 2/(π² n).
    err = np.abs(fourier.partial_sum("triangle", xs, 100) - fourier.signal("triangle", xs))
    assert err.max() < 2 / (np.pi**2 * 100)


def test_sine_integral_against_quadrature_and_torch():
    t = np.linspace(1e-12, np.pi, 400_001)
    si_num = np.trapezoid(np.sin(t) / t, t)
    assert fourier.sine_integral(np.pi) == pytest.approx(si_num, abs=1e-9)
    # Si(π) con la serie en PyTorch (float64) como segunda referencia independiente.
    j = torch.arange(30, dtype=torch.float64)
    terms = (-1) ** j * math.pi ** (2 * j + 1) / ((2 * j + 1) * torch.exp(torch.lgamma(2 * j + 2)))
    assert fourier.sine_integral(np.pi) == pytest.approx(float(terms.sum()), rel=1e-12)
    assert pytest.approx(1.1789797444721672, rel=1e-12) == fourier.GIBBS_PEAK
    assert pytest.approx(0.0894898722360836, rel=1e-9) == fourier.GIBBS_FRACTION


@pytest.mark.parametrize(
    "x", [0.0, 1e-300, 1e-8, 0.5, 2.0, 3.999, 4.0, 4.001, 10.0, 30.0, 100.0, 1e3, 1e6, 1e12]
)
def test_sine_integral_matches_scipy(x):
    """Antes, la serie truncada daba −8.6e38 en x = 100 y fallaba en la tercera cifra en 30."""
    sici = pytest.importorskip("scipy.special").sici
    assert fourier.sine_integral(x) == pytest.approx(sici(x)[0], rel=2e-15, abs=1e-300)
    assert fourier.sine_integral(-x) == -fourier.sine_integral(x)  # Si es impar


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-1e9, max_value=1e9))
def test_sine_integral_matches_scipy_everywhere(x):
    sici = pytest.importorskip("scipy.special").sici
    assert fourier.sine_integral(x) == pytest.approx(sici(x)[0], rel=4e-15, abs=1e-300)


def test_sine_integral_limits():
    assert fourier.sine_integral(1e300) == pytest.approx(math.pi / 2, rel=1e-15)
    # Primer máximo en x = π (la derivada sin(x)/x cambia de signo): mayor que a los lados.
    si = fourier.sine_integral
    assert si(np.pi) > max(si(np.pi - 0.01), si(np.pi + 0.01))


@pytest.mark.parametrize(
    ("x", "error"),
    [(math.nan, ValueError), (math.inf, ValueError), ("1", TypeError), ([1.0], TypeError)],
)
def test_sine_integral_bad_input(x, error):
    with pytest.raises(error, match="`x`"):
        fourier.sine_integral(x)


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=60))
def test_square_overshoot_matches_closed_form(n):
    """El primer máximo de la suma de la onda cuadrada está en x = π/(2n)."""
    peak = fourier.partial_sum("square", [np.pi / (2 * n)], n)[0]
    assert fourier.gibbs_overshoot("square", n) == pytest.approx((peak - 1) / 2, abs=1e-9)


def test_overshoot_does_not_vanish_and_tends_to_gibbs_constant():
    ns = [10, 100, 1000]
    square = fourier.gibbs_overshoot("square", ns)
    assert square.shape == (3,)
    assert (square > 0.0894).all()
    np.testing.assert_allclose(square[-1], fourier.GIBBS_FRACTION, rtol=1e-5)
    saw = fourier.gibbs_overshoot("sawtooth", [100, 2000])
    assert saw[1] == pytest.approx(fourier.GIBBS_FRACTION, abs=5e-4)
    assert saw[0] < saw[1]  # el diente de sierra se acerca desde abajo, más despacio
    np.testing.assert_allclose(fourier.gibbs_overshoot("triangle", ns), 0.0)


def test_one_term_overshoot_by_hand():
    assert fourier.gibbs_overshoot("square", 1) == pytest.approx((4 / np.pi - 1) / 2, abs=1e-9)


def test_rms_error_decreases():
    err = fourier.rms_error("square", [1, 4, 16, 64])
    assert (np.diff(err) < 0).all()
    assert err[-1] < 0.1
    assert fourier.rms_error("triangle", 16) < fourier.rms_error("square", 16) / 10


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: fourier.partial_sum("sine", [0.0], 1), "kind"),
        (lambda: fourier.partial_sum("square", [0.0], -1), "n_terms"),
        (lambda: fourier.partial_sum("square", [0.0], [1, -2]), "n_terms"),
        (lambda: fourier.partial_sum("square", [0.0], [[1, 2]]), "n_terms"),
        (lambda: fourier.partial_sum("square", np.zeros((2, 2)), 1), "x"),
        (lambda: fourier.partial_sum("square", [0.0, np.nan], 1), "x"),
        (lambda: fourier.gibbs_overshoot("square", 0), "n_terms"),
        (lambda: fourier.gibbs_overshoot("square", 5, points=2), "points"),
        (lambda: fourier.rms_error("square", 5, points=3), "points"),
        (lambda: fourier.fourier_coefficients("square", -3), "n_terms"),
    ],
)
def test_bad_values_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: fourier.partial_sum("square", [0.0], 2.5), "n_terms"),
        (lambda: fourier.partial_sum("square", torch.zeros(3), 1), "x"),
        (lambda: fourier.signal("square", "abc"), "x"),
    ],
)
def test_bad_types_raise(call, match):
    with pytest.raises(TypeError, match=match):
        call()
