"""Máscaras de atención: causal y de relleno (``True`` = la consulta puede mirar).

Es la convención de ``F.scaled_dot_product_attention`` de PyTorch (la contraria
a la de ``torch.nn.MultiheadAttention``). Las usa :mod:`libroia.attention`, que
también las exporta. Se explican en el capítulo 4, «Atención».
"""

from __future__ import annotations

from typing import Any

import numpy as np
from array_api_compat import device as _device

from libroia._checks import array_namespace, check_int, describe_shape, is_torch

__all__ = ["causal_mask", "padding_mask"]


def causal_mask(T_q: int, T_k: int | None = None, *, offset: int = 0, like: Any = None) -> Any:
    """Máscara causal ``(T_q, T_k)``: la consulta ``i`` solo ve las claves ``j ≤ i + offset``.

    Con ``offset=0`` es la parte triangular inferior alineada arriba a la
    izquierda, igual que ``is_causal=True`` de PyTorch. Con una caché de claves
    y valores (``T_k = T_pasado + T_q``) se usa ``offset=T_pasado``: la consulta
    nueva ``i`` ocupa la posición absoluta ``T_pasado + i``.

    Parámetros
    ----------
    T_q, T_k : número de consultas y de claves (``T_k = T_q`` si se omite).
    offset : posición absoluta de la primera consulta.
    like : arreglo o tensor cuyo tipo y dispositivo se copian (NumPy si se omite).

    Ejemplo::

        >>> causal_mask(3).astype(int)
        array([[1, 0, 0],
               [1, 1, 0],
               [1, 1, 1]])
    """
    T_q = check_int("T_q", T_q, min_value=0)
    T_k = T_q if T_k is None else check_int("T_k", T_k, min_value=0)
    offset = check_int("offset", offset, min_value=0)
    xp = np if like is None else array_namespace(like)
    dev = None if like is None else _device(like)
    rows = xp.arange(T_q, device=dev)[:, None] + offset  # (T_q, 1): posición de cada consulta
    cols = xp.arange(T_k, device=dev)[None, :]  # (1, T_k): posición de cada clave
    return rows >= cols  # (T_q, T_k)


def padding_mask(lengths: Any, T: int) -> Any:
    """Máscara de relleno ``(N, 1, T)``: ``True`` en los tokens reales de cada secuencia.

    La secuencia ``n`` ocupa las posiciones ``0 … lengths[n]-1``; el resto es
    relleno (*padding*) que ninguna consulta debe mirar. La forma ``(N, 1, T)``
    se difunde a ``(N, T_q, T)``: la misma fila para todas las consultas. Para
    tensores con cabezas ``(N, h, T_q, T)`` añade un eje: ``mask[:, None]``
    (:class:`MultiHeadAttention` lo hace por ti).

    Parámetros
    ----------
    lengths : enteros ``(N,)`` entre 0 y ``T`` (lista, NumPy o PyTorch).
    T : longitud de las secuencias ya rellenadas.

    Ejemplo::

        >>> padding_mask([2, 3], 3).astype(int)
        array([[[1, 1, 0]],
        <BLANKLINE>
               [[1, 1, 1]]])
    """
    T = check_int("T", T, min_value=0)
    if isinstance(lengths, (list, tuple)):
        lengths = np.asarray(lengths, dtype=np.int64)
    if not (isinstance(lengths, np.ndarray) or is_torch(lengths)):
        raise TypeError(f"`lengths` debe ser una lista, un arreglo o un tensor de enteros, "
                        f"pero es de tipo {type(lengths).__name__}")
    xp = array_namespace(lengths)
    if lengths.ndim != 1 or not xp.isdtype(lengths.dtype, "integral"):
        raise ValueError(
            f"`lengths` debe ser un vector de enteros (N,), pero tiene forma "
            f"{describe_shape(lengths.shape)} y tipo {lengths.dtype}"
        )
    if lengths.shape[0] and (int(xp.min(lengths)) < 0 or int(xp.max(lengths)) > T):
        raise ValueError(
            f"`lengths` debe estar entre 0 y T = {T}, pero va de "
            f"{int(xp.min(lengths))} a {int(xp.max(lengths))}"
        )
    positions = xp.arange(T, device=_device(lengths))  # (T,)
    return positions[None, None, :] < lengths[:, None, None]  # (N, 1, T)
