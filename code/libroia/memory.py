"""Cuentas de memoria: pesos, caché KV, activaciones, entrenamiento y adaptadores LoRA.

Calculadoras (todas en bytes; 1 GiB = 2³⁰ bytes, la unidad de los mensajes de PyTorch):

* :func:`weights_bytes`: parámetros × bytes por número (FP32 4, FP16/BF16 2, INT8 1, INT4 ½).
* :func:`kv_cache_bytes`: ``2 · L · T · N · d_kv · bytes`` (claves y valores de cada capa).
* :func:`activation_bytes`: activaciones guardadas para la pasada hacia atrás, con y sin
  recálculo (*gradient checkpointing*). Es una **estimación** por capa al estilo de
  Korthikanti et al. (2022).
* :func:`training_memory_bytes`: pesos, gradientes, estados de Adam, copia maestra en
  precisión mixta y activaciones; con adaptadores, solo lo entrenable paga gradientes
  y estados.
* :func:`lora_n_params`: parámetros entrenables de LoRA de rango r (Hu et al. 2021).

Sondas de la realidad, para comprobar las calculadoras: :func:`measure_training_bytes`
(tensores que de verdad reservan el modelo y el optimizador), :class:`SavedTensorsMeter`
(bytes que autograd guarda para la pasada hacia atrás), :func:`peak_allocated_bytes`
(el pico de memoria viva según el propio asignador de PyTorch en CPU) y
:func:`allocate_under_limit` (un error real de memoria agotada, provocado en un proceso
aparte con un límite de memoria). Los formatos numéricos y la cuantización están en
:mod:`libroia.quantization`.

Todo se explica en el capítulo 7, «Memoria».
"""

from __future__ import annotations

import functools
import json
import os
import select
import signal
import sys
import tempfile
import time
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from libroia._checks import check_choice, check_float, check_int
from libroia.scaling import DecoderShape, n_params_decoder

__all__ = [
    "BYTES_PER_VALUE", "GIB", "MIB", "AllocationAttempt", "LoRALinear", "SavedTensorsMeter",
    "activation_bytes", "allocate_under_limit", "apply_lora", "bytes_per_value",
    "gradient_checkpointing", "inference_memory_bytes", "kv_cache_bytes", "lora_n_params",
    "measure_training_bytes", "peak_allocated_bytes", "training_memory_bytes", "weights_bytes",
]

GIB = 2**30
MIB = 2**20

#: Bytes que ocupa un número en cada formato.
BYTES_PER_VALUE = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}


def bytes_per_value(dtype: str, *, name: str = "dtype") -> float:
    """Bytes por número del formato ``dtype`` (``"fp32"``, ``"fp16"``, ``"bf16"``, ``"int8"``,
    ``"int4"``).

    >>> bytes_per_value("bf16"), bytes_per_value("int4")
    (2.0, 0.5)
    """
    return BYTES_PER_VALUE[check_choice(name, dtype, BYTES_PER_VALUE)]


def _check_count(name: str, value: Any) -> float:
    return check_float(name, value, min_value=0.0)


def weights_bytes(n_params: float, dtype: str = "bf16") -> float:
    """Memoria de los pesos: ``n_params × bytes_per_value(dtype)``.

    Con INT4 no se cuentan las escalas de cuantización (unas pocas centésimas de bit
    por peso con grupos de 128).

    Ejemplo: 7 000 millones de parámetros en BF16 ocupan 14e9 bytes ≈ 13 GiB::

        >>> weights_bytes(7e9, "bf16"), round(weights_bytes(7e9, "bf16") / GIB, 2)
        (14000000000.0, 13.04)
    """
    return _check_count("n_params", n_params) * bytes_per_value(dtype)


