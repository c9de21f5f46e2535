"""Mirar el GPT por dentro: contar sus parámetros y resumir sus cabezas de atención.

:func:`count_parameters_formula` cuenta los parámetros de una configuración solo con
aritmética (sin construir el modelo) y :func:`head_patterns` resume a dónde miran las
cabezas de un modelo entrenado. Se importan también desde :mod:`libroia.gpt`.

Capítulo 5, «El transformer por dentro».
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from libroia._checks import describe_shape

if TYPE_CHECKING:  # libroia.gpt importa este módulo
    from libroia.gpt import GPTConfig

__all__ = ["count_parameters_formula", "head_patterns"]


def count_parameters_formula(config: GPTConfig) -> dict[str, int]:
    """Número de parámetros por componente, calculado solo con aritmética.

    Con ``V`` vocabulario, ``d`` ancho, ``L`` capas, ``H`` ancho oculto y ``b = 1`` si
    hay sesgos::

        incrustaciones  V·d
        posiciones      T_max·d (solo si se aprenden)
        atención        L·(4·d² + 4·b·d)                 W_q, W_k, W_v, W_o
        MLP             L·(2·d·H + b·(H + d))            ReLU, GELU, SiLU
                        L·(3·d·H + b·(2H + d))           SwiGLU
        normas          (2L + 1)·d·(1 + b)   con LayerNorm;   (2L + 1)·d con RMSNorm
        cabeza          V·d (0 si comparte la matriz de incrustación)

    Ejemplo: GPT-2 pequeño (V = 50 257, T = 1024, d = 768, L = 12) da 124 439 808.
    """
    V, d, L, H, T = (
        config.vocab_size, config.d_model, config.n_layers, config.hidden, config.context
    )
    b = int(config.bias)
    if config.activation == "swiglu":
        mlp = 3 * d * H + b * (2 * H + d)
    else:
        mlp = 2 * d * H + b * (H + d)
    per_norm = d * (1 + b) if config.norm == "layernorm" else d
    return {
        "embeddings": V * d,
        "positions": T * d if config.positions == "learned" else 0,
        "attention": L * (4 * d * d + 4 * b * d),
        "mlp": L * mlp,
        "norms": (2 * L + 1) * per_norm,
        "head": 0 if config.tie_embeddings else V * d,
    }


def head_patterns(weights: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Resume a dónde mira cada cabeza: cuatro tensores ``(L, h)`` con pesos medios.

    ``"previous"``: peso en la ficha anterior (``s = t − 1``); ``"self"``: en la propia
    ficha (``s = t``); ``"first"``: en la primera (``s = 0``); ``"peak"``: el mayor peso
    de la fila, sea cual sea la ficha (1 = mira a una sola, ``1/(t+1)`` = reparte por
    igual). Se promedia sobre el lote y sobre las filas ``t ≥ 2``, donde las tres
    posiciones son distintas.

    Parámetros
    ----------
    weights : lista de ``L`` tensores ``(N, h, T, T)`` con ``T ≥ 3``, como los que
        devuelve :meth:`GPT.attention_weights`.

    Ejemplo: una cabeza que siempre mira a la ficha anterior da ``previous = peak = 1`` y
    ``self = first = 0``.
    """
    if not isinstance(weights, (list, tuple)) or not weights:
        raise ValueError("`weights` debe ser una lista no vacía de tensores (N, h, T, T)")
    w = torch.stack(list(weights))  # (L, N, h, T, T)
    if w.ndim != 5 or w.shape[-1] != w.shape[-2] or w.shape[-1] < 3:
        raise ValueError(
            f"cada elemento de `weights` debe tener forma (N, h, T, T) con T ≥ 3, pero "
            f"tienen forma {describe_shape(w.shape[1:])}"
        )
    rows = w[..., 2:, :]  # (L, N, h, T − 2, T): filas t = 2, …, T − 1
    t = torch.arange(2, w.shape[-1])  # (T − 2,)
    previous = rows.gather(-1, (t - 1).expand(*rows.shape[:-1])[..., None])[..., 0]
    itself = rows.gather(-1, t.expand(*rows.shape[:-1])[..., None])[..., 0]
    return {
        "previous": previous.mean(dim=(1, 3)),  # (L, h)
        "self": itself.mean(dim=(1, 3)),  # (L, h)
        "first": rows[..., 0].mean(dim=(1, 3)),  # (L, h)
        "peak": rows.amax(dim=-1).mean(dim=(1, 3)),  # (L, h)
    }
