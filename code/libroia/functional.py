"""Funciones elementales que usan varios capítulos: softmax y log-softmax.

Escritas una sola vez sobre el *array API*: aceptan arreglos de NumPy o
tensores de PyTorch y devuelven el mismo tipo. Son la única softmax del
paquete: la atención (:func:`libroia.attention.masked_softmax`) y el muestreo
se construyen sobre ellas.

Convención para una fila entera de ``-inf`` (ningún elemento permitido, por
ejemplo una consulta cuya máscara lo prohíbe todo): :func:`softmax` devuelve
una fila de **ceros** (no ``nan``), como ``F.scaled_dot_product_attention`` de
PyTorch ≥ 2.5, y :func:`log_softmax` una fila de ``-inf`` (el logaritmo de
cero). Así una fila vacía no contamina con ``nan`` lo que venga después; quien
necesite una distribución de verdad debe comprobar que la fila no esté vacía.
"""

from __future__ import annotations

from typing import Any

from libroia._checks import array_namespace, check_array, check_int

__all__ = ["check_axis", "log_softmax", "softmax", "unnormalized_softmax"]


def check_axis(x: Any, axis: Any) -> int:
    """Exige un eje válido de ``x`` (de ``-x.ndim`` a ``x.ndim - 1``) y lo devuelve.

    >>> import numpy as np
    >>> check_axis(np.zeros((2, 3)), -1)
    -1
    >>> check_axis(np.zeros((2, 3)), 2)
    Traceback (most recent call last):
    ...
    ValueError: `axis` debe estar entre -2 y 1 para un arreglo de 2 dimensiones, pero vale 2
    """
    axis = check_int("axis", axis)
    if x.ndim == 0:
        raise ValueError(
            "`x` debe tener al menos una dimensión para normalizar a lo largo de `axis`, "
            "pero es un escalar (forma ())"
        )
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(
            f"`axis` debe estar entre {-x.ndim} y {x.ndim - 1} para un arreglo de "
            f"{x.ndim} dimensiones, pero vale {axis}"
        )
    return axis


def _as_float(xp: Any, x: Any) -> Any:
    """Los enteros se convierten a ``float64``; los reales conservan su tipo."""
    return x if xp.isdtype(x.dtype, "real floating") else xp.astype(x, xp.float64)


def unnormalized_softmax(x: Any, axis: int = -1, *, overwrite: bool = False) -> tuple[Any, Any]:
    r"""Numerador y denominador de la softmax: ``(e, z)`` con ``softmax(x) = e / z``.

    .. math:: e_i = e^{x_i - m}, \quad z = \sum_j e_j, \quad m = \max_j x_j

    ``z`` conserva el eje ``axis`` con tamaño 1, para poder dividir directamente.
    Una fila entera de ``-inf`` da ``e = 0`` y ``z = 1``, así que ``e / z = 0``.
    Separar la división sirve a la atención por bloques: se divide la salida
    ``A v`` (pocos números) en lugar de los pesos (capítulo 4). Con
    ``overwrite=True`` se reutiliza la memoria de ``x``, que queda modificado.

    >>> import numpy as np
    >>> e, z = unnormalized_softmax(np.array([0.0, np.log(3.0)]))
    >>> e, z
    (array([0.33333333, 1.        ]), array([1.33333333]))
    """
    x = check_array("x", x)
    xp = array_namespace(x)
    axis = check_axis(x, axis)
    if not xp.isdtype(x.dtype, "real floating"):
        x, overwrite = xp.astype(x, xp.float64), True  # la copia ya es nuestra
    m = xp.max(x, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0.0)  # fila toda -inf: evita (-inf) - (-inf) = nan
    if overwrite:
        x -= m  # en el sitio, sin copia
        e = xp.exp(x)
    else:
        e = xp.exp(x - m)
    z = xp.sum(e, axis=axis, keepdims=True)
    return e, xp.where(z > 0.0, z, 1.0)  # fila vacía: 0 / 1 = 0


def softmax(x: Any, axis: int = -1, *, overwrite: bool = False) -> Any:
    r"""Convierte puntuaciones en probabilidades a lo largo de ``axis``.

    .. math:: p_i = e^{x_i - m} / \sum_j e^{x_j - m}, \quad m = \max_j x_j

    Restar el máximo ``m`` no cambia el resultado y evita que ``exp`` desborde.
    Las entradas ``-inf`` reciben probabilidad cero; si **toda** la fila es
    ``-inf``, la fila resultante es de ceros (no suma 1; ver la convención del
    módulo). Los enteros se convierten a ``float64``. Con ``overwrite=True`` se
    reutiliza la memoria de ``x`` (queda modificado; no sirve si PyTorch tiene
    que derivar a través de ``x``).

    Parámetros
    ----------
    x : arreglo de NumPy o tensor de PyTorch ``(..., V, ...)``.
    axis : eje que se normaliza.

    Devuelve un arreglo de la misma forma y tipo (NumPy o PyTorch) que ``x``.

    >>> import numpy as np
    >>> softmax(np.array([0.0, 0.0]))
    array([0.5, 0.5])
    >>> softmax(np.array([[0.0, -np.inf], [-np.inf, -np.inf]]))
    array([[1., 0.],
           [0., 0.]])
    """
    e, z = unnormalized_softmax(x, axis, overwrite=overwrite)
    if overwrite:
        e /= z  # en el sitio: e ocupa la memoria de x
        return e
    return e / z


def log_softmax(x: Any, axis: int = -1) -> Any:
    r"""Logaritmo de :func:`softmax`, calculado de forma estable.

    .. math:: \log p_i = x_i - m - \log \sum_j e^{x_j - m}

    Una fila entera de ``-inf`` da una fila de ``-inf`` (el logaritmo de cero).
    Cuando PyTorch tiene que derivar a través de ``x`` (``x.requires_grad``), se
    delega en ``torch.log_softmax``: es la misma ecuación, pero su derivada está
    fusionada y no guarda ``exp(x - m)`` para la pasada hacia atrás.

    >>> import numpy as np
    >>> log_softmax(np.array([0.0, 0.0]))
    array([-0.69314718, -0.69314718])
    >>> log_softmax(np.array([-np.inf, -np.inf]))
    array([-inf, -inf])
    """
    x = check_array("x", x)
    xp = array_namespace(x)
    axis = check_axis(x, axis)
    x = _as_float(xp, x)
    if getattr(x, "requires_grad", False):
        # Entrenamiento: la misma cuenta con el núcleo fusionado de PyTorch, cuya derivada
        # no guarda los intermedios (``tests/package/test_functional.py`` comprueba que coinciden).
        import torch

        return torch.log_softmax(x, dim=axis)
    m = xp.max(x, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0.0)  # fila toda -inf: evita (-inf) - (-inf) = nan
    shifted = x - m
    z = xp.sum(xp.exp(shifted), axis=axis, keepdims=True)
    return shifted - xp.log(xp.where(z > 0.0, z, 1.0))  # fila vacía: -inf - 0 = -inf