def kv_cache_bytes(
    shape: DecoderShape, *, context: int, batch_size: int = 1, dtype: str = "bf16"
) -> float:
    r"""Memoria de la caché de claves y valores al generar.

    Cada capa guarda, para cada uno de los T tokens de cada una de las N secuencias,
    una clave y un valor de ancho ``d_kv = n_kv_heads · d_h``:

    .. math:: M_{KV} = 2 · L · T · N · d_{kv} · \text{bytes}

    Con atención de consultas agrupadas (*grouped-query attention*) ``d_kv < d``.
    Ejemplo: Llama-2-7B (L=32, d_kv=4096) con T=4096, N=1 en FP16: 2 GiB exactos::

        >>> from libroia.scaling import PUBLISHED_SHAPES
        >>> kv_cache_bytes(PUBLISHED_SHAPES["Llama-2-7B"], context=4096, dtype="fp16") / GIB
        2.0
    """
    if not isinstance(shape, DecoderShape):
        raise TypeError(f"`shape` debe ser un DecoderShape, pero es {type(shape).__name__}")
    context = check_int("context", context, min_value=1)
    batch_size = check_int("batch_size", batch_size, min_value=1)
    return 2.0 * shape.n_layers * context * batch_size * shape.d_kv * bytes_per_value(dtype)


def inference_memory_bytes(
    shape: DecoderShape,
    *,
    context: int,
    batch_size: int = 1,
    weights_dtype: str = "bf16",
    kv_dtype: str = "bf16",
) -> dict[str, float]:
    """Memoria para generar: ``{"weights": ..., "kv_cache": ...}`` en bytes.

    Los pesos se cuentan con todos los expertos (una mezcla de expertos los tiene
    que tener todos en memoria aunque cada token use pocos).
    """
    bytes_per_value(kv_dtype, name="kv_dtype")
    return {
        "weights": n_params_decoder(shape) * bytes_per_value(weights_dtype, name="weights_dtype"),
        "kv_cache": kv_cache_bytes(shape, context=context, batch_size=batch_size, dtype=kv_dtype),
    }


def _layer_values_per_token(s: DecoderShape, context: int, matrices: int, dropout: bool):
    """Números guardados por token y capa, y bytes de máscaras de *dropout* (1 byte cada una)."""
    d, d_kv, d_ff, h = s.d_model, s.d_kv, s.d_ff, s.n_heads
    # norma 1 (entrada), Q/K/V (entrada y salidas), salida de la atención, norma 2 (entrada)
    values = d + d + (d + 2 * d_kv) + d + d
    if matrices > 0:
        values += matrices * h * context  # matrices de atención (h, T) por token
    else:  # tipo FlashAttention: la salida y el logsumexp, no la matriz T × T
        values += d + h
    gated = s.activation == "swiglu"
    # entrada de la MLP + (pre-activación, salida) o (compuerta, SiLU, subida, producto)
    mlp = d + (4 if gated else 2) * d_ff
    values += s.experts_per_token * mlp + (s.n_experts if s.n_experts > 1 else 0)
    mask_bytes = 0
    if dropout:
        if matrices > 0:
            values += h * context  # salida del dropout de las probabilidades
            mask_bytes += h * context
        mask_bytes += 2 * d  # tras la atención y tras la MLP
    return values, mask_bytes


