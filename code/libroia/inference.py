r"""Cuánto cuesta generar: prellenado y decodificación, intensidad aritmética y tiempos medidos.

Una pasada del modelo hace FLOPs y mueve bytes (sobre todo, lee los pesos y la
caché KV). Lo que tarda lo decide lo que se acabe antes de la máquina: su cómputo
máximo ``P`` (FLOP/s) o su ancho de banda de memoria ``B`` (bytes/s). Es el
modelo *roofline*:

.. math:: t = \max\left(\frac{\text{FLOPs}}{P}, \frac{\text{bytes}}{B}\right),
          \qquad I = \frac{\text{FLOPs}}{\text{bytes}}

Con intensidad aritmética ``I`` menor que ``P / B`` (el *punto de equilibrio*),
la pasada está limitada por la memoria; con ``I`` mayor, por el cómputo. El
**prellenado** (*prefill*: procesar el prompt entero de una vez) hace muchos FLOPs
por cada byte de pesos leído; la **decodificación** (*decode*: un token nuevo por
pasada) hace muy pocos, salvo que se junten muchas secuencias en un lote.

* :class:`Accelerator` y :data:`A100_80GB` (cifras de sus especificaciones);
  :func:`measure_cpu` mide las de esta CPU.
* :func:`matmul_cost`, :func:`forward_cost` y :class:`CostModel`: FLOPs y bytes
  de una multiplicación de matrices o de una pasada del modelo.
* :func:`measure_matmul`: tiempo medido de ``(m, k) @ (k, n)``, para ver la
  intensidad en esta máquina.
* :func:`time_generation`: tiempo hasta el primer token y por token al generar
  con el GPT del libro, con y sin caché KV (mismos tokens por los dos caminos).

Capítulo 11, «Servir el modelo». Las cuentas de memoria vienen de
:mod:`libroia.memory` y las de FLOPs de :mod:`libroia.scaling`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from libroia._checks import check_choice, check_float, check_int, check_text, describe_shape
from libroia.memory import bytes_per_value, kv_cache_bytes
from libroia.scaling import DecoderShape, forward_flops_per_token, n_params_decoder

__all__ = [
    "A100_80GB",
    "Accelerator",
    "CostModel",
    "ForwardCost",
    "GenerationTiming",
    "forward_cost",
    "matmul_cost",
    "measure_cpu",
    "measure_matmul",
    "measure_seconds",
    "time_generation",
]


@dataclass(frozen=True)
class Accelerator:
    """Una máquina vista por el modelo *roofline*: cómputo máximo y ancho de banda.

    ``peak_flops`` en FLOP/s y ``bandwidth`` en bytes/s (de la memoria principal:
    HBM en una GPU, DRAM en una CPU).

    >>> gpu = Accelerator("ejemplo", peak_flops=100e12, bandwidth=1e12)
    >>> gpu.ridge, gpu.seconds(flops=1e12, n_bytes=1e9), gpu.attainable(10.0)
    (100.0, 0.01, 10000000000000.0)
    """

    name: str
    peak_flops: float
    bandwidth: float

    def __post_init__(self) -> None:
        check_text("name", self.name, allow_empty=False)
        for name in ("peak_flops", "bandwidth"):
            check_float(name, getattr(self, name), min_value=0.0, min_inclusive=False)

    @property
    def ridge(self) -> float:
        """Punto de equilibrio ``P / B`` en FLOP/byte: la intensidad a partir de la cual
        manda el cómputo."""
        return self.peak_flops / self.bandwidth

    def seconds(self, flops: float, n_bytes: float) -> float:
        """Tiempo *roofline* ``max(FLOPs / P, bytes / B)`` en segundos."""
        flops = check_float("flops", flops, min_value=0.0)
        n_bytes = check_float("n_bytes", n_bytes, min_value=0.0)
        return max(flops / self.peak_flops, n_bytes / self.bandwidth)

    def attainable(self, intensity: float) -> float:
        """FLOP/s alcanzables con intensidad ``I``: ``min(P, I · B)`` (el «tejado»)."""
        intensity = check_float("intensity", intensity, min_value=0.0)
        return min(self.peak_flops, intensity * self.bandwidth)


#: NVIDIA A100 de 80 GB (SXM): 312 billones de FLOP/s en BF16 con núcleos tensoriales
#: (sin dispersión) y 2039 GB/s de memoria HBM2e, según sus especificaciones (NVIDIA, 2021).
A100_80GB = Accelerator("NVIDIA A100 80 GB", peak_flops=312e12, bandwidth=2.039e12)


@dataclass(frozen=True)
class ForwardCost:
    """FLOPs y bytes movidos por una operación; ``intensity`` = FLOPs / bytes."""

    flops: float
    n_bytes: float

    @property
    def intensity(self) -> float:
        """Intensidad aritmética en FLOP/byte."""
        return self.flops / self.n_bytes if self.n_bytes else float("inf")


def matmul_cost(m: int, k: int, n: int, *, dtype: str = "fp32") -> ForwardCost:
    r"""Coste de ``X (m, k) @ W (k, n)``: ``2·m·k·n`` FLOPs y ``(m·k + k·n + m·n)`` números.

    Cada número se lee (o se escribe) una vez, el mínimo posible. Con ``m = 1`` (un
    vector por una matriz, como al decodificar un solo token) la intensidad es de
    unos 2 FLOPs por número de ``W``: muy baja.

    .. math:: I = \frac{2 m k n}{(mk + kn + mn)\,\text{bytes}}

    >>> round(matmul_cost(1, 1024, 1024, dtype="bf16").intensity, 3)  # ~1 FLOP/byte
    0.998
    """
    m, k, n = (check_int(name, v, min_value=1) for name, v in (("m", m), ("k", k), ("n", n)))
    return ForwardCost(2.0 * m * k * n, (m * k + k * n + m * n) * bytes_per_value(dtype))


def _check_shape(shape: Any) -> DecoderShape:
    if not isinstance(shape, DecoderShape):
        raise TypeError(f"`shape` debe ser un DecoderShape, pero es {type(shape).__name__}")
    return shape


class CostModel:
    r"""FLOPs, bytes y tiempo *roofline* de una pasada de un modelo sobre un lote mixto.

    Cada secuencia del lote aporta ``(nuevos, en_caché)``: procesa ``nuevos`` tokens
    (todo el prompt al prellenar, 1 al decodificar) que miran a ``en_caché`` tokens
    anteriores. Por pasada:

    * FLOPs: :math:`\sum_i n_i \, (a + b\,(c_i + n_i))`, con ``a`` los FLOPs por
      token de las matrices y ``b = 4·L·d`` los de la atención por token visible
      (:func:`libroia.scaling.flops_per_token_breakdown`);
    * bytes: los pesos una vez, más la caché KV que se lee y se escribe,
      :math:`W + \sum_i (c_i + n_i) \cdot kv`, con ``kv`` los bytes de la caché por
      token (:func:`libroia.memory.kv_cache_bytes`).

    No se cuentan las activaciones intermedias ni las normalizaciones (de orden
    ``d`` por token). ``dtype`` es el formato de pesos y caché.

    >>> from libroia.scaling import PUBLISHED_SHAPES
    >>> cost = CostModel(PUBLISHED_SHAPES["Llama-2-7B"], A100_80GB)
    >>> round(1000 * cost.seconds([(1, 0)]), 2)  # un token: leer 13.5 GB a 2 TB/s
    6.61
    """

    def __init__(self, shape: DecoderShape, accelerator: Accelerator, *, dtype: str = "bf16"):
        self.shape = _check_shape(shape)
        if not isinstance(accelerator, Accelerator):
            raise TypeError(
                f"`accelerator` debe ser un Accelerator, pero es {type(accelerator).__name__}"
            )
        self.accelerator = accelerator
        self.dtype = dtype
        self.weight_bytes = n_params_decoder(shape) * bytes_per_value(dtype)
        self.kv_bytes_per_token = kv_cache_bytes(shape, context=1, dtype=dtype)
        f1 = forward_flops_per_token(shape, context=1)
        self.attention_flops_per_token = forward_flops_per_token(shape, context=2) - f1  # b
        self.matrix_flops_per_token = f1 - self.attention_flops_per_token  # a

    def cost(self, batch: Sequence[tuple[int, int]]) -> ForwardCost:
        """FLOPs y bytes de una pasada con ``batch`` = lista de ``(nuevos, en_caché)``."""
        flops, tokens = 0.0, 0
        for new, cached in batch:
            flops += new * (self.matrix_flops_per_token
                            + self.attention_flops_per_token * (cached + new))
            tokens += cached + new
        return ForwardCost(flops, self.weight_bytes + tokens * self.kv_bytes_per_token)

    def seconds(self, batch: Sequence[tuple[int, int]]) -> float:
        """Tiempo *roofline* de la pasada en el acelerador (0 si el lote está vacío)."""
        if not batch:
            return 0.0
        c = self.cost(batch)
        return self.accelerator.seconds(c.flops, c.n_bytes)


def forward_cost(
    shape: DecoderShape,
    *,
    new_tokens: int,
    cached_tokens: int = 0,
    batch_size: int = 1,
    dtype: str = "bf16",
) -> ForwardCost:
    """FLOPs y bytes de una pasada con ``batch_size`` secuencias iguales.

    Prellenado de un prompt de ``T`` tokens: ``new_tokens=T, cached_tokens=0``.
    Decodificación con ``T`` tokens ya en la caché: ``new_tokens=1, cached_tokens=T``.
    Ver :class:`CostModel`.

    >>> from libroia.scaling import PUBLISHED_SHAPES
    >>> s = PUBLISHED_SHAPES["Llama-2-7B"]
    >>> round(forward_cost(s, new_tokens=1).intensity, 2)  # decodificar: ~1 FLOP/byte
    0.98
    >>> round(forward_cost(s, new_tokens=1000).intensity)  # prellenar 1000 tokens
    981
    """
    new_tokens = check_int("new_tokens", new_tokens, min_value=1)
    cached_tokens = check_int("cached_tokens", cached_tokens, min_value=0)
    batch_size = check_int("batch_size", batch_size, min_value=1)
    model = CostModel(shape, A100_80GB, dtype=dtype)
    return model.cost([(new_tokens, cached_tokens)] * batch_size)


def measure_seconds(
    fn: Callable[[], object], *, repeat: int = 5, warmup: int = 1, statistic: str = "min"
) -> float:
    """Tiempo de ``fn()`` en segundos: el menor (``statistic="min"``) o la mediana
    (``"median"``) de ``repeat`` llamadas, tras ``warmup`` de calentamiento.

    El menor es la mejor estimación de lo que cuesta la operación en sí cuando otros
    programas comparten la CPU: las interrupciones solo pueden alargar una medida.

    >>> measure_seconds(lambda: None) < 0.01
    True
    """
    if not callable(fn):
        raise TypeError(f"`fn` debe ser una función sin argumentos, pero es {type(fn).__name__}")
    repeat = check_int("repeat", repeat, min_value=1)
    statistic = check_choice("statistic", statistic, ("min", "median"))
    for _ in range(check_int("warmup", warmup, min_value=0)):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) if statistic == "min" else statistics.median(times)


def measure_matmul(m: int, k: int, n: int, *, repeat: int = 5) -> dict[str, float]:
    """Mide ``X (m, k) @ W (k, n)`` en float32 en esta máquina.

    Devuelve ``{"seconds", "flops", "n_bytes", "intensity", "flops_per_second"}``:
    el menor de ``repeat`` tiempos (:func:`measure_seconds`) y lo que dice
    :func:`matmul_cost`.

    >>> r = measure_matmul(4, 64, 64, repeat=2)
    >>> r["flops"], r["flops_per_second"] > 0
    (32768.0, True)
    """
    cost = matmul_cost(m, k, n, dtype="fp32")
    gen = torch.Generator().manual_seed(0)
    x, w = torch.randn(m, k, generator=gen), torch.randn(k, n, generator=gen)
    out = torch.empty(m, n)
    seconds = measure_seconds(lambda: torch.mm(x, w, out=out), repeat=repeat)
    return {"seconds": seconds, "flops": cost.flops, "n_bytes": cost.n_bytes,
            "intensity": cost.intensity, "flops_per_second": cost.flops / seconds}


def measure_cpu(*, size: int = 1024, n_bytes: int = 2**26, repeat: int = 5) -> Accelerator:
    """Mide el cómputo y el ancho de banda de esta CPU, con los hilos de PyTorch actuales.

    El cómputo, con un producto de matrices ``size × size`` en float32 (intensidad
    alta); el ancho de banda, sumando un vector de ``n_bytes`` bytes, mucho mayor
    que las cachés del procesador (cada byte se lee una vez y casi no hay cuentas).
    Son medidas, no cifras de catálogo: varían de una ejecución a otra.
    """
    size = check_int("size", size, min_value=16)
    n_bytes = check_int("n_bytes", n_bytes, min_value=4)
    peak = measure_matmul(size, size, size, repeat=repeat)["flops_per_second"]
    big = torch.ones(n_bytes // 4)
    seconds = measure_seconds(lambda: big.sum(), repeat=repeat)
    return Accelerator("esta CPU (medida)", peak_flops=peak, bandwidth=big.nbytes / seconds)


@dataclass
class GenerationTiming:
    """Lo que mide :func:`time_generation`.

    ``tokens`` ``(N, T0 + n)`` (prompt y tokens nuevos) y ``ready`` (segundos desde
    el comienzo hasta que cada token nuevo estuvo listo, ``(n,)``).
    """

    tokens: torch.Tensor
    ready: list[float]

    @property
    def time_to_first_token(self) -> float:
        """Segundos hasta el primer token: incluye el prellenado del prompt."""
        return self.ready[0]

    @property
    def seconds_per_token(self) -> float:
        """Tiempo medio entre tokens después del primero (decodificación)."""
        gaps = [b - a for a, b in zip(self.ready, self.ready[1:], strict=False)]
        return statistics.mean(gaps) if gaps else float("nan")

    @property
    def total_seconds(self) -> float:
        """Tiempo hasta el último token."""
        return self.ready[-1]


def time_generation(
    model: Any,
    idx: torch.Tensor,
    max_new_tokens: int,
    *,
    use_cache: bool = True,
    next_token: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> GenerationTiming:
    """Genera con ``model.generate`` y anota cuándo está listo cada token.

    ``idx`` ``(N, T0)``; ``next_token`` elige los ids ``(N,)`` a partir de los
    logits ``(N, V)`` (por defecto, el favorito). ``use_cache`` elige entre guardar
    claves y valores en la caché KV o recalcular todo el pasado en cada paso: los
    dos caminos dan los mismos tokens, y cambia el tiempo.

    >>> from libroia.gpt import GPT, GPTConfig
    >>> _ = torch.manual_seed(0)
    >>> tiny = GPT(GPTConfig(vocab_size=32, context=16, d_model=16, n_heads=2)).eval()
    >>> t = time_generation(tiny, torch.zeros(1, 3, dtype=torch.long), 4)
    >>> t.tokens.shape, len(t.ready)
    (torch.Size([1, 7]), 4)
    """
    max_new_tokens = check_int("max_new_tokens", max_new_tokens, min_value=1)
    if not isinstance(idx, torch.Tensor) or idx.ndim != 2:
        shape = describe_shape(idx.shape) if isinstance(idx, torch.Tensor) else type(idx).__name__
        raise ValueError(f"`idx` debe ser un tensor de forma (N, T0), pero es {shape}")
    if not isinstance(use_cache, bool):
        raise TypeError(f"`use_cache` debe ser True o False, pero es {use_cache!r}")
    pick = next_token if next_token is not None else (lambda logits: logits.argmax(dim=-1))
    ready: list[float] = []
    start = time.perf_counter()

    def timed(logits: torch.Tensor) -> torch.Tensor:
        chosen = pick(logits)  # (N,)
        ready.append(time.perf_counter() - start)
        return chosen

    with torch.no_grad():
        tokens = model.generate(idx, max_new_tokens, next_token=timed, use_cache=use_cache)
    return GenerationTiming(tokens=tokens, ready=ready)
