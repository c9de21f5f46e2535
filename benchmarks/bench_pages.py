"""Peso de las páginas: bytes que transfiere la primera carga de cada página.

Chromium (el de Debian, sin red) abre cada página del índice desde un servidor
local con un perfil vacío; se anota cada respuesta y se comprime con gzip, como
la enviaría un servidor estático. Así cuentan el HTML, los scripts, los estilos,
las fuentes que MathJax pide según la página y plotly.js donde hay figuras.

Uso: ``python benchmarks/bench_pages.py`` (con el sitio ya construido).
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import SITE, toc_documents  # noqa: E402
from tests.site.browser import browser_context, serve  # noqa: E402

BUDGET_BYTES = 1_000_000


def _gzip_size(body: bytes) -> int:
    return len(gzip.compress(body, compresslevel=6))


def page_weights() -> dict[str, dict[str, int]]:
    weights = {}
    with serve(SITE) as base_url:
        for doc in toc_documents():
            # Un contexto nuevo por página: caché vacía, como un lector que llega por primera vez.
            with browser_context() as (context, visit):
                sizes: dict[str, int] = {}

                def record(response, sizes=sizes):
                    try:
                        sizes[response.url] = _gzip_size(response.body())
                    except Exception:  # redirecciones y respuestas sin cuerpo
                        sizes[response.url] = 0

                page = context.new_page()
                page.on("response", record)
                page.goto(f"{base_url}/{doc}.html", wait_until="networkidle")
                page.wait_for_timeout(500)
                weights[doc] = {"requests": len(sizes), "gzip_bytes": sum(sizes.values())}
                if visit.blocked:
                    raise RuntimeError(f"{doc}: peticiones externas {visit.blocked}")
    return weights


def site_size() -> dict[str, int]:
    files = [p for p in SITE.rglob("*") if p.is_file()]
    return {
        "site_files": len(files),
        "site_bytes": sum(p.stat().st_size for p in files),
    }


def main() -> dict:
    if not (SITE / "index.html").exists():
        raise SystemExit("construye el sitio primero: make html")
    weights = page_weights()
    heaviest = max(weights.items(), key=lambda kv: kv[1]["gzip_bytes"])
    return {
        "page_gzip_bytes": {doc: w["gzip_bytes"] for doc, w in weights.items()},
        "page_heaviest": heaviest[0],
        "page_heaviest_gzip_bytes": heaviest[1]["gzip_bytes"],
        "page_budget_bytes": BUDGET_BYTES,
        **site_size(),
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2, ensure_ascii=False))