def activation_bytes(
    shape: DecoderShape,
    *,
    context: int,
    batch_size: int,
    dtype: str = "bf16",
    checkpointing: bool = False,
    attention_matrices: int = 1,
    dropout: bool = False,
) -> float:
    r"""Estimación de las activaciones que se guardan para la pasada hacia atrás.

    Se cuentan, por token y capa, los tensores que cada operación necesita para su
    gradiente en un bloque *pre-norm*: entradas de las dos normas y de las capas
    lineales, Q, K y V, la salida de la atención, la pre-activación y la salida de la
    MLP y ``attention_matrices`` matrices de atención de forma ``(h, T, T)`` por
    secuencia. Para una MLP de ancho 4d, sin *dropout* y en 16 bits, da por capa

    .. math:: 2 · 16 · T · N · d + 2 · h · T^2 · N \ \text{bytes};

    con *dropout* reproduce la fórmula ``T·N·d·(34 + 5·h·T/d)`` de Korthikanti et al.
    (2022). Se añaden la norma final, la entrada de la capa de salida y el
    log-softmax de la pérdida (``2d + V`` por token). Es una estimación: ignora
    índices, medias y varianzas de las normas y búferes temporales.

    ``attention_matrices``: 1 con el softmax de PyTorch (guarda sus probabilidades);
    3 con la atención didáctica de :mod:`libroia.attention`, cuyo softmax escrito a
    mano guarda también las puntuaciones y las exponenciales; 0 con un núcleo tipo
    FlashAttention, que no guarda la matriz T × T sino la salida y el logsumexp.

    Con ``checkpointing=True`` (recálculo completo por capa, Chen et al. 2016) solo se
    guarda la entrada de cada capa (``d`` por token) y, durante la pasada hacia atrás,
    las activaciones de una sola capa, que se recalculan.
    """
    if not isinstance(shape, DecoderShape):
        raise TypeError(f"`shape` debe ser un DecoderShape, pero es {type(shape).__name__}")
    T = check_int("context", context, min_value=1)
    N = check_int("batch_size", batch_size, min_value=1)
    b = bytes_per_value(dtype)
    matrices = check_int("attention_matrices", attention_matrices, min_value=0)
    values, masks = _layer_values_per_token(shape, T, matrices, bool(dropout))
    per_layer = (values * b + masks) * T * N
    head = (2 * shape.d_model + shape.vocab_size) * b * T * N
    if checkpointing:
        return shape.n_layers * shape.d_model * b * T * N + per_layer + head
    return shape.n_layers * per_layer + head


def training_memory_bytes(
    n_params: float,
    *,
    n_trainable: float | None = None,
    precision: str = "mixed",
    optimizer: str = "adam",
    activations: float = 0.0,
    frozen_dtype: str | None = None,
) -> dict[str, float]:
    """Memoria de entrenamiento por partes, en bytes.

    ======================  ==============  ==================================
    parte                   ``"fp32"``      ``"mixed"`` (Micikevicius et al. 2018)
    ======================  ==============  ==================================
    pesos (todos)           4 · N           2 · N (copia en FP16/BF16)
    gradientes              4 · N_e         2 · N_e
    copia maestra           —               4 · N_e (FP32, la que actualiza Adam)
    optimizador             4 · k · N_e     4 · k · N_e (FP32)
    ======================  ==============  ==================================

    con ``N_e = n_trainable`` (por omisión, todos) y ``k`` = 2 estados para Adam
    (media y varianza), 1 para ``"momentum"`` y 0 para ``"sgd"``. Con Adam sale el
    conocido 16 · N bytes en ambos casos (Anthony et al. 2023 cuentan 18 si los
    gradientes se guardan en FP32). ``frozen_dtype`` es el formato de los
    ``N − N_e`` pesos congelados (por ejemplo ``"int4"`` para un modelo base
    cuantizado bajo adaptadores LoRA, como QLoRA); por omisión, el de los demás.
    ``activations`` se suma tal cual (ver :func:`activation_bytes`).

    Devuelve ``{"weights", "gradients", "master_weights", "optimizer", "activations"}``.

    Ejemplo: mil millones de parámetros con Adam, en FP32 o en precisión mixta, piden
    16 bytes por parámetro sin contar las activaciones::

        >>> parts = training_memory_bytes(1e9, precision="mixed")
        >>> parts["weights"], parts["master_weights"], sum(parts.values()) / 1e9
        (2000000000.0, 4000000000.0, 16.0)
        >>> sum(training_memory_bytes(1e9, precision="fp32").values()) / 1e9
        16.0
    """
    n = _check_count("n_params", n_params)
    n_e = n if n_trainable is None else _check_count("n_trainable", n_trainable)
    if n_e > n:
        raise ValueError(
            f"`n_trainable` no puede superar `n_params` ({n:g}), pero vale {n_e:g}"
        )
    precision = check_choice("precision", precision, ("fp32", "mixed"))
    k = {"adam": 2, "momentum": 1, "sgd": 0}[
        check_choice("optimizer", optimizer, ("adam", "momentum", "sgd"))]
    low = 4.0 if precision == "fp32" else 2.0
    frozen = low if frozen_dtype is None else bytes_per_value(frozen_dtype, name="frozen_dtype")
    return {
        "weights": low * n_e + frozen * (n - n_e),
        "gradients": low * n_e,
        "master_weights": 0.0 if precision == "fp32" else 4.0 * n_e,
        "optimizer": 4.0 * k * n_e,
        "activations": _check_count("activations", activations),
    }


