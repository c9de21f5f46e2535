r"""Atender a muchos usuarios a la vez: lotes estáticos, lotes continuos y memoria por bloques.

Un servidor recibe peticiones a ritmo irregular y de longitudes muy distintas.
Este módulo simula, iteración a iteración, cómo las atiende un motor de
inferencia, con el tiempo de cada pasada sacado de un modelo de coste (por
ejemplo :class:`libroia.inference.CostModel`, el *roofline* de una GPU real):

* **lotes estáticos** (*static batching*): se forma un lote, se genera hasta que
  termina su respuesta más larga y solo entonces entra el siguiente; las
  peticiones que acaban antes esperan a las demás;
* **lotes continuos** (*continuous batching*, la planificación por iteración de
  Orca, Yu et al. 2022): en cada pasada salen las secuencias terminadas y entran
  las que esperan, con su prellenado mezclado con la decodificación del resto;
* memoria de la caché KV **reservada** para la longitud máxima de cada secuencia,
  o **por bloques** de ``block_size`` tokens que se piden según se necesitan
  (:class:`BlockAllocator`, la idea de PagedAttention, Kwon et al. 2023).

:func:`request_stream` genera las peticiones: llegadas de Poisson y longitudes
log-normales (muchas cortas y una cola de muy largas). :class:`ServingResult`
resume rendimiento (tokens por segundo), latencias (p50 y p95) y la fracción de la
memoria reservada que de verdad guarda tokens.

Capítulo 11, «Servir el modelo».
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from libroia._checks import check_choice, check_float, check_int

__all__ = [
    "BlockAllocator",
    "Request",
    "ServingResult",
    "request_stream",
    "simulate",
]

POLICIES = ("static", "continuous")
ALLOCATIONS = ("reserve", "paged")


@dataclass(frozen=True)
class Request:
    """Una petición: llega en ``arrival`` (s) con ``prompt_tokens`` y pide ``output_tokens``."""

    id: int
    arrival: float
    prompt_tokens: int
    output_tokens: int


def request_stream(
    n: int,
    *,
    rate: float,
    prompt_median: float = 200.0,
    output_median: float = 150.0,
    sigma: float = 1.0,
    max_tokens: int = 4096,
    seed: int = 0,
) -> list[Request]:
    r"""``n`` peticiones con llegadas de Poisson de ``rate`` por segundo y longitudes log-normales.

    Los huecos entre llegadas son exponenciales de media ``1/rate``. Las longitudes
    de prompt y respuesta siguen :math:`\exp(\mathcal{N}(\ln m, \sigma^2))` con
    medianas ``prompt_median`` y ``output_median``: la mayoría son cortas y unas
    pocas muy largas. Se recortan para que prompt más respuesta quepan en
    ``max_tokens`` (el contexto del modelo).

    >>> reqs = request_stream(3, rate=2.0, seed=0)
    >>> [r.id for r in reqs], all(r.prompt_tokens + r.output_tokens <= 4096 for r in reqs)
    ([0, 1, 2], True)
    """
    n = check_int("n", n, min_value=1)
    rate = check_float("rate", rate, min_value=0.0, min_inclusive=False)
    for name, value in (("prompt_median", prompt_median), ("output_median", output_median)):
        check_float(name, value, min_value=1.0)
    sigma = check_float("sigma", sigma, min_value=0.0)
    max_tokens = check_int("max_tokens", max_tokens, min_value=2)
    rng = np.random.default_rng(check_int("seed", seed, min_value=0))
    arrivals = np.cumsum(rng.exponential(1.0 / rate, size=n))  # (n,)
    prompts = np.rint(rng.lognormal(math.log(prompt_median), sigma, size=n))
    outputs = np.rint(rng.lognormal(math.log(output_median), sigma, size=n))
    prompts = np.clip(prompts, 1, max_tokens // 2).astype(int)
    outputs = np.clip(outputs, 1, max_tokens - prompts).astype(int)
    return [Request(i, float(a), int(p), int(o))
            for i, (a, p, o) in enumerate(zip(arrivals, prompts, outputs, strict=True))]


class BlockAllocator:
    """Memoria de la caché KV en bloques de ``block_size`` tokens, como PagedAttention.

    Cada secuencia tiene una *tabla de bloques*: la lista de bloques físicos que
    guardan sus tokens, que no tienen por qué ser contiguos. Un bloque nuevo se
    pide solo cuando el último se llena, así que cada secuencia desperdicia menos
    de un bloque (Kwon et al. 2023).

    >>> mem = BlockAllocator(n_blocks=4, block_size=16)
    >>> mem.allocate("a", 20)  # 20 tokens: 2 bloques
    True
    >>> mem.table("a"), mem.free_blocks, mem.allocate("b", 40)
    ([0, 1], 2, False)
    >>> mem.free("a"); mem.allocate("b", 40), mem.table("b")  # bloques no contiguos
    (True, [1, 0, 2])
    """

    def __init__(self, n_blocks: int, block_size: int):
        self.n_blocks = check_int("n_blocks", n_blocks, min_value=0)
        self.block_size = check_int("block_size", block_size, min_value=1)
        self._freed: list[int] = []  # bloques devueltos, se reutilizan primero
        self._next = 0  # primer bloque que nunca se ha usado
        self._tables: dict[object, list[int]] = {}

    @property
    def free_blocks(self) -> int:
        """Bloques libres."""
        return len(self._freed) + self.n_blocks - self._next

    def blocks_for(self, n_tokens: int) -> int:
        """Bloques que hacen falta para ``n_tokens`` tokens: ``⌈n / block_size⌉``."""
        return -(-check_int("n_tokens", n_tokens, min_value=0) // self.block_size)

    def table(self, seq: object) -> list[int]:
        """Tabla de bloques de ``seq`` (vacía si no tiene ninguno)."""
        return list(self._tables.get(seq, []))

    def allocate(self, seq: object, n_tokens: int) -> bool:
        """Amplía la tabla de ``seq`` hasta que quepan ``n_tokens`` tokens.

        Devuelve ``False`` sin tocar nada si no hay bloques libres suficientes.
        """
        missing = self.blocks_for(n_tokens) - len(self._tables.get(seq, []))
        if missing > self.free_blocks:
            return False
        table = self._tables.setdefault(seq, [])
        for _ in range(missing):
            if self._freed:
                table.append(self._freed.pop())
            else:
                table.append(self._next)
                self._next += 1
        return True

    def free(self, seq: object) -> None:
        """Devuelve todos los bloques de ``seq``."""
        self._freed.extend(self._tables.pop(seq, []))


@dataclass(eq=False)
class _Running:
    request: Request
    generated: int = 0
    cached: int = 0  # tokens con claves y valores en la caché


@dataclass
class ServingResult:
    """Lo que devuelve :func:`simulate`.

    ``first_token`` y ``finish``: segundo en que cada petición (por ``id``) recibió
    su primer token y su respuesta completa. ``iterations``: una fila por pasada,
    ``(inicio, fin, secuencias, tokens_nuevos, tokens_guardados, tokens_reservados)``.
    ``admitted``: segundo en que cada petición entró por primera vez en el lote.
    ``preemptions``: secuencias expulsadas por falta de memoria (se recalculan al volver).
    """

    requests: list[Request]
    first_token: dict[int, float] = field(default_factory=dict)
    finish: dict[int, float] = field(default_factory=dict)
    admitted: dict[int, float] = field(default_factory=dict)
    iterations: list[tuple[float, float, int, int, int, int]] = field(default_factory=list)
    preemptions: int = 0

    @property
    def duration(self) -> float:
        """Segundos desde la primera llegada hasta la última respuesta."""
        return max(self.finish.values()) - min(r.arrival for r in self.requests)

    @property
    def throughput(self) -> float:
        """Tokens generados por segundo (rendimiento, *throughput*)."""
        return sum(r.output_tokens for r in self.requests) / self.duration

    def latencies(self) -> np.ndarray:
        """Latencia de cada petición, de su llegada a su respuesta completa (s), ``(n,)``."""
        return np.array([self.finish[r.id] - r.arrival for r in self.requests])

    def ttfts(self) -> np.ndarray:
        """Tiempo hasta el primer token de cada petición (s), ``(n,)``."""
        return np.array([self.first_token[r.id] - r.arrival for r in self.requests])

    def percentile(self, q: float, *, metric: str = "latency") -> float:
        """Percentil ``q`` (0–100) de ``"latency"`` o ``"ttft"``: p50 = mediana, p95, ...

        >>> res = simulate([Request(0, 0.0, 4, 3)], lambda batch: 1.0)
        >>> res.percentile(50), res.percentile(50, metric="ttft")
        (3.0, 1.0)
        """
        q = check_float("q", q, min_value=0.0, max_value=100.0)
        metric = check_choice("metric", metric, ("latency", "ttft"))
        values = self.latencies() if metric == "latency" else self.ttfts()
        return float(np.percentile(values, q))

    @property
    def mean_batch(self) -> float:
        """Secuencias por pasada, de media ponderada por el tiempo de cada pasada."""
        times = np.array([end - start for start, end, *_ in self.iterations])
        sizes = np.array([row[2] for row in self.iterations])
        return float((times * sizes).sum() / times.sum())

    @property
    def memory_used(self) -> float:
        """Fracción de la caché reservada que guarda tokens de verdad (media en el tiempo)."""
        times = np.array([end - start for start, end, *_ in self.iterations])
        stored = np.array([row[4] for row in self.iterations], dtype=float)
        reserved = np.array([row[5] for row in self.iterations], dtype=float)
        keep = reserved > 0
        return float((times * stored)[keep].sum() / (times * reserved)[keep].sum())


def _check_requests(requests: Sequence[Request]) -> list[Request]:
    if isinstance(requests, (str, bytes)) or not isinstance(requests, Sequence) or not requests:
        raise ValueError("`requests` debe ser una lista no vacía de Request")
    bad = [r for r in requests if not isinstance(r, Request)]
    if bad:
        raise TypeError(f"`requests` debe contener Request, pero contiene {type(bad[0]).__name__}")
    ids = [r.id for r in requests]
    if len(set(ids)) != len(ids):
        raise ValueError("los `id` de `requests` deben ser distintos")
    if any(r.prompt_tokens < 1 or r.output_tokens < 1 or r.arrival < 0 for r in requests):
        raise ValueError("cada Request necesita arrival ≥ 0, prompt_tokens ≥ 1 y output_tokens ≥ 1")
    return sorted(requests, key=lambda r: (r.arrival, r.id))


def simulate(
    requests: Sequence[Request],
    cost: Callable[[list[tuple[int, int]]], float],
    *,
    policy: str = "continuous",
    max_batch: int = 32,
    kv_capacity: int | None = None,
    allocation: str = "reserve",
    block_size: int = 16,
    max_seq_len: int = 4096,
) -> ServingResult:
    """Simula un motor de inferencia que atiende ``requests`` y mide cuándo responde a cada una.

    Parámetros
    ----------
    requests : las peticiones (:func:`request_stream`).
    cost : segundos de una pasada, a partir del lote ``[(nuevos, en_caché), ...]``
        (por ejemplo ``CostModel(...).seconds``).
    policy : ``"static"`` (lotes estáticos: el lote entero, con los prompts
        rellenados hasta el más largo, genera hasta que acaba la respuesta más larga y
        todas se entregan al final) o ``"continuous"`` (lotes continuos).
    max_batch : secuencias como máximo en cada pasada.
    kv_capacity : tokens que caben en la caché KV (``None``: sin límite).
    allocation : ``"reserve"`` (cada secuencia reserva ``max_seq_len`` tokens al
        entrar) o ``"paged"`` (bloques de ``block_size`` según hacen falta; si se acaban,
        se expulsa la última secuencia que entró y se recalcula cuando vuelve). Los
        lotes estáticos solo admiten ``"reserve"``.

    >>> reqs = [Request(0, 0.0, 2, 1), Request(1, 0.0, 2, 3)]
    >>> one_second = lambda batch: 1.0
    >>> simulate(reqs, one_second, policy="static").finish  # las dos esperan a la larga
    {0: 3.0, 1: 3.0}
    >>> simulate(reqs, one_second).finish
    {0: 1.0, 1: 3.0}
    """
    requests = _check_requests(requests)
    if not callable(cost):
        raise TypeError(f"`cost` debe ser una función del lote, pero es {type(cost).__name__}")
    policy = check_choice("policy", policy, POLICIES)
    allocation = check_choice("allocation", allocation, ALLOCATIONS)
    if policy == "static" and allocation != "reserve":
        raise ValueError('con `policy`="static" la memoria se reserva entera: usa "reserve"')
    max_batch = check_int("max_batch", max_batch, min_value=1)
    max_seq_len = check_int("max_seq_len", max_seq_len, min_value=2)
    longest = max(r.prompt_tokens + r.output_tokens for r in requests)
    if longest > max_seq_len:
        raise ValueError(
            f"alguna petición necesita {longest} tokens, más que `max_seq_len` = {max_seq_len}"
        )
    capacity = math.inf if kv_capacity is None else check_int("kv_capacity", kv_capacity,
                                                               min_value=max_seq_len)
    block_size = check_int("block_size", block_size, min_value=1)
    mem = BlockAllocator(int(min(capacity, 2**62)) // block_size, block_size)
    result = ServingResult(list(requests))
    pending = deque(requests)  # aún no han llegado
    waiting: deque[_Running] = deque()
    running: list[_Running] = []
    now = 0.0

    def reserved_tokens() -> int:
        if allocation == "reserve":
            return len(running) * max_seq_len
        return (mem.n_blocks - mem.free_blocks) * block_size

    def admit(seq: _Running) -> bool:
        if allocation == "reserve":
            return (len(running) + 1) * max_seq_len <= capacity
        return mem.allocate(seq.request.id, seq.request.prompt_tokens + seq.generated)

    def record(start: float, batch: list[tuple[int, int]]) -> None:
        stored = sum(s.cached for s in running)
        result.iterations.append((start, now, len(batch), sum(n for n, _ in batch), stored,
                                  reserved_tokens()))

    while pending or waiting or running:
        while pending and pending[0].arrival <= now:
            waiting.append(_Running(pending.popleft()))
        if not running and not waiting:
            now = pending[0].arrival
            continue
        if policy == "static":
            while waiting and len(running) < max_batch and admit(waiting[0]):
                running.append(waiting.popleft())
                result.admitted[running[-1].request.id] = now
            _run_static(running, cost, result, now, max_seq_len, reserved_tokens)
            now = result.iterations[-1][1]
            running.clear()
            continue
        while waiting and len(running) < max_batch and admit(waiting[0]):
            running.append(waiting.popleft())
            result.admitted.setdefault(running[-1].request.id, now)
        if allocation == "paged":  # sitio para lo que cada secuencia guarda en esta pasada
            for seq in list(running):
                if seq not in running:
                    continue
                need = seq.request.prompt_tokens + seq.generated
                while not mem.allocate(seq.request.id, need):
                    victim = running.pop()  # la última que entró sale y se recalculará
                    mem.free(victim.request.id)
                    victim.cached = 0
                    waiting.appendleft(victim)
                    result.preemptions += 1
                    if victim is seq:
                        break
        if not running:  # nada cabe: solo pasa si kv_capacity es menor que una secuencia
            raise ValueError("`kv_capacity` no basta para ninguna secuencia")
        batch = [(seq.request.prompt_tokens + seq.generated - seq.cached, seq.cached)
                 if seq.cached == 0 else (1, seq.cached) for seq in running]
        start, now = now, now + cost(batch)
        for seq, (new, _) in zip(running, batch, strict=True):
            seq.cached += new
            seq.generated += 1
            result.first_token.setdefault(seq.request.id, now)
        record(start, batch)
        for seq in [s for s in running if s.generated == s.request.output_tokens]:
            running.remove(seq)
            mem.free(seq.request.id)
            result.finish[seq.request.id] = now
    return result


def _run_static(running, cost, result, now, max_seq_len, reserved_tokens) -> None:
    """Un lote estático: prellenado rellenado hasta el prompt más largo y decodificación
    hasta la respuesta más larga; todas las respuestas se entregan al final."""
    prompt = max(s.request.prompt_tokens for s in running)
    steps = max(s.request.output_tokens for s in running)
    B = len(running)
    for step in range(steps):
        batch = [(prompt, 0)] * B if step == 0 else [(1, prompt + step - 1)] * B
        start, now = now, now + cost(batch)
        for seq in running:
            result.first_token.setdefault(seq.request.id, now)
        real = sum(s.request.prompt_tokens + min(step, s.request.output_tokens - 1)
                   for s in running)  # sin el relleno ni lo que sigue tras terminar
        result.iterations.append((start, now, B, B * batch[0][0], real, reserved_tokens()))
    for seq in running:
        result.finish[seq.request.id] = now
