"""Sumas parciales de Fourier de señales periódicas y el fenómeno de Gibbs.

Una función periódica de periodo 2π se puede escribir como una suma de senos y
cosenos (serie de Fourier). Quedarse con los primeros ``n`` términos da una
**suma parcial**; al crecer ``n`` la suma se acerca a la señal, salvo junto a los
saltos: allí sobrepasa el valor de la señal en un ≈ 8.95 % del salto, por muchos
términos que se añadan (fenómeno de Gibbs).

Las tres señales del módulo, todas de periodo 2π y amplitud 1:

* ``"square"`` (onda cuadrada): ``sign(sin x)``; salta de −1 a 1 en x = 0 y de 1 a −1 en x = π.
* ``"sawtooth"`` (diente de sierra): ``x/π`` en (−π, π); salta de 1 a −1 en x = π.
* ``"triangle"`` (onda triangular): ``1 − 2|x|/π`` en [−π, π]; continua, sin saltos.

Sus series, con k = 1, 2, 3, … (solo se cuentan los armónicos no nulos):

    cuadrada:   (4/π)  Σ_k sin((2k−1)x) / (2k−1)
    sierra:     (2/π)  Σ_k (−1)^(k+1) sin(kx) / k
    triangular: (8/π²) Σ_k cos((2k−1)x) / (2k−1)²

Todo se explica en el capítulo 1, «Aprender una función».
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from libroia._checks import (
    check_choice,
    check_finite,
    check_float,
    check_int,
    check_numpy,
    check_shape,
    describe_shape,
)

__all__ = [
    "GIBBS_FRACTION",
    "GIBBS_PEAK",
    "SIGNALS",
    "fourier_coefficients",
    "gibbs_overshoot",
    "partial_sum",
    "rms_error",
    "signal",
    "sine_integral",
]

SIGNALS = ("square", "sawtooth", "triangle")


def sine_integral(x: float) -> float:
    r"""Seno integral Si(x) = ∫₀ˣ sin(t)/t dt, en doble precisión para cualquier x real.

    Es la función que fija el tamaño del sobrepaso de Gibbs (:data:`GIBBS_PEAK`).
    Se calcula de dos maneras según el tamaño de ``x`` (Si es impar:
    Si(−x) = −Si(x)):

    * Para |x| ≤ 4, con su serie de potencias (DLMF, ec. 6.6.5),
      Si(x) = Σ_{j≥0} (−1)^j x^(2j+1) / ((2j+1)·(2j+1)!). Más allá, los términos
      crecen tanto antes de empezar a bajar (a x = 30 el mayor pasa de 10¹¹) que se
      cancelan entre sí y se pierden cifras: a x = 100 la serie truncada daría
      −8.6·10³⁸.
    * Para |x| > 4, con la fracción continua de la integral exponencial E₁ (DLMF §6.9;
      la rutina ``cisi`` de Press et al., *Numerical Recipes*): para x > 0,
      E₁(ix) = −Ci(x) + i·(Si(x) − π/2), así que Si(x) = π/2 + Im E₁(ix). Cuanto
      mayor es x, menos pasos necesita; Si(x) → π/2 cuando x → ∞.

    Ejemplo: Si(π) ≈ 1.851937, el área bajo el primer arco de sin(t)/t::

        >>> round(sine_integral(math.pi), 6)
        1.851937
        >>> round(sine_integral(100.0), 6), round(sine_integral(-100.0), 6)
        (1.562225, -1.562225)
    """
    x = check_float("x", x)
    ax = abs(x)
    if ax <= 4.0:
        terms = []
        for j in range(40):  # a |x| = 4 bastan 17 términos
            terms.append((-1) ** j * ax ** (2 * j + 1) / ((2 * j + 1) * math.factorial(2 * j + 1)))
            if abs(terms[-1]) < 1e-18:
                break
        value = math.fsum(terms)
    else:
        # E₁(z) = e^(−z) / (z + 1 − 1²/(z + 3 − 2²/(z + 5 − …))), con z = i·ax, por el
        # método de Lentz modificado (se evalúa de izquierda a derecha hasta que no cambia).
        b = complex(1.0, ax)
        c = 1.0 / 1e-300
        d = h = 1.0 / b
        for i in range(2, 200):  # a |x| = 4 bastan unos 50 pasos
            a = -((i - 1) ** 2)
            b += 2.0
            d = 1.0 / (a * d + b)
            c = b + a / c
            delta = c * d
            h *= delta
            if abs(delta.real - 1.0) + abs(delta.imag) < 1e-16:
                break
        h *= complex(math.cos(ax), -math.sin(ax))  # por e^(−i·ax): h = E₁(i·ax)
        value = math.pi / 2 + h.imag
    return math.copysign(value, x)


#: Límite del máximo de la suma parcial de la onda cuadrada ±1: (2/π)·Si(π) ≈ 1.178980.
GIBBS_PEAK = 2.0 / math.pi * sine_integral(math.pi)
#: Sobrepaso límite como fracción del salto: (GIBBS_PEAK − 1)/2 ≈ 0.0895 (≈ 8.95 %).
GIBBS_FRACTION = (GIBBS_PEAK - 1.0) / 2.0


def _check_signal(kind: str) -> str:
    return check_choice("kind", kind, SIGNALS)


def _as_x(x: Any) -> np.ndarray:
    """Convierte ``x`` en un arreglo 1-D de ``float64`` (acepta escalares y listas)."""
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        x = np.asarray([x], dtype=float)
    x = check_numpy("x", x)
    check_shape("x", x, (None,), "(M,)")
    x = x.astype(float)
    check_finite("x", x)
    return x


def _as_n_terms(n_terms: Any) -> tuple[np.ndarray, bool]:
    """Devuelve los números de términos como arreglo ``(K,)`` y si venían como escalar."""
    if isinstance(n_terms, (list, tuple, np.ndarray)):
        arr = np.asarray(n_terms)
        if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                "`n_terms` debe ser un entero ≥ 0 o una lista 1-D de enteros, "
                f"pero tiene forma {describe_shape(arr.shape)} y tipo {arr.dtype}"
            )
        if (arr < 0).any():
            raise ValueError(f"`n_terms` debe contener enteros ≥ 0, pero vale {arr.tolist()}")
        return arr.astype(int), False
    return np.asarray([check_int("n_terms", n_terms, min_value=0)]), True


def signal(kind: str, x: Any) -> np.ndarray:
    """Valor exacto de la señal ``kind`` en los puntos ``x`` (forma ``(M,)``).

    En los saltos devuelve el punto medio (0), que es también el valor al que
    converge la serie de Fourier.

    Ejemplo (en el salto, x = 0, vale el punto medio)::

        >>> signal("square", [1.0, -1.0, 0.0])
        array([ 1., -1.,  0.])
    """
    kind = _check_signal(kind)
    x = _as_x(x)
    u = np.remainder(x + np.pi, 2 * np.pi) - np.pi  # x llevado a [−π, π)
    if kind == "square":
        return np.where(u == -np.pi, 0.0, np.sign(u))
    if kind == "sawtooth":
        return np.where(u == -np.pi, 0.0, u / np.pi)
    return 1.0 - 2.0 * np.abs(u) / np.pi


def fourier_coefficients(kind: str, n_terms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Armónicos, coeficientes de seno y de coseno de los ``n_terms`` primeros términos.

    Devuelve ``(k, b, a)``, tres arreglos ``(n_terms,)``: la frecuencia entera de
    cada término y sus coeficientes, de modo que la suma parcial es
    Σ_j b_j sin(k_j x) + a_j cos(k_j x). Ninguna de las tres señales tiene
    término constante.

    Ejemplo: la onda cuadrada tiene k = [1, 3], b = [4/π, 4/(3π)] y a = [0, 0]::

        >>> k, b, a = fourier_coefficients("square", 2)
        >>> k, b * np.pi, a
        (array([1, 3]), array([4.        , 1.33333333]), array([0., 0.]))
    """
    kind = _check_signal(kind)
    n = check_int("n_terms", n_terms, min_value=0)
    j = np.arange(1, n + 1)
    if kind == "square":
        k = 2 * j - 1
        return k, 4.0 / (np.pi * k), np.zeros(n)
    if kind == "sawtooth":
        return j, 2.0 / np.pi * (-1.0) ** (j + 1) / j, np.zeros(n)
    k = 2 * j - 1
    return k, np.zeros(n), 8.0 / (np.pi**2 * k**2)