_LORA_TARGETS = ("q", "k", "v", "qkv", "o", "up", "gate", "down")


def _check_targets(targets: Any) -> tuple[str, ...]:
    """Exige una lista no vacía de nombres exactos; un texto suelto no vale.

    ``"qkv"`` no se acepta: recorrerlo daría ``"q"``, ``"k"`` y ``"v"`` (y ``"q" in "qkv"``
    es verdad), así que se adaptarían capas que nadie pidió. Se escribe ``("qkv",)``.
    """
    if isinstance(targets, str):
        raise TypeError(
            f"`targets` debe ser una lista de nombres, no un texto suelto: escribe "
            f"({targets!r},) en lugar de {targets!r}"
        )
    if not isinstance(targets, Iterable):
        raise TypeError(
            f"`targets` debe ser una lista de nombres, pero es de tipo {type(targets).__name__}"
        )
    targets = tuple(targets)
    if not targets:
        raise ValueError("`targets` debe ser una lista no vacía de nombres, pero está vacía")
    for t in targets:
        if not isinstance(t, str):
            raise TypeError(f"`targets` debe contener textos, pero contiene {t!r}")
    return targets


def _check_alpha(alpha: Any) -> float | None:
    if alpha is None:
        return None
    return check_float("alpha", alpha, min_value=0.0, min_inclusive=False)


def lora_n_params(shape: DecoderShape, *, rank: int, targets: Sequence[str] = ("q", "v")) -> int:
    """Parámetros entrenables de LoRA: ``r · (d_entrada + d_salida)`` por matriz adaptada.

    LoRA (Hu et al. 2021) congela ``W`` y aprende ``W + B·A`` con ``A`` de forma
    ``(r, d_entrada)`` y ``B`` de forma ``(d_salida, r)``. ``targets`` elige las
    matrices de cada bloque: ``"q"``, ``"k"``, ``"v"``, ``"qkv"`` (fusionada, como en el
    GPT del libro), ``"o"`` (salida de la atención; ``proj`` en el GPT), ``"up"``,
    ``"gate"``, ``"down"`` (de cada experto).

    Ejemplo: Llama-2-7B con r=8 en q y v: 32 · 2 · 8 · (4096 + 4096) = 4 194 304::

        >>> from libroia.scaling import PUBLISHED_SHAPES
        >>> lora_n_params(PUBLISHED_SHAPES["Llama-2-7B"], rank=8, targets=("q", "v"))
        4194304
    """
    rank = check_int("rank", rank, min_value=1)
    targets = _check_targets(targets)
    d, d_kv, d_ff = shape.d_model, shape.d_kv, shape.d_ff
    dims = {"q": (d, d), "k": (d, d_kv), "v": (d, d_kv), "qkv": (d, d + 2 * d_kv),
            "o": (d, d), "up": (d, d_ff), "gate": (d, d_ff), "down": (d_ff, d)}
    total = 0
    for t in targets:
        d_in, d_out = dims[check_choice("targets", t, _LORA_TARGETS)]
        copies = shape.n_experts if t in ("up", "gate", "down") else 1
        total += copies * rank * (d_in + d_out)
    return shape.n_layers * total


class LoRALinear(nn.Module):
    """Capa lineal congelada más un adaptador de rango bajo: ``y = x Wᵀ + b + s · x Aᵀ Bᵀ``.

    ``A`` ``(r, d_entrada)`` empieza aleatoria y ``B`` ``(d_salida, r)`` a cero, así que al
    principio la capa es exactamente la original; ``s = alpha / r``, con ``alpha > 0``
    (por omisión, ``alpha = r`` y ``s = 1``).

    Ejemplo: una capa 4 → 3 con r = 2 añade 2 · (4 + 3) = 14 parámetros entrenables::

        >>> layer = LoRALinear(nn.Linear(4, 3), rank=2)
        >>> sum(p.numel() for p in layer.parameters() if p.requires_grad)
        14
    """

    def __init__(self, base: nn.Linear, rank: int, alpha: float | None = None):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"`base` debe ser un nn.Linear, pero es {type(base).__name__}")
        rank = check_int("rank", rank, min_value=1)
        alpha = _check_alpha(alpha)
        self.base = base.requires_grad_(False)
        kw = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_A = nn.Parameter(torch.randn(rank, base.in_features, **kw) / rank)
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank, **kw))
        self.scale = (rank if alpha is None else alpha) / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scale * ((x @ self.lora_A.T) @ self.lora_B.T)  # (..., d_out)


