"""Tiempo de construcción del libro: en frío, sin cambios y tras editar un capítulo.

Se construye una copia del repositorio en una carpeta temporal, con la caché de
ejecución y la de modelos vacías, así que la primera construcción ejecuta todas
las celdas y entrena todos los modelos. Después:

- una reconstrucción sin cambios (no debe ejecutarse ningún cuaderno);
- una reconstrucción tras cambiar una celda de un capítulo (solo ese capítulo
  debe volver a ejecutarse).

Uso: ``python benchmarks/bench_build.py``. ``make bench`` lo ejecuta.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"
IGNORE = shutil.ignore_patterns(".venv", "_build", ".git", "__pycache__", ".*_cache", ".hypothesis")
EXECUTED = re.compile(r"Executing notebook using")


def _build(workdir: Path, env: dict[str, str]) -> tuple[float, int, str]:
    start = time.perf_counter()
    out = subprocess.run(
        [str(JUPYTER_BOOK), "build", ".", "-W", "-n", "--keep-going"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError("la construcción falló:\n" + out.stdout[-3000:] + out.stderr[-3000:])
    log = out.stdout + out.stderr
    return seconds, len(EXECUTED.findall(log)), log


def _chapter_times(workdir: Path) -> dict[str, float]:
    """Segundos de ejecución de cada cuaderno, según la caché de jupyter-cache."""
    from jupyter_cache import get_cache

    cache = get_cache(workdir / "_build" / ".jupyter_cache")
    times = {}
    for record in cache.list_cache_records():
        name = Path(record.uri).stem
        times[name] = round(float(record.data.get("execution_seconds", 0.0)), 2)
    return dict(sorted(times.items()))


def _touch_one_chapter(workdir: Path) -> str:
    """Cambia la primera celda de código del primer capítulo numerado (un comentario)."""
    chapter = sorted((workdir / "book").glob("[0-9][0-9]_*.md"))[0]
    text = chapter.read_text(encoding="utf-8")
    marker = "```{code-cell} ipython3\n"
    i = text.index(marker) + len(marker)
    while text[i] == ":" or text[i] == "\n":  # salta las opciones y la línea en blanco
        i = text.index("\n", i) + 1
    chapter.write_text(text[:i] + "# edición de prueba\n" + text[i:], encoding="utf-8")
    return chapter.name


def main() -> dict:
    with tempfile.TemporaryDirectory(prefix="libro-frio-") as tmp:
        workdir = Path(tmp) / "libro"
        shutil.copytree(ROOT, workdir, ignore=IGNORE)
        env = {**os.environ, "LIBROIA_CACHE": str(Path(tmp) / "modelos")}
        cold, n_cold, _ = _build(workdir, env)
        per_chapter = _chapter_times(workdir)
        warm, n_warm, _ = _build(workdir, env)
        touched = _touch_one_chapter(workdir)
        one, n_one, _ = _build(workdir, env)
    return {
        "build_cold_s": round(cold, 1),
        "build_cold_notebooks_executed": n_cold,
        "build_warm_s": round(warm, 1),
        "build_warm_notebooks_executed": n_warm,
        "build_one_chapter_s": round(one, 1),
        "build_one_chapter_notebooks_executed": n_one,
        "build_one_chapter_touched": touched,
        "chapter_execution_s": per_chapter,
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2, ensure_ascii=False))
