"""Compara el tiempo de ``libroia`` con ``F.scaled_dot_product_attention`` de PyTorch.

Mismas entradas para todos: ``q, k, v`` de forma ``(N, h, T, d)`` en float32,
atención causal, sin gradiente y el mismo número de hilos
(``torch.set_num_threads``) para todos. Se miden dos caminos de ``libroia``:

- con pesos (``need_weights=True``): crea la matriz ``(N, h, T, T)`` entera;
- sin pesos (``need_weights=False``): por bloques de consultas, sin esa matriz
  y sin tocar las claves futuras. Objetivo: ≤ 1.5 veces PyTorch.

y dos de PyTorch: el núcleo por defecto (en CPU, uno fusionado tipo
FlashAttention que no guarda la matriz de pesos y se salta la mitad
enmascarada) y el núcleo «matemático», que sí crea esa matriz como el camino
con pesos: es su comparación de igual a igual.

La máquina puede estar cargada por otros procesos, así que los cuatro se miden
intercalados en varias rondas (cada medida, la mediana de ``repeat`` llamadas);
cada cociente se calcula dentro de su ronda y se informa la mediana de los
cocientes de todas las rondas. Con ``--sweep`` mide también el cociente del
camino sin pesos para varios tamaños de bloque (así se eligió
``libroia.attention.DEFAULT_BLOCK_SIZE``).

Hilos: por omisión, uno. Con varios hilos en una máquina compartida, cada una de
las ~100 operaciones pequeñas del camino por bloques abre su propia región
paralela, y la espera activa de OpenMP (los hilos giran esperando en vez de
dormir) puede hacerlo varias veces más lento, mientras que el núcleo fusionado
de PyTorch abre una sola. Para medir con 2 hilos, exporta
``OMP_WAIT_POLICY=PASSIVE`` antes de lanzar Python (se lee al cargar torch).

Uso: ``python benchmarks/bench_attention.py [--N 8 --h 8 --T 512 --d 64 --threads 1
--rounds 5 --repeat 5 --sweep]``. ``make bench`` lo ejecuta; las pruebas no.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics

import torch
import torch.nn.functional as F
from _timing import median_seconds  # benchmarks/_timing.py: calentamiento y mediana
from torch.nn.attention import SDPBackend, sdpa_kernel

from libroia.attention import DEFAULT_BLOCK_SIZE, scaled_dot_product_attention

TARGET = 1.5  # objetivo del camino sin pesos frente a F.scaled_dot_product_attention


def _paths(q, k, v, block_size: int | None = None) -> dict:
    """Las cuatro funciones que se comparan, sin argumentos."""

    def torch_math():
        with sdpa_kernel(SDPBackend.MATH):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    return {
        "libroia_weights": lambda: scaled_dot_product_attention(q, k, v, causal=True),
        "libroia_blockwise": lambda: scaled_dot_product_attention(
            q, k, v, causal=True, need_weights=False, block_size=block_size),
        "torch_sdpa": lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        "torch_math": torch_math,
    }


def _rounds(fns: dict, rounds: int, repeat: int) -> dict[str, list[float]]:
    """Segundos de cada función en cada ronda, medidas intercaladas."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            times[name].append(median_seconds(fn, repeat))
    return times


def _median_ratio(num: list[float], den: list[float]) -> float:
    """Mediana de los cocientes ronda a ronda (cada uno, entre medidas vecinas)."""
    return statistics.median(a / b for a, b in zip(num, den, strict=True))


def sweep(q, k, v, block_sizes, rounds: int, repeat: int) -> dict[int, float]:
    """Mediana del cociente (sin pesos / F.sdpa por defecto) para cada tamaño de bloque."""
    ratios = {}
    for block in block_sizes:
        paths = _paths(q, k, v, block)
        fns = {name: paths[name] for name in ("libroia_blockwise", "torch_sdpa")}
        times = _rounds(fns, rounds, repeat)
        ratios[block] = _median_ratio(times["libroia_blockwise"], times["torch_sdpa"])
        print(f"  bloque {block:4d}: cociente sin pesos / PyTorch {ratios[block]:5.2f}", flush=True)
    return ratios