def apply_lora(
    model: nn.Module, *, rank: int, targets: Sequence[str], alpha: float | None = None
) -> int:
    """Congela ``model`` y sustituye por :class:`LoRALinear` cada ``nn.Linear`` cuyo nombre
    de atributo sea exactamente uno de ``targets`` (por ejemplo ``("q_proj", "v_proj")`` en el
    GPT del libro; ``"q_proj"`` a secas no vale, porque es un texto y no una lista de nombres).

    Modifica el modelo en su sitio y devuelve cuántas capas adaptó (``ValueError`` si ninguna,
    y entonces el modelo queda intacto).

    Ejemplo::

        >>> model = nn.Sequential()
        >>> model.add_module("up", nn.Linear(4, 8))
        >>> model.add_module("down", nn.Linear(8, 4))
        >>> apply_lora(model, rank=2, targets=("up",))
        1
        >>> type(model.up).__name__, type(model.down).__name__
        ('LoRALinear', 'Linear')
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` debe ser un nn.Module, pero es {type(model).__name__}")
    rank = check_int("rank", rank, min_value=1)
    targets = _check_targets(targets)
    alpha = _check_alpha(alpha)
    swaps = [(parent, name, child) for parent in model.modules()
             for name, child in parent.named_children()
             if name in targets and isinstance(child, nn.Linear)]
    if not swaps:
        raise ValueError(f"`targets` no coincide con ninguna capa nn.Linear: {targets}")
    model.requires_grad_(False)
    for parent, name, child in swaps:
        setattr(parent, name, LoRALinear(child, rank, alpha))
    return len(swaps)


def measure_training_bytes(
    model: nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> dict[str, int]:
    """Bytes que de verdad ocupan los tensores del modelo y del optimizador.

    ``weights``: todos los parámetros (los compartidos, una vez); ``gradients``: los
    ``.grad`` existentes; ``optimizer``: los tensores de estado con al menos un
    elemento por parámetro (los contadores escalares ``step`` de Adam, 4 bytes cada
    uno, no se cuentan). Llama antes a ``backward`` y a ``optimizer.step()``.
    """
    params = list(model.parameters())  # sin repetidos
    state: list[torch.Tensor] = []
    if optimizer is not None:
        for st in optimizer.state.values():
            state += [t for t in st.values() if isinstance(t, torch.Tensor) and t.ndim > 0]
    return {
        "weights": sum(p.nbytes for p in params),
        "gradients": sum(p.grad.nbytes for p in params if p.grad is not None),
        "optimizer": sum(t.nbytes for t in state),
    }


class _Packed:
    """Envoltorio de un tensor guardado: si autograd lo suelta, su referencia débil muere."""

    __slots__ = ("__weakref__", "tensor")

    def __init__(self, tensor: torch.Tensor):
        self.tensor = tensor


class SavedTensorsMeter:
    """Mide los bytes que autograd guarda para la pasada hacia atrás.

    Uso (una capa lineal seguida de tanh guarda su entrada y la salida de tanh,
    2 · 8 · 256 números de 4 bytes; se lee antes de ``loss.backward()``, que los libera)::

        >>> model = nn.Linear(256, 256, bias=False)
        >>> x = torch.randn(8, 256)
        >>> with SavedTensorsMeter(exclude=model.parameters()) as meter:
        ...     loss = torch.tanh(model(x)).sum()
        >>> meter.bytes
        16384

    Solo cuenta lo que sigue guardado cuando se lee ``bytes`` (un grafo que ya se
    liberó, como el de una comprobación intermedia, no cuenta). Cada almacenamiento
    (*storage*) se cuenta una vez aunque lo guarden varias operaciones o sea una
    vista; los de ``exclude`` (pesos, búferes) no se cuentan.
    """

    def __init__(self, exclude: Iterable[torch.Tensor] = ()):
        self._exclude = {t.untyped_storage().data_ptr() for t in exclude}
        self._packed: list[weakref.ref[_Packed]] = []
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)

    def _pack(self, t: torch.Tensor) -> _Packed:
        packed = _Packed(t)
        self._packed.append(weakref.ref(packed))
        return packed

    @staticmethod
    def _unpack(packed: _Packed) -> torch.Tensor:
        return packed.tensor

    def __enter__(self) -> SavedTensorsMeter:
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._hooks.__exit__(*exc)

    @property
    def bytes(self) -> int:
        """Total de bytes guardados ahora mismo (almacenamientos distintos)."""
        sizes: dict[int, int] = {}
        for ref in self._packed:
            packed = ref()
            if packed is not None:
                storage = packed.tensor.untyped_storage()
                if storage.data_ptr() not in self._exclude:
                    sizes[storage.data_ptr()] = storage.nbytes()
        return sum(sizes.values())


@contextmanager
def gradient_checkpointing(blocks: Iterable[nn.Module]) -> Iterator[None]:
    """Dentro del ``with``, cada módulo de ``blocks`` guarda solo su entrada y se recalcula
    en la pasada hacia atrás (Chen et al. 2016): menos memoria a cambio de otra pasada
    hacia delante por bloque.

    Usa ``torch.utils.checkpoint.checkpoint`` en su variante reentrante, que guarda las
    entradas con el mecanismo normal de autograd (y así :class:`SavedTensorsMeter` las ve).
    Ejemplo: tres bloques lineal–tanh–lineal; con recálculo solo se guardan sus tres
    entradas, 3 · (2 · 16) números de 4 bytes::

        >>> blocks = nn.Sequential(*[
        ...     nn.Sequential(nn.Linear(16, 64), nn.Tanh(), nn.Linear(64, 16)) for _ in range(3)])
        >>> x = torch.randn(2, 16, requires_grad=True)
        >>> with SavedTensorsMeter(exclude=blocks.parameters()) as full:
        ...     loss = blocks(x).sum()
        >>> with gradient_checkpointing(blocks), SavedTensorsMeter(
        ...         exclude=blocks.parameters()) as recomputed:
        ...     loss = blocks(x).sum()
        >>> full.bytes, recomputed.bytes
        (1920, 384)
    """
    from torch.utils.checkpoint import checkpoint

    blocks = list(blocks)
    try:
        for block in blocks:
            block.forward = functools.partial(checkpoint, block.forward, use_reentrant=True)
        yield
    finally:
        for block in blocks:
            block.__dict__.pop("forward", None)  # vuelve el forward de la clase


# --------------------------------------------------------------------------- el asignador


# Líneas que el perfilador escribe por su cuenta en el descriptor 2 (no son errores).
_PROFILER_NOISE = ("profiler_start", "profiler_stop", "Memory block of unknown size")


@contextmanager
def _filtered_fd_stderr() -> Iterator[None]:
    """Recoge lo que se escriba en el descriptor 2 (código C++) y reenvía solo lo que no
    sea ruido conocido del perfilador; Jupyter mostraría ese ruido debajo de la celda."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            for line in tmp.read().decode(errors="replace").splitlines():
                if line.strip() and not any(n in line for n in _PROFILER_NOISE):
                    print(line, file=sys.stderr)


