"""Atención: producto escalar escalado, máscaras y atención multicabeza.

El núcleo, :func:`scaled_dot_product_attention`, está escrito **una sola vez** sobre
el *array API* (mediante ``array-api-compat``): si recibe arreglos de NumPy
devuelve arreglos de NumPy; si recibe tensores de PyTorch devuelve tensores, y
PyTorch puede derivar a través de él. Con ``need_weights=False`` calcula la
misma salida por bloques de consultas, sin crear nunca la matriz de pesos
``(T_q, T_k)`` entera (la idea de FlashAttention, Dao et al., 2022).
:class:`MultiHeadAttention` es PyTorch puro y llama a ese mismo núcleo, también
sin pesos. La atención aditiva de Bahdanau está en :mod:`libroia.bahdanau` y
las máscaras, en :mod:`libroia.masks` (también se importan desde aquí).

Convención de máscaras (la de PyTorch para máscaras booleanas en
``F.scaled_dot_product_attention``): ``True`` = la consulta *puede* mirar esa
clave. Ojo: ``torch.nn.MultiheadAttention`` usa la convención contraria.

Se explica en el capítulo 4, «Atención».
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

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
    check_float,
    check_int,
    check_ndim,
    check_same_kind,
    describe_shape,
)
from libroia.masks import causal_mask, padding_mask

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "AttentionCache",
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


def masked_softmax(x: Any, axis: int = -1, *, overwrite: bool = False) -> Any:
    """Softmax estable a lo largo de ``axis``; una fila entera de ``-inf`` da ceros.

    Implementa ``softmax(x)_j = exp(x_j - m) / Σ_l exp(x_l - m)`` con
    ``m = max_l x_l``: restar el máximo no cambia el resultado y evita que
    ``exp`` se desborde. Si todas las entradas de una fila valen ``-inf`` (una
    consulta sin ninguna clave permitida) la fila resultante es de ceros, no
    ``nan``, como en PyTorch ≥ 2.5 (``libroia.functional.softmax`` daría ``nan``).

    Con ``overwrite=True`` se reutiliza la memoria de ``x``, que queda
    modificado: ahorra dos copias del tamaño de ``x``, pero no sirve si PyTorch
    tiene que derivar a través de ``x``.

    Ejemplo::

        >>> masked_softmax(np.array([0.0, np.log(3.0)]))
        array([0.25, 0.75])
    """
    x = check_array("x", x)
    e, z = _exp_and_sum(array_namespace(x), x, axis, overwrite)
    if overwrite:
        e /= z
        return e
    return e / z


def _exp_and_sum(xp: Any, x: Any, axis: int, overwrite: bool) -> tuple[Any, Any]:
    """``exp(x - m)`` y su suma ``z`` a lo largo de ``axis``: la softmax es ``e / z``.

    Una fila entera de ``-inf`` da ``e = 0`` y ``z = 1``, así que ``e / z = 0``.
    """
    m = xp.max(x, axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0.0)  # fila toda -inf: evita (-inf) - (-inf) = nan
    if overwrite:
        x -= m  # en el sitio, sin copia
        e = xp.exp(x)
    else:
        e = xp.exp(x - m)
    z = xp.sum(e, axis=axis, keepdims=True)
    return e, xp.where(z > 0.0, z, 1.0)  # fila vacía: 0 / 1 = 0


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
        _check_no_overflow(xp, output, q, k)
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
    weights = masked_softmax(scores, axis=-1, overwrite=no_grad)  # (..., T_q, T_k)

    # 4. Media ponderada de los valores.
    output = xp.matmul(weights, v)  # (..., T_q, d_v)
    _check_no_overflow(xp, output, q, k)
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
        p, z = _exp_and_sum(xp, scores, -1, overwrite=no_grad)  # (..., B, T_vis), (..., B, 1)
        blocks.append(xp.matmul(p, v[..., :T_vis, :]) / z)  # (..., B, d_v)
    return xp.concat(blocks[::-1], axis=-2)  # (..., T_q, d_v)


def _check_no_overflow(xp: Any, output: Any, q: Any, k: Any) -> None:
    """Una pasada barata sobre la salida: si no es finita, las puntuaciones desbordaron."""
    if not bool(xp.isfinite(xp.sum(output))):
        raise ValueError(
            f"las puntuaciones q kᵀ desbordan {q.dtype}: `q` o `k` tienen valores demasiado "
            f"grandes (máximos absolutos {float(xp.max(xp.abs(q))):.3g} y "
            f"{float(xp.max(xp.abs(k))):.3g})"
        )


# --------------------------------------------------------------------------- cabezas


def split_heads(x: Any, n_heads: int) -> Any:
    """Parte el ancho ``d`` en ``h`` cabezas: ``(N, T, d) → (N, h, T, d/h)``.

    Ejemplo: un lote ``(2, 6, 4096)`` con 32 cabezas da ``(2, 32, 6, 128)``.
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
    """Junta las cabezas: ``(N, h, T, d/h) → (N, T, d)``; inversa de :func:`split_heads`."""
    x = check_array("x", x)
    if x.ndim != 4:
        raise ValueError(f"`x` debe tener forma (N, h, T, d/h), pero tiene forma "
                         f"{describe_shape(x.shape)}")
    xp = array_namespace(x)
    N, h, T, d_h = x.shape
    x = xp.permute_dims(x, (0, 2, 1, 3))  # (N, T, h, d/h): las cabezas, juntas por posición
    return xp.reshape(x, (N, T, h * d_h))  # (N, T, d): pegar las cabezas una tras otra