def main(
    N: int = 8, h: int = 8, T: int = 512, d: int = 64, threads: int = 1,
    rounds: int = 5, repeat: int = 5, seed: int = 0, block_sizes: tuple[int, ...] = (),
) -> dict:
    """Mide los cuatro caminos, imprime una tabla y devuelve los resultados en un diccionario."""
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)  # los mismos hilos para todos
    try:
        gen = torch.Generator().manual_seed(seed)
        q, k, v = (torch.randn(N, h, T, d, generator=gen) for _ in range(3))  # (N, h, T, d)
        fns = _paths(q, k, v)
        with torch.no_grad():
            reference = fns["torch_sdpa"]()
            max_diff = {
                name: float((fns[name]()[0] - reference).abs().max())
                for name in ("libroia_weights", "libroia_blockwise")
            }
            times = _rounds(fns, rounds, repeat)
            swept = sweep(q, k, v, block_sizes, rounds, repeat) if block_sizes else {}
    finally:
        torch.set_num_threads(previous_threads)

    results = {
        "shape": [N, h, T, d],
        "causal": True,
        "threads": threads,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(por omisión)"),
        "rounds": rounds,
        "block_size": DEFAULT_BLOCK_SIZE,
        "ms": {name: 1e3 * statistics.median(t) for name, t in times.items()},
        "ratio": {},
        "max_abs_diff": max_diff,
    }
    for ours in ("libroia_weights", "libroia_blockwise"):
        for theirs in ("torch_sdpa", "torch_math"):
            key = f"{ours.removeprefix('libroia_')}_vs_{theirs.removeprefix('torch_')}"
            results["ratio"][key] = _median_ratio(times[ours], times[theirs])
    results["ratio_rounds_blockwise_vs_sdpa"] = [
        a / b for a, b in zip(times["libroia_blockwise"], times["torch_sdpa"], strict=True)
    ]
    results["target_ratio"] = TARGET
    results["meets_target"] = results["ratio"]["blockwise_vs_sdpa"] <= TARGET
    if swept:
        results["sweep_blockwise_vs_sdpa"] = swept

    ms, ratio = results["ms"], results["ratio"]
    print(f"atención causal, (N, h, T, d) = {(N, h, T, d)}, float32, {threads} hilo(s) "
          f"(OMP_WAIT_POLICY {results['omp_wait_policy']}), "
          f"{rounds} rondas × mediana de {repeat} llamadas")
    print(f"  libroia con pesos                 {ms['libroia_weights']:8.1f} ms")
    print(f"  libroia sin pesos (bloques de {DEFAULT_BLOCK_SIZE:3d}) "
          f"{ms['libroia_blockwise']:8.1f} ms")
    print(f"  F.scaled_dot_product_attention    {ms['torch_sdpa']:8.1f} ms")
    print(f"  ídem, núcleo matemático           {ms['torch_math']:8.1f} ms")
    print("  cocientes (mediana de las rondas)   / PyTorch   / matemático")
    for path in ("weights", "blockwise"):
        label = "con pesos" if path == "weights" else "sin pesos"
        print(f"    libroia {label}              {ratio[f'{path}_vs_sdpa']:8.2f}"
              f"   {ratio[f'{path}_vs_math']:8.2f}")
    print(f"  objetivo sin pesos ≤ {TARGET}: {'sí' if results['meets_target'] else 'no'}")
    print(f"  diferencia máxima con PyTorch     {max(max_diff.values()):8.1e}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in [("N", 8), ("h", 8), ("T", 512), ("d", 64), ("threads", 1),
                          ("rounds", 5), ("repeat", 5)]:
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--sweep", action="store_true",
                        help="mide también los bloques de 16, 32, 64, 128, 256 y 512 consultas")
    parser.add_argument("--json", help="guarda los resultados en este archivo JSON")
    args = parser.parse_args()
    res = main(args.N, args.h, args.T, args.d, args.threads, args.rounds, args.repeat,
               block_sizes=(16, 32, 64, 128, 256, 512) if args.sweep else ())
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(res, f, indent=2)
