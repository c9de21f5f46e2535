"""Comprobaciones propias de los módulos de atención (``attention`` y ``bahdanau``).

Completan las de :mod:`libroia._checks`: tipos de coma flotante iguales, lotes
que se difunden y máscaras booleanas que encajan con las puntuaciones.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from libroia._checks import check_bool_array, check_finite, check_same_kind, describe_shape


def check_floating(xp: Any, **arrays: Any) -> None:
    """Exige arreglos de coma flotante y del mismo tipo (sin promociones silenciosas)."""
    for name, x in arrays.items():
        if not xp.isdtype(x.dtype, "real floating"):
            raise TypeError(
                f"`{name}` debe ser de coma flotante (float32 o float64), "
                f"pero su tipo es {x.dtype}"
            )
    dtypes = {name: x.dtype for name, x in arrays.items()}
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"`{n}` es {t}" for n, t in dtypes.items())
        raise TypeError(f"los argumentos deben tener el mismo tipo, pero {listed}")


def broadcast_batch(**arrays: Any) -> tuple:
    """Forma de lote común (todas las dimensiones menos las dos últimas) de ``arrays``.

    Se difunden como en ``matmul``; si no se puede, el mensaje nombra cada
    argumento con su forma completa.
    """
    try:
        return tuple(np.broadcast_shapes(*(tuple(x.shape[:-2]) for x in arrays.values())))
    except ValueError:
        listed = " y ".join(f"`{n}` tiene forma {describe_shape(x.shape)}"
                            for n, x in arrays.items())
        names = " y ".join(f"`{n}`" for n in arrays)
        raise ValueError(
            f"las dimensiones de lote (todas menos las dos últimas) de {names} no se pueden "
            f"difundir entre sí: {listed}"
        ) from None


def check_mask(mask: Any, like: Any, target: tuple) -> Any:
    """Exige una máscara booleana del mismo tipo que ``like`` que se difunda a ``target``."""
    mask = check_bool_array("mask", mask)
    check_same_kind(q=like, mask=mask)
    try:
        ok = tuple(np.broadcast_shapes(tuple(mask.shape), target)) == target
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"`mask` debe poder difundirse a la forma {describe_shape(target)} "
            f"(..., T_q, T_k), pero tiene forma {describe_shape(mask.shape)}"
        )
    return mask


def check_finite_sum(xp: Any, **arrays: Any) -> None:
    """Exige valores finitos (ni ``inf`` ni ``nan``) con una sola pasada barata: la suma.

    Si todos los valores son finitos, la suma también lo es, salvo que desborde:
    la de 70 000 unos en ``float16`` (máximo 65 504) da ``inf``. Por eso la suma se
    acumula en ``float32`` si el tipo es de 16 bits, y si aun así no es finita se
    mira valor a valor con :func:`libroia._checks.check_finite`, que solo lanza su
    error si de verdad hay un ``inf`` o un ``nan``. Que la suma desborde no dice
    nada de los productos ``q·k``: esos los vigila la comprobación de la salida.

    >>> import numpy as np
    >>> check_finite_sum(np, q=np.ones(70_000, dtype=np.float16))   # válido: no lanza
    >>> check_finite_sum(np, k=np.array([1.0, np.inf]))
    Traceback (most recent call last):
    ...
    ValueError: `k` contiene valores no finitos (inf o nan)
    """
    for name, x in arrays.items():
        wide = xp.float32 if x.dtype in (xp.float16, getattr(xp, "bfloat16", None)) else None
        with np.errstate(over="ignore", invalid="ignore"):  # NumPy avisaría del desbordamiento
            total = xp.sum(x) if wide is None else xp.sum(xp.astype(x, wide))
        if not bool(xp.isfinite(total)):
            check_finite(name, x)  # lanza si hay inf o nan; si no, la suma solo desbordó