# --------------------------------------------------------------------------- módulos


@dataclass
class AttentionCache:
    """Claves y valores ya calculados de una capa, para generar token a token.

    Al generar, cada paso solo trae la consulta nueva: las claves y los valores
    de las posiciones anteriores no cambian y se guardan aquí en vez de
    recalcularse. Crea una caché vacía por capa y pásala a
    ``MultiHeadAttention.forward(..., kv_cache=cache)``, que la amplía.
    """

    k: torch.Tensor | None = None  # (N, h, T_pasado, d/h)
    v: torch.Tensor | None = None  # (N, h, T_pasado, d/h)

    @property
    def length(self) -> int:
        """Número de posiciones guardadas, ``T_pasado``."""
        return 0 if self.k is None else int(self.k.shape[-2])

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Añade ``k, v (N, h, T, d/h)``; devuelve lo guardado, ``(N, h, T_pasado + T, d/h)``."""
        if self.k is not None:
            k = torch.cat([self.k, k], dim=-2)  # (N, h, T_pasado + T, d/h)
            v = torch.cat([self.v, v], dim=-2)  # (N, h, T_pasado + T, d/h)
        self.k, self.v = k, v
        return k, v


class MultiHeadAttention(nn.Module):
    """Atención multicabeza (Vaswani et al., 2017) sobre :func:`scaled_dot_product_attention`.

    ``h`` cabezas, cada una con su propia proyección de ancho ``d/h``, miran la
    secuencia a la vez; sus salidas se pegan y se mezclan con ``out_proj``.
    Las proyecciones ``q_proj``, ``k_proj``, ``v_proj`` y ``out_proj`` son
    ``nn.Linear(d_model, d_model)`` separadas (se pueden copiar desde
    ``torch.nn.MultiheadAttention`` con :meth:`from_torch`).

    Parámetros
    ----------
    d_model : ancho ``d`` de la entrada y la salida.
    n_heads : número de cabezas ``h``; debe dividir a ``d_model``.
    bias : si las proyecciones llevan sesgo.
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
        kv_cache: AttentionCache | None = None,
        need_weights: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Autoatención sobre ``x (N, T, d)``.

        Parámetros
        ----------
        x : ``(N, T, d_model)``.
        mask : booleana difundible a ``(N, T, T_k)`` (``True`` = puede mirar),
            la misma para todas las cabezas; por ejemplo ``padding_mask(...)``
            de forma ``(N, 1, T_k)``. ``T_k = T`` salvo con caché.
        causal : cada posición mira solo las anteriores y a sí misma.
        kv_cache : si se da, sus claves y valores se anteponen a los nuevos y
            se amplía con estos; la máscara causal tiene en cuenta la posición
            absoluta (``T_k = T_pasado + T``).
        need_weights : con ``False`` se devuelve ``None`` en vez de los pesos y
            la atención se calcula por bloques de consultas, sin la matriz
            ``(N, h, T, T_k)`` (ver :func:`scaled_dot_product_attention`).

        Devuelve ``(salida (N, T, d_model), pesos (N, h, T, T_k))``.
        """
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"`x` debe ser un tensor de PyTorch, pero es {type(x).__name__}")
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            raise ValueError(
                f"`x` debe tener forma (N, T, {self.d_model}), pero tiene forma "
                f"{describe_shape(x.shape)}"
            )
        q = split_heads(self.q_proj(x), self.n_heads)  # (N, h, T, d/h)
        k = split_heads(self.k_proj(x), self.n_heads)  # (N, h, T, d/h)
        v = split_heads(self.v_proj(x), self.n_heads)  # (N, h, T, d/h)
        T_past = 0
        if kv_cache is not None:
            T_past = kv_cache.length
            k, v = kv_cache.append(k, v)  # (N, h, T_pasado + T, d/h)
        T, T_k = q.shape[-2], k.shape[-2]
        if mask is not None:
            mask = check_mask(mask, x, (x.shape[0], T, T_k))
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
