"""Mirar el GPT por dentro: contar sus parámetros y resumir sus cabezas de atención.

:func:`count_parameters_formula` cuenta los parámetros de una configuración solo con
aritmética (sin construir el modelo), con la misma fórmula que
:func:`libroia.scaling.params_breakdown`, y :func:`head_patterns` resume a dónde miran
las cabezas de un modelo entrenado. Está por encima del modelo: importa
:mod:`libroia.gpt`, nunca al revés.

Capítulo 5, «El transformer por dentro».
"""

from __future__ import annotations

import torch

from libroia._checks import describe_shape
from libroia.gpt import GPTConfig
from libroia.scaling import DecoderShape, params_breakdown

__all__ = ["count_parameters_formula", "head_patterns"]


def count_parameters_formula(config: GPTConfig) -> dict[str, int]:
    """Número de parámetros por componente de :class:`~libroia.gpt.GPT`, solo con aritmética.

    Con ``V`` vocabulario, ``d`` ancho, ``L`` capas, ``H`` ancho oculto y ``b = 1`` si
    hay sesgos::

        incrustaciones  V·d
        posiciones      T_max·d (solo si se aprenden)
        atención        L·(4·d² + 4·b·d)                 W_q, W_k, W_v, W_o
        MLP             L·(2·d·H + b·(H + d))            ReLU, GELU, SiLU
                        L·(3·d·H + b·(2H + d))           SwiGLU
        normas          (2L + 1)·d·(1 + b)   con LayerNorm;   (2L + 1)·d con RMSNorm
        cabeza          V·d (0 si comparte la matriz de incrustación)

    Es :func:`libroia.scaling.params_breakdown` (la fórmula general, también con
    atención de consultas agrupadas y expertos) aplicada a la forma de ``config``;
    las claves son las de :meth:`GPT.parameter_counts`.

    Ejemplo: GPT-2 pequeño (V = 50 257, T = 1024, d = 768, L = 12, h = 12, posiciones
    aprendidas) comparte la matriz de incrustación con la capa de salida; así tiene
    124 439 808 parámetros, y con una cabeza propia, V·d = 38 597 376 más::

        >>> gpt2 = GPTConfig(vocab_size=50257, context=1024, d_model=768, n_layers=12,
        ...                  n_heads=12, positions="learned", tie_embeddings=True)
        >>> sum(count_parameters_formula(gpt2).values())
        124439808
        >>> from dataclasses import replace
        >>> sum(count_parameters_formula(replace(gpt2, tie_embeddings=False)).values())
        163037184
    """
    if not isinstance(config, GPTConfig):
        raise TypeError(f"`config` debe ser un GPTConfig, pero es {type(config).__name__}")
    return params_breakdown(DecoderShape.from_gpt_config(config))


def head_patterns(weights: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Resume a dónde mira cada cabeza: cuatro tensores ``(L, h)`` con pesos medios.

    ``"previous"``: peso en el token anterior (``s = t − 1``); ``"self"``: en la propia
    token (``s = t``); ``"first"``: en el primero (``s = 0``); ``"peak"``: el mayor peso
    de la fila, sea cual sea el token (1 = mira a uno solo, ``1/(t+1)`` = reparte por
    igual). Se promedia sobre el lote y sobre las filas ``t ≥ 2``, donde las tres
    posiciones son distintas.

    Parámetros
    ----------
    weights : lista de ``L`` tensores ``(N, h, T, T)`` con ``T ≥ 3``, como los que
        devuelve :meth:`GPT.attention_weights`.

    Ejemplo: una cabeza que siempre mira al token anterior da ``previous = peak = 1`` y
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