def partial_sum(kind: str, x: Any, n_terms: Any) -> np.ndarray:
    """Suma parcial de Fourier de la señal ``kind`` con ``n_terms`` términos.

    Parámetros
    ----------
    kind : ``"square"``, ``"sawtooth"`` o ``"triangle"``.
    x : puntos donde evaluar, forma ``(M,)``.
    n_terms : un entero ≥ 0, o una lista ``(K,)`` de enteros para evaluar varias
        sumas parciales a la vez (sin bucles: una máscara elige los términos).

    Devuelve
    --------
    ``(M,)`` si ``n_terms`` es un entero, ``(K, M)`` si es una lista.

    Ejemplo: con un término, en x = π/2 la onda cuadrada vale 4/π ≈ 1.2732::

        >>> partial_sum("square", [np.pi / 2], 1).round(4)
        array([1.2732])
    """
    kind = _check_signal(kind)
    x = _as_x(x)
    n, scalar = _as_n_terms(n_terms)
    k, b, a = fourier_coefficients(kind, int(n.max()))
    phase = np.outer(k, x)  # (n_max, M)
    basis_sin, basis_cos = np.sin(phase), np.cos(phase)  # (n_max, M)
    keep = np.arange(k.size)[None, :] < n[:, None]  # (K, n_max)
    out = (keep * b) @ basis_sin + (keep * a) @ basis_cos  # (K, M)
    return out[0] if scalar else out


