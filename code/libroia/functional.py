"""Funciones elementales que usan varios capítulos: softmax y log-softmax.

Escritas una sola vez sobre el *array API*: aceptan arreglos de NumPy o
tensores de PyTorch y devuelven el mismo tipo.
"""

from __future__ import annotations

from typing import Any

from libroia._checks import array_namespace, check_array, check_int

__all__ = ["log_softmax", "softmax"]


def _axis(x: Any, axis: int) -> int:
    axis = check_int("axis", axis)
    if not -x.ndim <= axis < max(x.ndim, 1):
        raise ValueError(
            f"`axis` debe estar entre {-x.ndim} y {x.ndim - 1} para un arreglo de "
            f"{x.ndim} dimensiones, pero vale {axis}"
        )
    return axis


def softmax(x: Any, axis: int = -1) -> Any:
    r"""Convierte puntuaciones en probabilidades a lo largo de ``axis``.

    .. math:: p_i = e^{z_i - m} / \sum_j e^{z_j - m}, \quad m = \max_j z_j

    Restar el máximo ``m`` no cambia el resultado y evita que ``exp`` desborde.
    Las entradas ``-inf`` reciben probabilidad cero.

    Ejemplo: ``softmax(np.array([0.0, 0.0]))`` da ``[0.5, 0.5]``.
    """
    x = check_array("x", x)
    xp = array_namespace(x)
    axis = _axis(x, axis)
    if not xp.isdtype(x.dtype, "real floating"):
        x = xp.astype(x, xp.float64)
    e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
    return e / xp.sum(e, axis=axis, keepdims=True)


def log_softmax(x: Any, axis: int = -1) -> Any:
    r"""Logaritmo de :func:`softmax`, calculado de forma estable.

    .. math:: \log p_i = z_i - m - \log \sum_j e^{z_j - m}
    """
    x = check_array("x", x)
    xp = array_namespace(x)
    axis = _axis(x, axis)
    if not xp.isdtype(x.dtype, "real floating"):
        x = xp.astype(x, xp.float64)
    shifted = x - xp.max(x, axis=axis, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))
