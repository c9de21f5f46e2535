"""Comprobaciones de argumentos compartidas por todo el paquete.

Cada función valida un argumento y, si no sirve, lanza ``ValueError`` o
``TypeError`` con un mensaje en español que nombra el argumento, lo que se
esperaba y lo que se recibió, al estilo de::

    `top_p` debe estar en (0, 1], pero vale 1.5

Las funciones devuelven el valor ya convertido (por ejemplo, un ``int`` de
Python), para que quien llama pueda escribir ``k = check_int("k", k, min_value=1)``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "array_namespace",
    "check_array",
    "check_bool_array",
    "check_choice",
    "check_class_ids",
    "check_finite",
    "check_float",
    "check_int",
    "check_ndim",
    "check_numpy",
    "check_probability",
    "check_same_kind",
    "check_shape",
    "check_text",
    "check_token_ids",
    "describe_shape",
    "is_torch",
]


def is_torch(x: Any) -> bool:
    """Indica si ``x`` es un tensor de PyTorch (sin importar torch si no hace falta)."""
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def describe_shape(shape: Sequence[int]) -> str:
    """Escribe una forma como en el texto: ``(2, 3, 4)``."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ", ".join(str(s) for s in shape) + ")"


def array_namespace(*arrays: Any):
    """Espacio de nombres del *array API* común a ``arrays`` (NumPy o PyTorch).

    Lanza ``TypeError`` si se mezclan tipos (un arreglo de NumPy con un tensor)
    o si alguno no es un arreglo.
    """
    from array_api_compat import array_namespace as _ns

    try:
        return _ns(*arrays)
    except TypeError as err:
        kinds = ", ".join(sorted({type(a).__name__ for a in arrays}))
        raise TypeError(
            "los argumentos deben ser todos arreglos de NumPy o todos tensores de PyTorch, "
            f"pero se recibieron: {kinds}"
        ) from err


def check_array(name: str, x: Any) -> Any:
    """Exige un arreglo de NumPy o un tensor de PyTorch con números reales.

    Las listas y tuplas de Python se convierten a arreglos de NumPy.
    """
    if isinstance(x, (list, tuple)):
        x = np.asarray(x)
    if not (isinstance(x, np.ndarray) or is_torch(x)):
        raise TypeError(
            f"`{name}` debe ser un arreglo de NumPy o un tensor de PyTorch, "
            f"pero es de tipo {type(x).__name__}"
        )
    dtype = str(x.dtype)
    if "complex" in dtype or dtype in ("object", "bool", "torch.bool") or dtype.startswith("<U"):
        raise TypeError(f"`{name}` debe contener números reales, pero su tipo es {dtype}")
    return x


def check_bool_array(name: str, x: Any) -> Any:
    """Exige un arreglo o tensor booleano (``True`` = permitido)."""
    if isinstance(x, (list, tuple)):
        x = np.asarray(x)
    if not (isinstance(x, np.ndarray) or is_torch(x)):
        raise TypeError(
            f"`{name}` debe ser un arreglo o tensor booleano, "
            f"pero es de tipo {type(x).__name__}"
        )
    if str(x.dtype) not in ("bool", "torch.bool"):
        raise TypeError(
            f"`{name}` debe ser booleana (True = permitido), pero su tipo es {x.dtype}"
        )
    return x


def check_ndim(name: str, x: Any, min_ndim: int, layout: str | None = None) -> None:
    """Exige al menos ``min_ndim`` dimensiones; ``layout`` describe la forma esperada."""
    if x.ndim < min_ndim:
        expected = layout or f"al menos {min_ndim} dimensiones"
        raise ValueError(
            f"`{name}` debe tener forma {expected}, pero tiene forma {describe_shape(x.shape)}"
        )


def check_finite(name: str, x: Any) -> None:
    """Exige que todos los valores sean finitos (ni ``inf`` ni ``nan``)."""
    xp = array_namespace(x)
    if not bool(xp.all(xp.isfinite(x))):
        raise ValueError(f"`{name}` contiene valores no finitos (inf o nan)")


