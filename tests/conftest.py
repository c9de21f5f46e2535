"""Utilidades comunes de las pruebas: rutas del proyecto y el sitio construido."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import settings

# En integración continua (variable de entorno CI), Hypothesis es determinista: los mismos
# ejemplos en cada ejecución, sin base de datos de fallos anteriores ni plazos por ejemplo,
# para que una entrega nunca se rechace por azar. En local sigue explorando al azar.
settings.register_profile("ci", derandomize=True, database=None, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
# LIBROIA_SITE: probar otro sitio ya construido (p. ej. una copia) sin tocar _build/html.
SITE = Path(os.environ.get("LIBROIA_SITE", ROOT / "_build" / "html"))
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"
BUILD_FLAGS = ["-W", "-n", "--keep-going"]


def pytest_configure(config):
    """Con pytest-xdist (``make test`` usa dos procesos), un hilo de PyTorch por proceso.

    Dos procesos con dos hilos cada uno en una máquina de dos núcleos se estorban.
    """
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


def toc_documents() -> list[str]:
    """Documentos del índice (`_toc.yml`), como rutas sin extensión: ``book/intro``."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    docs = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                docs.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return docs


def chapter_sources() -> list[Path]:
    """Ficheros Markdown de los documentos del índice."""
    return [ROOT / f"{doc}.md" for doc in toc_documents()]


@pytest.fixture(scope="session")
def site() -> Path:
    """El sitio construido; si no existe, se construye (con la caché de ejecución)."""
    if not (SITE / "index.html").exists():
        subprocess.run([str(JUPYTER_BOOK), "build", ".", *BUILD_FLAGS], cwd=ROOT, check=True)
    return SITE