def peak_allocated_bytes(fn: Callable[[], Any]) -> int:
    """Pico de memoria viva reservada en CPU mientras se ejecuta ``fn()``, en bytes.

    No suma ``nbytes`` de tensores conocidos: escucha al **asignador** de PyTorch.
    Con ``torch.profiler.profile(profile_memory=True)`` cada reserva y cada liberación
    del asignador de CPU queda registrada con su dirección y su tamaño; recorriéndolas
    en orden se sigue la memoria viva y se devuelve su máximo. Solo cuentan los bloques
    reservados dentro de ``fn`` (el tensor de un resultado intermedio, el búfer temporal
    de una operación, un gradiente nuevo); lo que ya existía antes (los pesos, por
    ejemplo) no, aunque ``fn`` lo libere. Es lo que en una GPU mide
    ``torch.cuda.max_memory_allocated`` tras ``torch.cuda.reset_peak_memory_stats``.

    Límites: el asignador informa de los bytes pedidos (en CPU no redondea); las
    reservas que hace un hilo auxiliar de una operación paralela no se ven, y lo que
    se reserva fuera de PyTorch (NumPy, Python) tampoco.

    Ejemplo: reservar 1 MB, soltarlo y volver a reservarlo deja un pico de 1 MB, no
    de 2; copiar un tensor de 1 MB que sigue vivo deja 2 MB a la vez::

        >>> def dos_veces():
        ...     for _ in range(2):
        ...         a = torch.empty(10**6, dtype=torch.uint8)
        ...         del a
        >>> peak_allocated_bytes(dos_veces)
        1000000
        >>> peak_allocated_bytes(lambda: torch.empty(10**6, dtype=torch.uint8).clone())
        2000000

    Capítulo 7, «Lo que mide el asignador».
    """
    if not callable(fn):
        raise TypeError(f"`fn` debe ser una función sin argumentos, pero es {type(fn).__name__}")
    from torch._C._profiler import _EventType
    from torch.autograd.profiler import _is_profiler_enabled
    from torch.profiler import ProfilerActivity, profile

    if _is_profiler_enabled:
        raise RuntimeError(
            "`peak_allocated_bytes` necesita el perfilador de PyTorch, pero ya hay uno activo: "
            "llámala fuera de otro `torch.profiler.profile`"
        )
    with _filtered_fd_stderr(), profile(activities=[ProfilerActivity.CPU],
                                        profile_memory=True) as prof:
        fn()
    events = []  # (instante, dirección, bytes: > 0 al reservar, < 0 al liberar)
    stack = list(prof.profiler.kineto_results.experimental_event_tree())
    while stack:
        event = stack.pop()
        stack.extend(event.children)
        if event.tag == _EventType.Allocation and event.extra_fields.device.type == "cpu":
            fields = event.extra_fields
            events.append((event.start_time_ns, fields.ptr, fields.alloc_size))
    live: dict[int, int] = {}  # dirección → bytes de los bloques reservados dentro de fn
    total = peak = 0
    for _, ptr, size in sorted(events, key=lambda e: e[0]):
        if size > 0:
            live[ptr] = size
            total += size
            peak = max(peak, total)
        elif ptr in live:
            total -= live.pop(ptr)
    return peak


