"""Tareas sintéticas de memoria a largo plazo: recordar lo primero tras T pasos.

Sirven para medir hasta dónde llega la memoria de un modelo secuencial. La respuesta
depende solo de la primera posición, así que el gradiente útil tiene que viajar T - 1
pasos hacia atrás. El capítulo 3 las usa con redes recurrentes; la misma tarea sirve para
comparar con la atención, que mira la primera posición directamente.

Las dos funciones devuelven arreglos de NumPy y reciben un ``numpy.random.Generator`` (o
una semilla entera), de modo que cada lote es reproducible.
"""

from __future__ import annotations

import numpy as np

from libroia._checks import check_int

__all__ = ["first_token_batch", "first_value_batch"]


def first_value_batch(N: int, T: int, rng=None) -> tuple[np.ndarray, np.ndarray]:
    """Lote de la tarea «recuerda el primer número»: regresión de ``x_1`` tras ``T`` pasos.

    Cada secuencia son ``T`` números normales independientes; el objetivo es el primero.
    Un modelo sin memoria no puede hacer nada mejor que predecir 0, con error cuadrático
    medio 1 (la varianza del objetivo).

    Devuelve
    --------
    x : (N, T, 1) ``float32``; y : (N,) ``float32`` con ``y = x[:, 0, 0]``.

    Ejemplo::

        >>> x, y = first_value_batch(2, 3, rng=0)
        >>> x.shape, y.shape, bool((y == x[:, 0, 0]).all())
        ((2, 3, 1), (2,), True)
    """
    N = check_int("N", N, min_value=1)
    T = check_int("T", T, min_value=1)
    rng = np.random.default_rng(rng)
    x = rng.standard_normal((N, T, 1)).astype(np.float32)  # (N, T, 1)
    return x, x[:, 0, 0].copy()  # (N,)


def first_token_batch(
    N: int, T: int, *, n_symbols: int = 4, n_distractors: int = 4, rng=None
) -> tuple[np.ndarray, np.ndarray]:
    """Lote de la tarea «recuerda el primer símbolo» con distractores.

    La primera posición es un símbolo al azar entre ``0, …, n_symbols - 1``; las ``T - 1``
    siguientes son distractores al azar entre ``n_symbols, …, n_symbols + n_distractors - 1``.
    Al final hay que decir cuál era el primer símbolo: acertar por azar tiene probabilidad
    ``1 / n_symbols``.

    Devuelve
    --------
    tokens : (N, T) ``int64`` con valores en ``[0, V)``, ``V = n_symbols + n_distractors``;
    y : (N,) ``int64`` con ``y = tokens[:, 0]``.

    Ejemplo con ``n_symbols=2`` (símbolos 0 y 1) y ``n_distractors=2`` (2 y 3)::

        >>> tokens, y = first_token_batch(2, 4, n_symbols=2, n_distractors=2, rng=0)
        >>> tokens
        array([[1, 3, 2, 2],
               [1, 2, 2, 2]])
        >>> y
        array([1, 1])
    """
    N = check_int("N", N, min_value=1)
    T = check_int("T", T, min_value=1)
    n_symbols = check_int("n_symbols", n_symbols, min_value=2)
    n_distractors = check_int("n_distractors", n_distractors, min_value=1)
    rng = np.random.default_rng(rng)
    first = rng.integers(0, n_symbols, size=(N, 1))  # (N, 1)
    rest = rng.integers(n_symbols, n_symbols + n_distractors, size=(N, T - 1))  # (N, T - 1)
    tokens = np.concatenate([first, rest], axis=1).astype(np.int64)  # (N, T)
    return tokens, tokens[:, 0].copy()  # (N,)