def rms_error(kind: str, n_terms: Any, *, points: int = 4096) -> np.ndarray:
    """Raíz del error cuadrático medio de la suma parcial en un periodo completo.

    Usa ``points`` puntos equiespaciados en [−π, π). Devuelve un arreglo ``(K,)``
    (o un escalar de NumPy si ``n_terms`` es un entero). Por el teorema de
    Parseval, el error baja hacia 0 aunque el sobrepaso de Gibbs no desaparezca.
    """
    points = check_int("points", points, min_value=16)
    x = np.linspace(-np.pi, np.pi, points, endpoint=False)
    s = partial_sum(kind, x, n_terms)  # (M,) o (K, M)
    return np.sqrt(np.mean((s - signal(kind, x)) ** 2, axis=-1))


def gibbs_overshoot(kind: str, n_terms: Any, *, points: int = 201) -> np.ndarray:
    """Sobrepaso máximo de la suma parcial junto al salto, como fracción del salto.

    Busca el máximo de la suma parcial en el lado alto del salto (a la derecha de
    x = 0 en la onda cuadrada, a la izquierda de x = π en el diente de sierra)
    dentro de una ventana de anchura 4π/n, con una rejilla y luego dos rejillas
    cada vez más finas alrededor del mejor punto. Devuelve
    (máximo − valor alto de la señal) / salto, que tiende a
    :data:`GIBBS_FRACTION` ≈ 0.0895 al crecer ``n_terms``. La onda triangular no
    tiene saltos: su sobrepaso es 0 (se mide respecto a su máximo, 1, con salto 2).

    Parámetros
    ----------
    kind : la señal.
    n_terms : entero ≥ 1 o lista ``(K,)`` de enteros ≥ 1.
    points : puntos de cada rejilla.

    Devuelve
    --------
    Un arreglo ``(K,)``, o un escalar de NumPy si ``n_terms`` es un entero.

    Ejemplo: con la onda cuadrada y 1 término el máximo es 4/π, así que el
    sobrepaso es (4/π − 1)/2 ≈ 0.1366::

        >>> round(float(gibbs_overshoot("square", 1)), 4)
        0.1366
    """
    kind = _check_signal(kind)
    n, scalar = _as_n_terms(n_terms)
    if (n < 1).any():
        raise ValueError(f"`n_terms` debe ser ≥ 1 para medir el sobrepaso, pero vale {n.tolist()}")
    points = check_int("points", points, min_value=8)
    k, b, a = fourier_coefficients(kind, int(n.max()))
    keep = np.arange(k.size)[None, :] < n[:, None]  # (K, n_max)
    # El lado alto del salto: x = 0⁺ (cuadrada), x = π⁻ (sierra); la triangular tiene su pico en 0.
    jump_at, side = {"square": (0.0, 1.0), "sawtooth": (np.pi, -1.0), "triangle": (0.0, 1.0)}[kind]
    width = np.minimum(4.0 * np.pi / n, np.pi)  # (K,) ventana proporcional al periodo del armónico

    def values(offsets: np.ndarray) -> np.ndarray:  # offsets (K, S) -> sumas (K, S)
        xs = jump_at + side * offsets  # (K, S)
        phase = xs[:, :, None] * k  # (K, S, n_max)
        terms = np.sin(phase) * (keep * b)[:, None, :] + np.cos(phase) * (keep * a)[:, None, :]
        return terms.sum(axis=-1)

    t = np.linspace(0.0, 1.0, points)[None, :]  # (1, S)
    grid = t * width[:, None]  # (K, S) primera rejilla
    step = width[:, None] / (points - 1)  # (K, 1)
    for _ in range(2):  # dos refinamientos: cada uno encoge la rejilla (S − 1)/2 veces
        best = np.take_along_axis(grid, values(grid).argmax(axis=1)[:, None], axis=1)  # (K, 1)
        grid = np.clip(best + (2 * t - 1) * step, 0.0, None)  # (K, S)
        step = 2 * step / (points - 1)
    peak = values(grid).max(axis=1)  # (K,)
    overshoot = np.maximum(peak - 1.0, 0.0) / 2.0
    return overshoot[0] if scalar else overshoot
