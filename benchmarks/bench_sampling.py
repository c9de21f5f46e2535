"""Compara ``top_p_filter`` (y ``top_k_filter``) de ``libroia`` con los de Hugging Face.

Entradas: un lote de ``N × V`` logits float32 (por defecto 64 × 128 000, el
vocabulario de Llama 3) con tres formas de distribución, porque el coste de
top-p depende de cuántos tokens hacen falta para reunir la masa ``p``:

- ``plana``: logits normales estándar; con ``p = 0.9`` sobreviven decenas de miles
  de tokens por fila (el peor caso);
- ``zipf``: probabilidades que caen como ``1 / rango^1.1`` más ruido, parecidas a
  las de un modelo de lenguaje real; sobreviven miles;
- ``picuda``: logits normales × 10; sobreviven unos pocos (un modelo seguro).

Para cada una se mide la mediana de varias repeticiones de
``transformers.TopPLogitsWarper`` (ordena la fila entera con índices, acumula y
devuelve la máscara a su sitio con ``scatter``) y de ``libroia.top_p_filter``
(con tensores y con arreglos de NumPy), y el cociente ``HF / libroia``
(objetivo: ≥ 1, es decir, al menos igual de rápido). También se comprueba que los
dos conservan los mismos tokens: en float32 y con decenas de miles de tokens
sumados, el borde del corte puede moverse por redondeo, así que se informa la
fracción de filas idénticas y la mayor diferencia en número de tokens conservados.

Uso::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_sampling.py [--N 64 --V 128000]

Necesita ``transformers`` (probado con ``transformers==5.23.0``). ``make bench`` lo
ejecuta; las pruebas no (nunca se prueba un tiempo).
"""

from __future__ import annotations

import argparse
import json

import torch
from _timing import median_seconds  # benchmarks/_timing.py: calentamiento y mediana

from libroia.sampling import top_k_filter, top_p_filter


def make_logits(kind: str, N: int, V: int, seed: int = 0) -> torch.Tensor:
    """Logits float32 ``(N, V)`` de la forma ``kind`` (``plana``, ``zipf`` o ``picuda``)."""
    g = torch.Generator().manual_seed(seed)
    if kind == "plana":
        return torch.randn(N, V, generator=g)
    if kind == "picuda":
        return 10 * torch.randn(N, V, generator=g)
    if kind == "zipf":
        ranks = torch.arange(1, V + 1, dtype=torch.float32)
        base = -1.1 * torch.log(ranks)  # (V,) log-probabilidad de Zipf
        order = torch.argsort(torch.rand(N, V, generator=g), dim=-1)  # (N, V)
        return base[order] + 0.1 * torch.randn(N, V, generator=g)
    raise ValueError(f"`kind` debe ser 'plana', 'zipf' o 'picuda', pero vale {kind!r}")


def main(N: int = 64, V: int = 128_000, p: float = 0.9, k: int = 50, repeat: int = 5) -> dict:
    """Mide, imprime una tabla y devuelve los resultados en un diccionario."""
    from transformers import __version__ as hf_version
    from transformers.generation.logits_process import TopKLogitsWarper, TopPLogitsWarper

    hf_top_p, hf_top_k = TopPLogitsWarper(p), TopKLogitsWarper(k)
    results: dict = {
        "N": N,
        "V": V,
        "p": p,
        "k": k,
        "transformers": hf_version,
        "torch_threads": torch.get_num_threads(),
        "cases": {},
    }
    print(f"top-p = {p}, top-k = {k}, lote {N} × {V} float32, {torch.get_num_threads()} hilo(s)")
    print(f"{'caso':<8} {'conservados':>12} {'HF (s)':>8} {'libroia (s)':>12} "
          f"{'NumPy (s)':>10} {'HF/libroia':>11} {'filas iguales':>14}")
    for kind in ("plana", "zipf", "picuda"):
        x = make_logits(kind, N, V)
        x_np = x.numpy()
        ours, theirs = top_p_filter(x, p), hf_top_p(None, x)
        kept_ours, kept_hf = torch.isfinite(ours), torch.isfinite(theirs)
        same_rows = (kept_ours == kept_hf).all(dim=-1).float().mean().item()
        count_diff = (kept_ours.sum(-1) - kept_hf.sum(-1)).abs().max().item()
        t_hf = median_seconds(lambda x=x: hf_top_p(None, x), repeat)
        t_ours = median_seconds(lambda x=x: top_p_filter(x, p), repeat)
        t_np = median_seconds(lambda x_np=x_np: top_p_filter(x_np, p), repeat)
        case = {
            "kept_mean": kept_hf.sum(-1).float().mean().item(),
            "hf_seconds": t_hf,
            "libroia_seconds": t_ours,
            "libroia_numpy_seconds": t_np,
            "ratio_hf_over_libroia": t_hf / t_ours,
            "identical_rows": same_rows,
            "max_kept_count_difference": int(count_diff),
        }
        results["cases"][kind] = case
        print(f"{kind:<8} {case['kept_mean']:>12.0f} {t_hf:>8.3f} {t_ours:>12.3f} "
              f"{t_np:>10.3f} {t_hf / t_ours:>11.2f} {same_rows:>14.2f}")
    x = make_logits("zipf", N, V)
    t_hf = median_seconds(lambda: hf_top_k(None, x), repeat)
    t_ours = median_seconds(lambda: top_k_filter(x, k), repeat)
    assert torch.equal(top_k_filter(x, k), hf_top_k(None, x))
    results["top_k"] = {"hf_seconds": t_hf, "libroia_seconds": t_ours, "ratio": t_hf / t_ours}
    print(f"top-k: HF {t_hf:.3f} s, libroia {t_ours:.3f} s, HF/libroia {t_hf / t_ours:.2f}")
    results["min_ratio_top_p"] = min(c["ratio_hf_over_libroia"] for c in results["cases"].values())
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--N", type=int, default=64)
    parser.add_argument("--V", type=int, default=128_000)
    parser.add_argument("--p", type=float, default=0.9)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(main(args.N, args.V, args.p, args.k, args.repeat), indent=2))