@dataclass(frozen=True)
class AllocationAttempt:
    """Resultado de pedir ``requested_bytes`` al asignador con ``free_bytes`` disponibles.

    ``succeeded`` dice si la reserva funcionó; si no, ``error_type`` es el nombre de la
    excepción (``"RuntimeError"`` en CPU) y ``message``, la primera línea de su mensaje.
    """

    requested_bytes: int
    free_bytes: int
    succeeded: bool
    error_type: str | None = None
    message: str | None = None


def _allocate_in_child(sizes: list[int], free_bytes: int) -> list[dict[str, Any]]:
    """Lo que hace el proceso hijo: limitar su memoria y pedir cada bloque."""
    import resource

    with open("/proc/self/status") as status:
        used = next(int(line.split()[1]) * 1024 for line in status
                    if line.startswith("VmSize:"))
    resource.setrlimit(resource.RLIMIT_AS, (used + free_bytes, resource.RLIM_INFINITY))
    results: list[dict[str, Any]] = []
    for n in sizes:
        try:
            block = torch.empty(n, dtype=torch.uint8)  # se reserva, pero no se escribe
            del block
            results.append({"succeeded": True})
        except RuntimeError as error:
            results.append({"succeeded": False, "error_type": type(error).__name__,
                            "message": str(error).strip().splitlines()[0]})
    return results


