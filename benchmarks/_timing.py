"""Utilidades comunes de las mediciones: cronometrar con calentamiento y mediana."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_seconds(fn: Callable[[], object], repeat: int = 10, warmup: int = 2) -> float:
    """Mediana, en segundos, del tiempo de ``fn()`` tras ``warmup`` llamadas de calentamiento."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
