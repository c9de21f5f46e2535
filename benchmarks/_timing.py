"""Utilidades comunes de las mediciones: cronometrar con calentamiento y mediana.

El cronómetro es el del paquete, :func:`libroia.inference.measure_seconds` (el
que usa el capítulo 11); aquí solo se fijan los valores de las mediciones.
"""

from __future__ import annotations

from collections.abc import Callable

from libroia.inference import measure_seconds


def median_seconds(fn: Callable[[], object], repeat: int = 10, warmup: int = 2) -> float:
    """Mediana, en segundos, del tiempo de ``fn()`` tras ``warmup`` llamadas de calentamiento."""
    return measure_seconds(fn, repeat=repeat, warmup=warmup, statistic="median")
