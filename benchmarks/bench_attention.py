"""Compara el tiempo de ``libroia`` con ``F.scaled_dot_product_attention`` de PyTorch.

Mismas entradas para todos: ``q, k, v`` de forma ``(N, h, T, d)`` en float32,
atención causal, sin gradiente. Se informa la mediana de varias repeticiones
y el cociente ``libroia / PyTorch`` (objetivo: ≤ 1.5).

Además del núcleo por defecto de PyTorch (en CPU, uno fusionado tipo
FlashAttention que no guarda la matriz de pesos ``T × T`` y se salta la mitad
enmascarada), se mide el núcleo «matemático» de PyTorch, que sí crea esa
matriz como ``libroia``: es la comparación de igual a igual.

Uso: ``python benchmarks/bench_attention.py [--N 8 --h 8 --T 512 --d 64 --repeat 20]``.
``make bench`` lo ejecuta; las pruebas no.
"""

from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F
from _timing import median_seconds  # benchmarks/_timing.py: calentamiento y mediana
from torch.nn.attention import SDPBackend, sdpa_kernel

from libroia.attention import scaled_dot_product_attention


def main(
    N: int = 8, h: int = 8, T: int = 512, d: int = 64, repeat: int = 20, seed: int = 0
) -> dict:
    """Mide los tres caminos, imprime una tabla y devuelve los resultados en un diccionario."""
    gen = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(N, h, T, d, generator=gen) for _ in range(3))  # (N, h, T, d)

    def ours():
        return scaled_dot_product_attention(q, k, v, causal=True)

    def torch_default():
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    def torch_math():
        with sdpa_kernel(SDPBackend.MATH):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    with torch.no_grad():
        out, _ = ours()
        max_diff = float((out - torch_default()).abs().max())
        # Intercaladas para que la carga de la máquina afecte por igual a todas.
        t_ours, t_torch, t_math = [], [], []
        for _ in range(3):
            t_ours.append(median_seconds(ours, repeat))
            t_torch.append(median_seconds(torch_default, repeat))
            t_math.append(median_seconds(torch_math, repeat))
    results = {
        "shape": [N, h, T, d],
        "causal": True,
        "threads": torch.get_num_threads(),
        "libroia_ms": 1e3 * min(t_ours),
        "torch_sdpa_ms": 1e3 * min(t_torch),
        "torch_math_ms": 1e3 * min(t_math),
        "max_abs_diff": max_diff,
    }
    results["ratio"] = results["libroia_ms"] / results["torch_sdpa_ms"]
    results["ratio_vs_math"] = results["libroia_ms"] / results["torch_math_ms"]
    results["target_ratio"] = 1.5
    results["meets_target"] = results["ratio"] <= 1.5

    print(f"atención causal, (N, h, T, d) = {(N, h, T, d)}, float32, "
          f"{results['threads']} hilos, mediana de {repeat} repeticiones")
    print(f"  libroia                         {results['libroia_ms']:8.2f} ms")
    print(f"  F.scaled_dot_product_attention  {results['torch_sdpa_ms']:8.2f} ms")
    print(f"  ídem, núcleo matemático         {results['torch_math_ms']:8.2f} ms")
    print(f"  cociente libroia / PyTorch      {results['ratio']:8.2f}  (objetivo ≤ 1.5)")
    print(f"  cociente libroia / matemático   {results['ratio_vs_math']:8.2f}")
    print(f"  diferencia máxima               {max_diff:8.1e}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in [("N", 8), ("h", 8), ("T", 512), ("d", 64), ("repeat", 20)]:
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--json", help="guarda los resultados en este archivo JSON")
    args = parser.parse_args()
    res = main(args.N, args.h, args.T, args.d, args.repeat)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(res, f, indent=2)
