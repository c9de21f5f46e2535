"""`make bench`: ejecuta cada medición de `benchmarks/` y resume los resultados.

Cada módulo ``bench_*.py`` tiene una función ``main()`` que devuelve un
diccionario de cifras. Aquí se ejecutan todas (o las que se nombren:
``python benchmarks/run_all.py pages attention``), se imprime una tabla y se
guarda todo en ``_build/bench.json``. No son pruebas: nada falla por lento.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

ORDER = ["attention", "sampling", "tokenizer", "gpt", "pages", "lighthouse", "build"]


def _flatten(prefix: str, value, rows: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, rows)
    else:
        rows.append((prefix, f"{value:.4g}" if isinstance(value, float) else str(value)))


def main(names: list[str]) -> dict:
    available = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    selected = names or sorted(available, key=lambda n: ORDER.index(n) if n in ORDER else 99)
    results: dict[str, dict] = {}
    for name in selected:
        if name not in available:
            raise SystemExit(f"no existe benchmarks/bench_{name}.py (hay: {', '.join(available)})")
        print(f"→ {name} …", flush=True)
        start = time.perf_counter()
        results[name] = importlib.import_module(f"bench_{name}").main()
        print(f"  {time.perf_counter() - start:.1f} s", flush=True)
    rows: list[tuple[str, str]] = []
    _flatten("", results, rows)
    width = max(len(k) for k, _ in rows)
    print()
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    out = ROOT / "_build" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"\nResultados en {out.relative_to(ROOT)}")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
