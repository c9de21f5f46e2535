"""Atención: producto escalar escalado, máscaras y atención multicabeza.

El núcleo, :func:`scaled_dot_product_attention`, está escrito **una sola vez** sobre
el *array API* (mediante ``array-api-compat``): si recibe arreglos de NumPy
devuelve arreglos de NumPy; si recibe tensores de PyTorch devuelve tensores, y
PyTorch puede derivar a través de él. Con ``need_weights=False`` calcula la
misma salida por bloques de consultas, sin crear nunca la matriz de pesos
``(T_q, T_k)`` entera (la idea de FlashAttention, Dao et al., 2022).
:class:`MultiHeadAttention` es PyTorch puro y llama a ese mismo núcleo, también
sin pesos; con :class:`KVCache` guarda las claves y los valores al generar. Es
también la atención de cada bloque del GPT del capítulo 5 (:mod:`libroia.gpt`).
La softmax es la de :mod:`libroia.functional` (:func:`masked_softmax` es su
variante con máscara). La atención aditiva de Bahdanau está en
:mod:`libroia.bahdanau` y las máscaras, en :mod:`libroia.masks` (también se
importan desde aquí).

Convención de máscaras (la de PyTorch para máscaras booleanas en
``F.scaled_dot_product_attention``): ``True`` = la consulta *puede* mirar esa
clave. Ojo: ``torch.nn.MultiheadAttention`` usa la convención contraria.

Se explica en el capítulo 4, «Atención».
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from array_api_compat import device as _device
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
    check_bool_array,
    check_float,
    check_int,
    check_ndim,
    check_same_kind,
    describe_shape,
    is_torch,
)
from libroia.functional import softmax, unnormalized_softmax
from libroia.masks import causal_mask, padding_mask
from libroia.positions import rotate_pairs

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "KVCache",
    "MultiHeadAttention",
    "causal_mask",
    "masked_softmax",
    "merge_heads",
    "padding_mask",
    "scaled_dot_product_attention",
    "split_heads",
]


# Consultas por bloque en el camino sin pesos. Elegido midiendo
# `benchmarks/bench_attention.py --sweep` en CPU, (N, h, T, d) = (8, 8, 512, 64):
# 64 fue el más rápido con 1 y con 2 hilos, con 32 y 128 cerca; con bloques
# menores pesa el coste fijo de cada operación, y con mayores, el trabajo
# desperdiciado en la diagonal y unas puntuaciones que ya no caben en la caché.
DEFAULT_BLOCK_SIZE = 64

# --------------------------------------------------------------------------- núcleo


def masked_softmax(x: Any, axis: int = -1, *, mask: Any = None, overwrite: bool = False) -> Any:
    """Softmax con máscara: :func:`libroia.functional.softmax` sobre lo que ``mask`` permite.

    Las posiciones con ``mask`` en ``False`` reciben probabilidad cero (equivale
    a poner su puntuación a ``-inf``); las demás se reparten el peso
    ``softmax(x)_j = exp(x_j - m) / Σ_l exp(x_l - m)`` con ``m = max_l x_l``. Si
    ninguna posición de una fila está permitida (o toda la fila vale ``-inf``),
    la fila resultante es de ceros, no ``nan``, como en PyTorch ≥ 2.5: es la
    convención de :mod:`libroia.functional`.

    Parámetros
    ----------
    x : puntuaciones, arreglo de NumPy o tensor de PyTorch.
    axis : eje que se normaliza (se valida: de ``-x.ndim`` a ``x.ndim - 1``).
    mask : booleana, difundible a la forma de ``x``; ``True`` = permitido.
    overwrite : reutiliza la memoria de ``x``, que queda modificado: ahorra
        dos copias del tamaño de ``x``, pero no sirve si PyTorch tiene que
        derivar a través de ``x``.

    Ejemplo::

        >>> masked_softmax(np.array([0.0, np.log(3.0)]))
        array([0.25, 0.75])
        >>> masked_softmax(np.array([0.0, np.log(3.0), 5.0]), mask=np.array([True, True, False]))
        array([0.25, 0.75, 0.  ])
    """
    x = check_array("x", x)
    if mask is not None:
        mask = check_bool_array("mask", mask)
        check_same_kind(x=x, mask=mask)
        try:
            fits = np.broadcast_shapes(tuple(mask.shape), tuple(x.shape)) == tuple(x.shape)
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(
                f"`mask` debe poder difundirse a la forma de `x`, {describe_shape(x.shape)}, "
                f"pero tiene forma {describe_shape(mask.shape)}"
            )
        xp = array_namespace(x, mask)
        x, overwrite = xp.where(mask, x, -math.inf), True  # copia nueva: se puede sobrescribir
    return softmax(x, axis, overwrite=overwrite)


def _half_dtype(*arrays: Any) -> Any:
    """El tipo de ``arrays`` si todos son del mismo tipo de 16 bits (``float16``, ``bfloat16``)."""
    dtypes = {str(getattr(a, "dtype", None)) for a in arrays}
    if len(dtypes) == 1 and dtypes.pop().removeprefix("torch.") in ("float16", "bfloat16"):
        return arrays[0].dtype
    return None


def _robust_numerics(fn: Callable) -> Callable:
    """Envuelve :func:`scaled_dot_product_attention` para que sus cuentas no desborden en falso.

    Con ``float16`` o ``bfloat16`` se calcula en ``float32`` y el resultado vuelve al
    tipo de la entrada: las sumas intermedias (la de la softmax o la de ``p v`` antes
    de dividir, en el camino por bloques) pueden pasar de 65 504 aunque la salida,
    una media ponderada de ``v``, quepa. Además se callan los avisos de NumPy por
    desbordamiento: la función comprueba su salida y, si no es finita, lanza un
    ``ValueError`` que dice qué desbordó.
    """

    @functools.wraps(fn)
    def wrapper(q: Any, k: Any, v: Any, *args: Any, **kwargs: Any) -> Any:
        half = _half_dtype(q, k, v)
        if half is not None:
            xp = array_namespace(q, k, v)
            q, k, v = (xp.astype(a, xp.float32) for a in (q, k, v))
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            output, weights = fn(q, k, v, *args, **kwargs)
        if half is None:
            return output, weights
        return xp.astype(output, half), (None if weights is None else xp.astype(weights, half))

    return wrapper


@_robust_numerics
def scaled_dot_product_attention(
    q: Any,
    k: Any,
    v: Any,
    mask: Any = None,
    *,
    causal: bool = False,
    scale: float | None = None,
    need_weights: bool = True,
    block_size: int | None = None,
) -> tuple[Any, Any]:
    """Atención de producto escalar escalado (Vaswani et al., 2017).

    Implementa ``A = softmax(q kᵀ / √d_k + M)`` y ``salida = A v``, donde ``M``
    vale 0 donde la consulta puede mirar y ``-inf`` donde no.

    Parámetros
    ----------
    q : consultas ``(..., T_q, d_k)``.
    k : claves ``(..., T_k, d_k)``.
    v : valores ``(..., T_k, d_v)``.
    mask : booleana, difundible a ``(..., T_q, T_k)``; ``True`` = puede mirar.
    causal : si es ``True``, la consulta ``i`` solo mira las claves ``j ≤ i``
        (máscara triangular ``(T_q, T_k)`` alineada arriba a la izquierda, como
        ``is_causal`` de PyTorch). Se combina con ``mask`` si se dan ambas.
    scale : factor de los productos escalares; ``1/√d_k`` si se omite.
    need_weights : con ``False`` no se devuelven los pesos (``None``) y la
        salida se calcula por bloques de ``block_size`` consultas: cada bloque
        solo crea sus puntuaciones ``(..., B, T_k)`` y, si ``causal``, solo
        contra las claves que puede ver. Cada bloque ``b`` de consultas hace
        ``salida_b = softmax(q_b kᵀ / √d_k + M_b) v``: misma salida, memoria
        ``O(T_k · B)`` en vez de ``O(T_q · T_k)`` por cabeza y la mitad de
        trabajo si es causal (capítulo 4, «Atención por bloques»).
    block_size : consultas por bloque con ``need_weights=False``;
        :data:`DEFAULT_BLOCK_SIZE` si se omite.

    Devuelve
    --------
    ``(salida, pesos)``: ``(..., T_q, d_v)`` y ``(..., T_q, T_k)`` (o ``None``
    con ``need_weights=False``), del mismo tipo que las entradas (NumPy o
    PyTorch). Cada fila de ``pesos`` suma 1, salvo la de una consulta sin
    ninguna clave permitida: esa fila de ``pesos`` y de ``salida`` es de ceros
    (no ``nan``), igual que en PyTorch.

    Las dimensiones de lote ``...`` se difunden como en ``matmul``. Los tres
    arreglos deben ser finitos y del mismo tipo de coma flotante.

    Ejemplo (una consulta, dos claves; ``d_k = 1``, así que ``√d_k = 1``)::

        >>> out, w = scaled_dot_product_attention(
        ...     np.array([[np.log(3.0)]]), np.array([[0.0], [1.0]]), np.array([[0.0], [4.0]]))
        >>> w, out   # pesos ∝ (e⁰, e^{ln 3}) = (1, 3)
        (array([[0.25, 0.75]]), array([[3.]]))
    """
    q, k, v = check_array("q", q), check_array("k", k), check_array("v", v)
    check_same_kind(q=q, k=k, v=v)
    xp = array_namespace(q, k, v)
    check_floating(xp, q=q, k=k, v=v)
    check_ndim("q", q, 2, "(..., T_q, d_k)")
    check_ndim("k", k, 2, "(..., T_k, d_k)")
    check_ndim("v", v, 2, "(..., T_k, d_v)")
    (T_q, d_k), T_k = q.shape[-2:], k.shape[-2]
    if k.shape[-1] != d_k:
        raise ValueError(
            f"`q` y `k` deben tener la misma última dimensión d_k, pero `q` tiene forma "
            f"{describe_shape(q.shape)} y `k` tiene forma {describe_shape(k.shape)}"
        )
    if v.shape[-2] != T_k:
        raise ValueError(
            f"`k` y `v` deben tener el mismo número de posiciones T_k, pero `k` tiene forma "
            f"{describe_shape(k.shape)} y `v` tiene forma {describe_shape(v.shape)}"
        )
    if T_k == 0:
        raise ValueError(f"`k` debe tener al menos una clave (T_k ≥ 1), pero tiene forma "
                         f"{describe_shape(k.shape)}")
    batch = broadcast_batch(q=q, k=k)  # lote de las puntuaciones q kᵀ
    broadcast_batch(q=q, k=k, v=v)
    if mask is not None:
        mask = check_mask(mask, q, (*batch, T_q, T_k))
    causal, need_weights = bool(causal), bool(need_weights)
    scale = 1.0 / math.sqrt(d_k) if scale is None else check_float("scale", scale)
    if block_size is not None:
        block_size = check_int("block_size", block_size, min_value=1)
        if need_weights:
            raise ValueError("`block_size` solo se usa con need_weights=False, pero "
                             "need_weights es True")
    check_finite_sum(xp, q=q, k=k, v=v)
    if not need_weights:
        output = _blockwise_attention(xp, q, k, v, mask, causal, scale,
                                      block_size or DEFAULT_BLOCK_SIZE)
        _check_no_overflow(xp, output, q, k, v, scale)
        return output, None

    # 1. Parecido entre cada consulta y cada clave. Escalar q (T_q·d_k números)
    #    cuesta menos que escalar las puntuaciones (T_q·T_k números).
    scores = xp.matmul(q * scale, xp.matrix_transpose(k))  # (..., T_q, T_k)

    # 2. Máscara aditiva: 0 donde se puede mirar, -inf donde no. Se suma en el
    #    sitio (sin otra copia T_q × T_k); matmul no guarda su salida para derivar.
    if causal:
        allowed = causal_mask(T_q, T_k, like=q)  # (T_q, T_k)
        mask = allowed if mask is None else (mask & allowed)
    if mask is not None:
        bias = xp.zeros(mask.shape, dtype=scores.dtype, device=_device(scores))
        scores += xp.where(mask, bias, -math.inf)  # (..., T_q, T_k)

    # 3. Cada fila se convierte en pesos positivos que suman 1. Si nadie va a
    #    derivar (NumPy, o PyTorch sin gradiente), se reutiliza la memoria de las
    #    puntuaciones: en la atención, mover datos cuesta más que la aritmética.
    no_grad = not getattr(scores, "requires_grad", False)
    weights = softmax(scores, axis=-1, overwrite=no_grad)  # (..., T_q, T_k)

    # 4. Media ponderada de los valores.
    output = xp.matmul(weights, v)  # (..., T_q, d_v)
    _check_no_overflow(xp, output, q, k, v, scale)
    return output, weights


def _blockwise_attention(
    xp: Any, q: Any, k: Any, v: Any, mask: Any, causal: bool, scale: float, block: int
) -> Any:
    """Salida de la atención, bloque de consultas a bloque, sin la matriz ``(T_q, T_k)``.

    Cada fila de la softmax solo depende de su propia consulta, así que las
    filas se pueden calcular por grupos: el bloque de consultas ``start:end``
    necesita las puntuaciones ``(..., B, T_vis)`` contra las claves que puede ver
    (``T_vis = end`` si es causal; ``T_k`` si no), nunca la tabla entera. Los
    argumentos ya vienen validados por :func:`scaled_dot_product_attention`.
    """
    T_q, T_k = q.shape[-2], k.shape[-2]
    if mask is not None and mask.ndim < 2:  # (T_k,) → (1, T_k): para poder cortar filas
        mask = xp.reshape(mask, (1,) * (2 - mask.ndim) + tuple(mask.shape))
    k_t = xp.matrix_transpose(k)  # (..., d_k, T_k)
    if T_q == 0:  # sin consultas no hay bloques: la salida vacía, con su forma
        return xp.matmul(xp.matmul(q, k_t), v)  # (..., 0, d_v)
    no_grad = not any(getattr(a, "requires_grad", False) for a in (q, k, v))
    blocks = []
    # Del último bloque al primero: con causal, el último es el que ve más claves,
    # y así cada bloque cabe en la memoria que acaba de soltar el anterior.
    for start in reversed(range(0, T_q, block)):
        end = min(start + block, T_q)
        # Causal: la consulta i ve las claves j ≤ i, así que el bloque ve las
        # claves 0 … end-1; las demás ni se tocan (ahí está la mitad del ahorro).
        T_vis = min(end, T_k) if causal else T_k
        scores = xp.matmul(q[..., start:end, :] * scale, k_t[..., :T_vis])  # (..., B, T_vis)
        # Máscara aditiva solo donde puede haber algo prohibido: sin máscara del
        # usuario, las claves j < start las ven todas las consultas del bloque.
        lo = 0 if mask is not None else min(start, T_vis)
        allowed = None
        if causal:
            allowed = causal_mask(end - start, T_vis - lo, offset=start - lo, like=q)
        if mask is not None:
            rows = slice(None) if mask.shape[-2] == 1 else slice(start, end)  # fila difundida
            cols = slice(None) if mask.shape[-1] == 1 else slice(0, T_vis)
            allowed = mask[..., rows, cols] if allowed is None else mask[..., rows, cols] & allowed
        if allowed is not None and lo < T_vis:
            bias = xp.zeros(allowed.shape, dtype=scores.dtype, device=_device(scores))
            scores[..., lo:] += xp.where(allowed, bias, -math.inf)  # (..., B, T_vis - lo)
        # Softmax sin dividir: se divide después la salida (B × d_v números) en
        # vez de los pesos (B × T_vis números), como hace FlashAttention.
        p, z = unnormalized_softmax(scores, -1, overwrite=no_grad)  # (..., B, T_vis), (..., B, 1)
        blocks.append(xp.matmul(p, v[..., :T_vis, :]) / z)  # (..., B, d_v)
    return xp.concat(blocks[::-1], axis=-2)  # (..., T_q, d_v)


def _check_no_overflow(xp: Any, output: Any, q: Any, k: Any, v: Any, scale: float) -> None:
    """Una pasada barata sobre la salida: si no es finita, algo desbordó; dice qué.

    Las entradas ya son finitas. Cada puntuación cumple
    ``|q·k| · scale ≤ d_k · max|q| · max|k| · scale``: si esa cota cabe en el tipo,
    las puntuaciones no pueden desbordar y el culpable es la media de ``v``.
    """
    if bool(xp.all(xp.isfinite(output))):
        return
    q_max, k_max = float(xp.max(xp.abs(q))), float(xp.max(xp.abs(k)))
    v_max = float(xp.max(xp.abs(v)))
    largest = float(torch.finfo(q.dtype).max if is_torch(q) else np.finfo(q.dtype).max)
    bound = q.shape[-1] * q_max * k_max * abs(scale)
    if bound < largest:
        raise ValueError(
            f"la salida de la atención desborda {q.dtype}: `v` tiene valores demasiado grandes "
            f"(máximo absoluto {v_max:.3g}) para el tipo"
        )
    raise ValueError(
        f"las puntuaciones q·kᵀ pueden desbordar {q.dtype}: `q` o `k` tienen valores demasiado "
        f"grandes (máximos absolutos {q_max:.3g} y {k_max:.3g})"
    )


# --------------------------------------------------------------------------- cabezas


def split_heads(x: Any, n_heads: int) -> Any:
    """Parte el ancho ``d`` en ``h`` cabezas: ``(N, T, d) → (N, h, T, d/h)``.

    Ejemplo: un lote ``(2, 6, 4096)`` con 32 cabezas da ``(2, 32, 6, 128)``::

        >>> split_heads(np.zeros((2, 6, 4096)), 32).shape
        (2, 32, 6, 128)
    """
    n_heads = check_int("n_heads", n_heads, min_value=1)
    x = check_array("x", x)
    if x.ndim != 3 or x.shape[-1] % n_heads:
        raise ValueError(
            f"`x` debe tener forma (N, T, d) con d divisible por n_heads = {n_heads}, "
            f"pero tiene forma {describe_shape(x.shape)}"
        )
    xp = array_namespace(x)
    N, T, d = x.shape
    x = xp.reshape(x, (N, T, n_heads, d // n_heads))  # (N, T, h, d/h): cortar el ancho
    return xp.permute_dims(x, (0, 2, 1, 3))  # (N, h, T, d/h): cada cabeza, su secuencia


def merge_heads(x: Any) -> Any:
    """Junta las cabezas: ``(N, h, T, d/h) → (N, T, d)``; inversa de :func:`split_heads`.

    >>> x = np.arange(24.0).reshape(1, 4, 6)                 # (N, T, d)
    >>> bool((merge_heads(split_heads(x, 3)) == x).all())
    True
    """
    x = check_array("x", x)
    if x.ndim != 4:
        raise ValueError(f"`x` debe tener forma (N, h, T, d/h), pero tiene forma "
                         f"{describe_shape(x.shape)}")
    xp = array_namespace(x)
    N, h, T, d_h = x.shape
    x = xp.permute_dims(x, (0, 2, 1, 3))  # (N, T, h, d/h): las cabezas, juntas por posición
    return xp.reshape(x, (N, T, h * d_h))  # (N, T, d): pegar las cabezas una tras otra


# --------------------------------------------------------------------------- módulos


class KVCache:
    """Claves y valores ya calculados, capa a capa, para generar token a token.

    Al generar, cada paso solo trae la consulta nueva: las claves y los valores
    de las posiciones anteriores no cambian (la atención es causal) y se guardan
    aquí en vez de recalcularse. ``keys[l]`` y ``values[l]`` son los tensores
    ``(N, h, T_pasado, d/h)`` de la capa ``l`` (``None`` mientras está vacía).
    Una sola :class:`MultiHeadAttention` usa una caché de una capa (la capa 0);
    el GPT del capítulo 5 crea una de ``L`` capas y cada bloque guarda en la suya.

    Parámetros
    ----------
    n_layers : número de capas ``L`` (1 por omisión).

    Ejemplo::

        >>> cache = KVCache(2)
        >>> k = torch.zeros(1, 4, 3, 8)                  # (N, h, T, d/h)
        >>> k_all, v_all = cache.update(0, k, k)
        >>> cache.layer_length(0), cache.layer_length(1), tuple(k_all.shape)
        (3, 0, (1, 4, 3, 8))
    """

    def __init__(self, n_layers: int = 1) -> None:
        self.n_layers = check_int("n_layers", n_layers, min_value=1)
        self.keys: list[torch.Tensor | None] = [None] * self.n_layers
        self.values: list[torch.Tensor | None] = [None] * self.n_layers

    def __repr__(self) -> str:
        return f"KVCache(n_layers={self.n_layers}, length={self.length})"

    def layer_length(self, layer: int) -> int:
        """Posiciones guardadas en la capa ``layer``."""
        layer = self._check_layer(layer)
        k = self.keys[layer]
        return 0 if k is None else int(k.shape[-2])

    @property
    def length(self) -> int:
        """Posiciones guardadas, ``T_pasado`` (las de la capa 0)."""
        return self.layer_length(0)

    @property
    def batch_size(self) -> int | None:
        """Tamaño del lote ``N`` guardado (``None`` si la caché está vacía)."""
        stored = next((k for k in self.keys if k is not None), None)
        return None if stored is None else int(stored.shape[0])

    def _check_layer(self, layer: int) -> int:
        return check_int("layer", layer, min_value=0, max_value=self.n_layers - 1)

    def update(
        self, layer: int, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Añade ``k, v (N, h, T, d/h)`` a la capa ``layer``; devuelve todo lo guardado.

        El resultado tiene forma ``(N, h, T_pasado + T, d/h)``. ``N``, ``h`` y ``d/h``
        deben coincidir con lo que ya hay: una caché es de un lote concreto.
        """
        layer = self._check_layer(layer)
        for name, t in (("k", k), ("v", v)):
            if not isinstance(t, torch.Tensor) or t.ndim != 4:
                got = describe_shape(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
                raise ValueError(f"`{name}` debe ser un tensor (N, h, T, d/h), pero es {got}")
        if k.shape != v.shape:
            raise ValueError(
                f"`k` y `v` deben tener la misma forma, pero tienen formas "
                f"{describe_shape(k.shape)} y {describe_shape(v.shape)}"
            )
        stored = self.keys[layer]
        if stored is not None:
            if k.shape[:2] != stored.shape[:2] or k.shape[3] != stored.shape[3]:
                raise ValueError(
                    f"`kv_cache` guarda en la capa {layer} claves de forma "
                    f"{describe_shape(stored.shape)} (N, h, T_pasado, d/h), pero llegan de forma "
                    f"{describe_shape(k.shape)}: N, h y d/h deben coincidir (una caché sirve "
                    f"para un solo lote)"
                )
            k = torch.cat([stored, k], dim=-2)  # (N, h, T_pasado + T, d/h)
            v = torch.cat([self.values[layer], v], dim=-2)  # (N, h, T_pasado + T, d/h)
        self.keys[layer], self.values[layer] = k, v
        return k, v


def _check_rope(rope: Any, T: int, d_head: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Exige ``rope = (cos, sin)``, dos tensores ``(T, d_h/2)``."""
    if not (isinstance(rope, (tuple, list)) and len(rope) == 2
            and all(isinstance(t, torch.Tensor) for t in rope)):
        raise TypeError(
            f"`rope` debe ser un par (cos, sin) de tensores ({T}, {d_head // 2}), pero es "
            f"{type(rope).__name__}"
        )
    cos, sin = rope
    if d_head % 2 or cos.shape != (T, d_head // 2) or sin.shape != cos.shape:
        raise ValueError(
            f"`rope` debe ser (cos, sin) de forma ({T}, d_h/2) con d_h = {d_head} par, pero "
            f"tienen formas {describe_shape(cos.shape)} y {describe_shape(sin.shape)}"
        )
    return cos, sin


class MultiHeadAttention(nn.Module):
    """Atención multicabeza (Vaswani et al., 2017) sobre :func:`scaled_dot_product_attention`.

    ``h`` cabezas, cada una con su propia proyección de ancho ``d/h``, miran la
    secuencia a la vez; sus salidas se pegan y se mezclan con ``out_proj``.
    Las proyecciones ``q_proj``, ``k_proj``, ``v_proj`` y ``out_proj`` son
    ``nn.Linear(d_model, d_model)`` separadas (se pueden copiar desde
    ``torch.nn.MultiheadAttention`` con :meth:`from_torch`). Es también la
    atención de cada bloque del GPT del capítulo 5 (:mod:`libroia.gpt`).

    Parámetros
    ----------
    d_model : ancho ``d`` de la entrada y la salida.
    n_heads : número de cabezas ``h``; debe dividir a ``d_model``.
    bias : si las proyecciones llevan sesgo.

    Ejemplo::

        >>> mha = MultiHeadAttention(d_model=8, n_heads=2)
        >>> out, w = mha(torch.randn(3, 5, 8), causal=True)
        >>> tuple(out.shape), tuple(w.shape)     # (N, T, d), (N, h, T, T)
        ((3, 5, 8), (3, 2, 5, 5))
    """

    def __init__(self, d_model: int, n_heads: int, bias: bool = True) -> None:
        super().__init__()
        d_model = check_int("d_model", d_model, min_value=1)
        n_heads = check_int("n_heads", n_heads, min_value=1)
        if d_model % n_heads:
            raise ValueError(
                f"`d_model` debe ser divisible por `n_heads`, pero d_model = {d_model} "
                f"y n_heads = {n_heads}"
            )
        self.d_model, self.n_heads = d_model, n_heads
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        causal: bool = False,
        kv_cache: KVCache | None = None,
        need_weights: bool = True,
        *,
        layer: int = 0,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Autoatención sobre ``x (N, T, d)``.

        Parámetros
        ----------
        x : ``(N, T, d_model)``.
        mask : booleana de **tres** dimensiones que se difunda a ``(N, T, T_k)``
            (``True`` = puede mirar), la misma para todas las cabezas: por ejemplo
            ``padding_mask(...)``, de forma ``(N, 1, T_k)``, o una ``(1, T, T_k)``
            común a todo el lote. ``T_k = T`` salvo con caché. Una máscara de dos
            dimensiones sería ambigua (¿``(N, T_k)`` o ``(T, T_k)``?) y se rechaza.
        causal : cada posición mira solo las anteriores y a sí misma.
        kv_cache : un :class:`KVCache`; sus claves y valores (los de la capa
            ``layer``) se anteponen a los nuevos y la caché se amplía con estos.
            La máscara causal tiene en cuenta la posición absoluta
            (``T_k = T_pasado + T``).
        need_weights : con ``False`` se devuelve ``None`` en vez de los pesos y
            la atención se calcula por bloques de consultas, sin la matriz
            ``(N, h, T, T_k)`` (ver :func:`scaled_dot_product_attention`).
        layer : capa de ``kv_cache`` donde se guardan estas claves y valores.
        rope : ``(cos, sin)``, cada uno ``(T, d/(2h))``, los ángulos de RoPE de las
            posiciones de estos tokens (:func:`libroia.positions.rotary_angles`):
            se giran las consultas y las claves de cada cabeza antes de guardarlas
            en la caché (capítulo 5, «Posiciones que giran»).

        Devuelve ``(salida (N, T, d_model), pesos (N, h, T, T_k))``.
        """
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"`x` debe ser un tensor de PyTorch, pero es {type(x).__name__}")
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            raise ValueError(
                f"`x` debe tener forma (N, T, {self.d_model}), pero tiene forma "
                f"{describe_shape(x.shape)}"
            )
        if kv_cache is not None and not isinstance(kv_cache, KVCache):
            raise TypeError(
                f"`kv_cache` debe ser un KVCache, pero es {type(kv_cache).__name__}"
            )
        N, T = x.shape[0], x.shape[1]
        if mask is not None and (not isinstance(mask, torch.Tensor) or mask.ndim != 3):
            got = (describe_shape(mask.shape) if isinstance(mask, torch.Tensor)
                   else type(mask).__name__)
            raise ValueError(
                f"`mask` debe tener tres dimensiones, (N, T, T_k), (N, 1, T_k) o (1, T, T_k), "
                f"pero es {got}: con dos, (N, T_k) y (T, T_k) se confundirían. Usa "
                f"mask[:, None, :] para una máscara por secuencia o mask[None] para una "
                f"común a todo el lote"
            )
        q = split_heads(self.q_proj(x), self.n_heads)  # (N, h, T, d/h)
        k = split_heads(self.k_proj(x), self.n_heads)  # (N, h, T, d/h)
        v = split_heads(self.v_proj(x), self.n_heads)  # (N, h, T, d/h)
        if rope is not None:  # RoPE: girar cada par de coordenadas según la posición
            cos, sin = _check_rope(rope, T, self.d_model // self.n_heads)  # (T, d/(2h))
            q, k = rotate_pairs(q, cos, sin), rotate_pairs(k, cos, sin)  # (N, h, T, d/h)
        T_past = 0
        if kv_cache is not None:
            T_past = kv_cache.layer_length(layer)
            k, v = kv_cache.update(layer, k, v)  # (N, h, T_pasado + T, d/h)
        T_k = k.shape[-2]
        if mask is not None:
            mask = check_mask(mask, x, (N, T, T_k))
            mask = mask[..., None, :, :]  # (N, 1, T, T_k): la misma para cada cabeza
        if causal and T_past > 0:  # con caché, la máscara causal va desplazada
            allowed = causal_mask(T, T_k, offset=T_past, like=x)  # (T, T_k)
            mask = allowed if mask is None else (mask & allowed)
        # Sin caché vale la causal del núcleo, que con need_weights=False se salta
        # las claves futuras en vez de enmascararlas.
        out, weights = scaled_dot_product_attention(
            q, k, v, mask, causal=causal and T_past == 0, need_weights=need_weights
        )  # (N, h, T, d/h), (N, h, T, T_k) o None
        return self.out_proj(merge_heads(out)), weights  # (N, T, d), (N, h, T, T_k)

    @classmethod
    def from_torch(cls, module: nn.MultiheadAttention) -> MultiHeadAttention:
        """Copia los pesos de un ``torch.nn.MultiheadAttention`` (``batch_first`` o no)."""
        if not isinstance(module, nn.MultiheadAttention):
            raise TypeError(f"`module` debe ser un torch.nn.MultiheadAttention, "
                            f"pero es {type(module).__name__}")
        if not module._qkv_same_embed_dim or module.bias_k is not None:
            raise ValueError("`module` debe tener kdim = vdim = embed_dim y add_bias_kv=False")
        new = cls(module.embed_dim, module.num_heads, bias=module.in_proj_bias is not None)
        new = new.to(module.in_proj_weight.dtype)
        projections = (new.q_proj, new.k_proj, new.v_proj)
        with torch.no_grad():
            for proj, w in zip(projections, module.in_proj_weight.chunk(3), strict=True):
                proj.weight.copy_(w)  # (d, d)
            new.out_proj.weight.copy_(module.out_proj.weight)
            if module.in_proj_bias is not None:
                for proj, b in zip(projections, module.in_proj_bias.chunk(3), strict=True):
                    proj.bias.copy_(b)  # (d,)
                new.out_proj.bias.copy_(module.out_proj.bias)
        return new