def check_same_kind(**arrays: Any) -> None:
    """Exige que todos los arreglos sean del mismo tipo (todos NumPy o todos PyTorch)."""
    kinds = {name: is_torch(a) for name, a in arrays.items() if a is not None}
    if len(set(kinds.values())) > 1:
        torch_names = [n for n, t in kinds.items() if t]
        numpy_names = [n for n, t in kinds.items() if not t]
        raise TypeError(
            "no se pueden mezclar NumPy y PyTorch: "
            f"{', '.join(f'`{n}`' for n in torch_names)} son tensores y "
            f"{', '.join(f'`{n}`' for n in numpy_names)} son arreglos de NumPy"
        )


def check_int(
    name: str, value: Any, *, min_value: int | None = None, max_value: int | None = None
) -> int:
    """Exige un entero (se aceptan ``int`` de Python y enteros de NumPy, no ``bool``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` debe ser un número entero, pero es {value!r}")
    value = int(value)
    if min_value is not None and value < min_value:
        raise ValueError(f"`{name}` debe ser un entero ≥ {min_value}, pero vale {value}")
    if max_value is not None and value > max_value:
        raise ValueError(f"`{name}` debe ser un entero ≤ {max_value}, pero vale {value}")
    return value


def check_float(
    name: str,
    value: Any,
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
) -> float:
    """Exige un número real finito, opcionalmente dentro de un intervalo.

    Se aceptan enteros donde tiene sentido un real (``temperature=1`` vale).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` debe ser un número real, pero es {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"`{name}` debe ser un número finito, pero vale {value}")
    low_ok = min_value is None or (value >= min_value if min_inclusive else value > min_value)
    high_ok = max_value is None or (value <= max_value if max_inclusive else value < max_value)
    if not (low_ok and high_ok):
        left = "(-∞" if min_value is None else ("[" if min_inclusive else "(") + f"{min_value:g}"
        right = "∞)" if max_value is None else f"{max_value:g}" + ("]" if max_inclusive else ")")
        raise ValueError(f"`{name}` debe estar en {left}, {right}, pero vale {value:g}")
    return value


def check_probability(name: str, value: Any) -> float:
    """Exige una probabilidad en (0, 1], como ``top_p`` o ``min_p``."""
    return check_float(name, value, min_value=0.0, max_value=1.0, min_inclusive=False)


def check_class_ids(
    scores_name: str, scores: Any, ids_name: str, ids: Any, *, min_ndim: int = 1
) -> tuple[Any, Any, Any]:
    """Comprueba unas puntuaciones ``(..., V)`` y los índices de clase ``(...)`` que eligen.

    ``ids`` debe tener la forma de ``scores`` sin la última dimensión, ser entero y
    estar entre 0 y V - 1. Devuelve ``(scores, ids como int64, espacio de nombres)``.
    """
    scores = check_array(scores_name, scores)
    ids = check_array(ids_name, ids)
    xp = array_namespace(scores, ids)
    if scores.ndim < min_ndim or tuple(ids.shape) != tuple(scores.shape[:-1]):
        layout = "(..., T, V)" if min_ndim >= 2 else "(..., V)"
        raise ValueError(
            f"`{ids_name}` debe tener la forma de `{scores_name}` sin la última dimensión: "
            f"`{scores_name}` tiene forma {describe_shape(scores.shape)} (se espera {layout}) "
            f"y `{ids_name}` tiene forma {describe_shape(ids.shape)}"
        )
    if not xp.isdtype(ids.dtype, "integral"):
        raise TypeError(f"`{ids_name}` debe contener enteros, pero su tipo es {ids.dtype}")
    V = scores.shape[-1]
    if math.prod(ids.shape) and (int(xp.min(ids)) < 0 or int(xp.max(ids)) >= V):
        raise ValueError(
            f"`{ids_name}` debe estar entre 0 y V - 1 = {V - 1}, pero va de "
            f"{int(xp.min(ids))} a {int(xp.max(ids))}"
        )
    return scores, xp.astype(ids, xp.int64), xp


def check_choice(name: str, value: Any, allowed: Sequence[str]) -> str:
    """Exige una de las opciones de ``allowed`` (textos exactos, sin subcadenas).

    >>> check_choice("norm", "rmsnorm", ("layernorm", "rmsnorm"))
    'rmsnorm'
    """
    if not isinstance(value, str) or value not in tuple(allowed):
        options = ", ".join(f'"{a}"' for a in allowed)
        raise ValueError(f"`{name}` debe ser uno de {options}, pero vale {value!r}")
    return value


def check_text(name: str, value: Any, *, allow_empty: bool = True) -> str:
    """Exige un texto (``str``); con ``allow_empty=False``, además no vacío.

    >>> check_text("prompt", "Hola")
    'Hola'
    """
    if not isinstance(value, str):
        raise TypeError(
            f"`{name}` debe ser un texto (str), pero es {type(value).__name__}: {value!r:.80}"
        )
    if not allow_empty and not value:
        raise ValueError(f"`{name}` debe ser un texto no vacío, pero es ''")
    return value


def check_token_ids(name: str, ids: Any, *, vocab_size: int | None = None) -> list[int]:
    """Exige una secuencia de ids enteros ≥ 0 (y < ``vocab_size`` si se da); la devuelve como lista.

    Acepta listas, tuplas y arreglos o tensores enteros de una dimensión; rechaza
    reales (``1.0``), booleanos y negativos, que la indexación de Python aceptaría
    en silencio.

    >>> check_token_ids("ids", [3, 1, 2], vocab_size=4)
    [3, 1, 2]
    """
    if isinstance(ids, np.ndarray) or is_torch(ids):
        if ids.ndim != 1:
            raise ValueError(
                f"`{name}` debe ser una secuencia de una dimensión (T,), "
                f"pero tiene forma {describe_shape(ids.shape)}"
            )
        if "int" not in str(ids.dtype):
            raise TypeError(f"`{name}` debe contener enteros, pero su tipo es {ids.dtype}")
        values = [int(i) for i in ids.tolist()]
    elif isinstance(ids, (list, tuple, range)):
        bad = [i for i in ids if isinstance(i, bool) or not isinstance(i, numbers.Integral)]
        if bad:
            raise TypeError(f"`{name}` debe contener enteros, pero contiene {bad[0]!r}")
        values = [int(i) for i in ids]
    else:
        raise TypeError(
            f"`{name}` debe ser una lista de enteros, pero es de tipo {type(ids).__name__}"
        )
    low = min(values, default=0)
    high = max(values, default=0)
    if low < 0 or (vocab_size is not None and high >= vocab_size):
        upper = "" if vocab_size is None else f" y < {vocab_size}"
        raise ValueError(f"`{name}` debe contener ids ≥ 0{upper}, pero va de {low} a {high}")
    return values


def check_numpy(name: str, x: Any) -> np.ndarray:
    """Exige un arreglo real de NumPy (las listas se convierten); rechaza tensores de PyTorch.

    Para las funciones escritas solo para NumPy (las del capítulo 1 y la red
    recurrente del capítulo 3).

    >>> check_numpy("x", [1.0, 2.0])
    array([1., 2.])
    """
    x = check_array(name, x)
    if is_torch(x):
        raise TypeError(
            f"`{name}` debe ser un arreglo de NumPy, pero es un tensor de PyTorch "
            "(usa `.detach().numpy()`)"
        )
    return x


def check_shape(
    name: str, x: Any, expected: Sequence[int | None], layout: str | None = None
) -> None:
    """Exige la forma ``expected`` (``None`` = cualquier tamaño en esa dimensión).

    ``layout`` describe la forma esperada en el mensaje, como en el texto:
    ``"(N, T, d)"``; por omisión se escribe ``expected`` con ``·`` en los ``None``.

    >>> check_shape("W", np.zeros((2, 3)), (2, None), "(d_in, d_h)")
    >>> check_shape("W", np.zeros((3, 3)), (2, None), "(d_in, d_h) con d_in = 2")
    Traceback (most recent call last):
    ...
    ValueError: `W` debe tener forma (d_in, d_h) con d_in = 2, pero tiene forma (3, 3)
    """
    shape = tuple(x.shape)
    ok = len(shape) == len(expected) and all(
        e is None or s == e for s, e in zip(shape, expected, strict=True)
    )
    if not ok:
        if layout is None:
            layout = "(" + ", ".join("·" if e is None else str(e) for e in expected) + (
                ",)" if len(expected) == 1 else ")"
            )
        raise ValueError(
            f"`{name}` debe tener forma {layout}, pero tiene forma {describe_shape(shape)}"
        )
