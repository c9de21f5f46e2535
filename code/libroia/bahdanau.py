"""Atención aditiva (Bahdanau et al., 2015): una pequeña red puntúa cada pareja.

Fue la primera atención de la traducción automática neuronal: en vez de
resumir toda la frase de entrada en un único vector, el decodificador consulta
en cada paso todas las anotaciones del codificador. La puntuación de la pareja
(consulta ``i``, clave ``j``) la da una red de una capa oculta::

    e_ij = w_score · tanh(q_i W_q + k_j W_k)

La función está escrita una sola vez sobre el *array API* (NumPy o PyTorch,
derivable con PyTorch) y comparte la softmax con máscara de
:mod:`libroia.attention`. Se explica en el capítulo 4, «Atención».
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from libroia._attention_checks import (
    broadcast_batch,
    check_finite_sum,
    check_floating,
    check_mask,
)
from libroia._checks import (
    array_namespace,
    check_array,
    check_int,
    check_ndim,
    check_same_kind,
    describe_shape,
)
from libroia.attention import masked_softmax

__all__ = ["AdditiveAttention", "additive_attention"]


def additive_attention(
    q: Any, k: Any, v: Any, w_q: Any, w_k: Any, w_score: Any, mask: Any = None
) -> tuple[Any, Any]:
    """Atención aditiva de Bahdanau et al. (2015): una pequeña red puntúa cada pareja.

    Implementa ``e_ij = w_score · tanh(q_i W_q + k_j W_k)``,
    ``A = softmax(e)`` (con la máscara) y ``salida = A v``.

    Parámetros
    ----------
    q : consultas ``(..., T_q, d_q)`` (en Bahdanau, el estado del decodificador).
    k : claves ``(..., T_k, d_k)`` (las anotaciones del codificador).
    v : valores ``(..., T_k, d_v)`` (en Bahdanau, las mismas anotaciones).
    w_q : ``(d_q, d_attn)``; w_k : ``(d_k, d_attn)``; w_score : ``(d_attn,)``.
    mask : booleana difundible a ``(..., T_q, T_k)``; ``True`` = puede mirar.

    Devuelve ``(salida (..., T_q, d_v), pesos (..., T_q, T_k))``. Crea un
    intermedio ``(..., T_q, T_k, d_attn)``: cuesta ``d_attn`` veces más memoria
    que la atención de producto escalar.

    Ejemplo: con ``w_score = 0`` todas las parejas puntúan igual y la salida es la
    media de los valores::

        >>> import numpy as np
        >>> q, k = np.ones((1, 2)), np.ones((3, 2))                 # T_q = 1, T_k = 3
        >>> v = np.array([[0.0], [3.0], [6.0]])
        >>> out, w = additive_attention(q, k, v, np.ones((2, 4)), np.ones((2, 4)), np.zeros(4))
        >>> out, w.round(3)
        (array([[3.]]), array([[0.333, 0.333, 0.333]]))
    """
    arrays = {"q": q, "k": k, "v": v, "w_q": w_q, "w_k": w_k, "w_score": w_score}
    arrays = {name: check_array(name, x) for name, x in arrays.items()}
    check_same_kind(**arrays)
    q, k, v, w_q, w_k, w_score = arrays.values()
    xp = array_namespace(*arrays.values())
    check_floating(xp, **arrays)
    check_ndim("q", q, 2, "(..., T_q, d_q)")
    check_ndim("k", k, 2, "(..., T_k, d_k)")
    check_ndim("v", v, 2, "(..., T_k, d_v)")
    if w_score.ndim != 1:
        raise ValueError(f"`w_score` debe tener forma (d_attn,), pero tiene forma "
                         f"{describe_shape(w_score.shape)}")
    d_attn = w_score.shape[0]
    for name, w, rows in (("w_q", w_q, q.shape[-1]), ("w_k", w_k, k.shape[-1])):
        if tuple(w.shape) != (rows, d_attn):
            raise ValueError(
                f"`{name}` debe tener forma ({rows}, d_attn) con d_attn = {d_attn} "
                f"(el largo de `w_score`), pero tiene forma {describe_shape(w.shape)}"
            )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"`k` y `v` deben tener el mismo número de posiciones T_k, pero `k` tiene forma "
            f"{describe_shape(k.shape)} y `v` tiene forma {describe_shape(v.shape)}"
        )
    batch = broadcast_batch(q=q, k=k)  # lote de las puntuaciones
    broadcast_batch(q=q, k=k, v=v)
    if mask is not None:
        mask = check_mask(mask, q, (*batch, q.shape[-2], k.shape[-2]))
    check_finite_sum(xp, **arrays)

    q_proj = xp.matmul(q, w_q)[..., :, None, :]  # (..., T_q, 1, d_attn)
    k_proj = xp.matmul(k, w_k)[..., None, :, :]  # (..., 1, T_k, d_attn)
    hidden = xp.tanh(q_proj + k_proj)  # (..., T_q, T_k, d_attn)
    scores = xp.matmul(hidden, w_score)  # (..., T_q, T_k)
    weights = masked_softmax(scores, axis=-1, mask=mask)  # (..., T_q, T_k)
    return xp.matmul(weights, v), weights  # (..., T_q, d_v), (..., T_q, T_k)


class AdditiveAttention(nn.Module):
    """Atención aditiva (Bahdanau et al., 2015) como módulo: :func:`additive_attention`.

    Parámetros: ``d_q`` (ancho de las consultas), ``d_k`` (ancho de las
    claves) y ``d_attn`` (neuronas ocultas de la red que puntúa cada pareja).
    """

    def __init__(self, d_q: int, d_k: int, d_attn: int) -> None:
        super().__init__()
        d_q = check_int("d_q", d_q, min_value=1)
        d_k = check_int("d_k", d_k, min_value=1)
        d_attn = check_int("d_attn", d_attn, min_value=1)
        # Inicialización uniforme como la de nn.Linear: ±1/√(ancho de entrada).
        self.w_q = nn.Parameter(torch.empty(d_q, d_attn).uniform_(-1, 1) / math.sqrt(d_q))
        self.w_k = nn.Parameter(torch.empty(d_k, d_attn).uniform_(-1, 1) / math.sqrt(d_k))
        self.w_score = nn.Parameter(torch.empty(d_attn).uniform_(-1, 1) / math.sqrt(d_attn))

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``q (..., T_q, d_q)``, ``k (..., T_k, d_k)``, ``v`` (``k`` si se omite).

        Devuelve ``(salida (..., T_q, d_v), pesos (..., T_q, T_k))``.
        """
        v = k if v is None else v
        return additive_attention(q, k, v, self.w_q, self.w_k, self.w_score, mask)