def allocate_under_limit(
    sizes: Sequence[int], *, free_bytes: int, timeout: float = 60.0
) -> list[AllocationAttempt]:
    """Pide al asignador de PyTorch bloques de ``sizes`` bytes, uno tras otro, en un proceso
    con solo ``free_bytes`` de memoria libre; devuelve un :class:`AllocationAttempt` por
    tamaño.

    Sirve para ver un error real de memoria agotada sin poner en peligro la máquina. Un
    proceso hijo (una copia de este, hecha con ``os.fork``) fija con
    ``resource.setrlimit(RLIMIT_AS, …)`` su espacio de direcciones en lo que ya usa más
    ``free_bytes`` y hace ``torch.empty(n, dtype=torch.uint8)`` para cada ``n`` (soltando
    cada bloque antes del siguiente). Si el bloque no cabe, el sistema niega la memoria al
    asignador y PyTorch lanza su error, que el hijo atrapa y devuelve. El resultado no depende de
    la RAM de la máquina ni de su política de *overcommit*, y los bloques nunca se
    escriben, así que no ocupan memoria física. En una GPU el error equivalente es
    ``torch.OutOfMemoryError``, que también es un ``RuntimeError``.

    Solo funciona en Linux (usa ``fork``, ``/proc`` y ``RLIMIT_AS``). El hijo termina
    siempre: si tarda más de ``timeout`` segundos, se mata y se lanza ``RuntimeError``.

    Ejemplo: con 64 MiB libres caben 16 MiB, pero no 1 GiB::

        >>> small, big = allocate_under_limit([16 * MIB, GIB], free_bytes=64 * MIB)
        >>> small.succeeded, big.succeeded, big.error_type
        (True, False, 'RuntimeError')
        >>> "DefaultCPUAllocator: can't allocate memory" in big.message
        True

    Capítulo 7, «Cuando no cabe de verdad».
    """
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Iterable):
        raise TypeError(
            f"`sizes` debe ser una lista de tamaños en bytes, pero es {type(sizes).__name__}"
        )
    sizes = [check_int("sizes", n, min_value=1) for n in sizes]
    if not sizes:
        raise ValueError("`sizes` debe tener al menos un tamaño, pero está vacía")
    free_bytes = check_int("free_bytes", free_bytes, min_value=MIB)
    timeout = check_float("timeout", timeout, min_value=0.0, min_inclusive=False)
    if not sys.platform.startswith("linux"):
        raise RuntimeError(
            f"`allocate_under_limit` necesita Linux (RLIMIT_AS y /proc), pero el sistema es "
            f"{sys.platform}"
        )
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # Python ≥ 3.12 avisa de que hacer fork de un proceso con hilos puede bloquear al
        # hijo. Este hijo solo reserva, escribe en la tubería y sale con os._exit; si aun
        # así se quedara bloqueado, el plazo de `timeout` lo mata.
        warnings.filterwarnings("ignore", message=".*fork", category=DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # hijo: una copia de este proceso, con torch ya cargado
        code = 1
        try:
            os.close(read_end)
            payload = json.dumps(_allocate_in_child(sizes, free_bytes)).encode()
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
            code = 0
        finally:
            os._exit(code)  # sin pasar por los manejadores de salida del padre
    os.close(write_end)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        with os.fdopen(read_end, "rb") as pipe:
            while True:
                ready, _, _ = select.select([pipe], [], [], max(0.0, deadline - time.monotonic()))
                if not ready:
                    raise RuntimeError(
                        f"el proceso de prueba no terminó en `timeout` = {timeout:g} s y se "
                        f"detuvo"
                    )
                chunk = os.read(pipe.fileno(), 65536)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)  # si ya terminó, no hace nada
        except ProcessLookupError:
            pass
        _, status = os.waitpid(pid, 0)  # nunca queda un proceso huérfano
    if not chunks:
        raise RuntimeError(f"el proceso de prueba terminó sin respuesta (estado {status})")
    results = json.loads(b"".join(chunks))
    return [AllocationAttempt(requested_bytes=n, free_bytes=free_bytes, **r)
            for n, r in zip(sizes, results, strict=True)]
