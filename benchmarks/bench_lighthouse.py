"""Lighthouse en cada capítulo, en móvil y en escritorio (issue 17).

Sirve el sitio construido desde 127.0.0.1 **con gzip** (como un servidor estático
de verdad) y pasa Lighthouse 12.2.3 (npm, versión fija) con el Chromium de Debian
por cada página de capítulo, con el perfil móvil (el predeterminado: CPU 4× más
lenta y red 4G simulada) y con ``--preset=desktop``. Anota rendimiento,
accesibilidad y buenas prácticas (0-100), el tiempo total de bloqueo (TBT) y la
primera pintura con contenido (FCP), en milisegundos.

Lighthouse se instala la primera vez con ``npm i -E lighthouse@12.2.3`` en
``_build/herramientas/lighthouse`` (ignorado por git), o en ``$LIGHTHOUSE_DIR``.
Objetivo del issue 17: móvil ≥ 90, escritorio ≥ 98, accesibilidad y buenas
prácticas 100, TBT en móvil ≤ 200 ms. No es una prueba: nada falla por lento.

Uso: ``python benchmarks/bench_lighthouse.py [--site CARPETA] [book/04_atencion ...]``
(con el sitio ya construido; ``make bench`` lo ejecuta con los demás).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import SITE, toc_documents  # noqa: E402
from tests.site.browser import CHROMIUM, CHROMIUM_ARGS, QuietHandler, serve  # noqa: E402

LIGHTHOUSE_VERSION = "12.2.3"
TOOL_DIR = Path(os.environ.get("LIGHTHOUSE_DIR", ROOT / "_build" / "herramientas" / "lighthouse"))
CATEGORIES = ["performance", "accessibility", "best-practices"]
COMPRESSIBLE = (".html", ".js", ".css", ".json", ".svg", ".txt", ".xml", ".map")


def lighthouse_bin() -> Path:
    """El ejecutable de Lighthouse; lo instala con npm si aún no está."""
    binary = TOOL_DIR / "node_modules" / ".bin" / "lighthouse"
    package = TOOL_DIR / "node_modules" / "lighthouse" / "package.json"
    installed = package.exists() and json.loads(package.read_text())["version"]
    if installed != LIGHTHOUSE_VERSION:
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("falta npm (Node ≥ 18) para instalar Lighthouse")
        TOOL_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(TOOL_DIR),
             "-E", f"lighthouse@{LIGHTHOUSE_VERSION}"],
            check=True,
        )
    return binary


class _GzipHandler(QuietHandler):
    """Servidor estático que comprime con gzip el texto cuando el navegador lo acepta."""

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        accepts = "gzip" in self.headers.get("Accept-Encoding", "")
        if not (accepts and path.is_file() and path.suffix in COMPRESSIBLE):
            return super().send_head()
        body = gzip.compress(path.read_bytes(), compresslevel=6)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=3600")
        self.end_headers()
        return io.BytesIO(body)


def serve_gzip(folder: Path):
    """Como :func:`tests.site.browser.serve`, pero con gzip (como un servidor de verdad)."""
    return serve(folder, _GzipHandler)


def audit(url: str, preset: str) -> dict[str, float]:
    """Una pasada de Lighthouse (``preset``: ``mobile`` o ``desktop``) sobre ``url``."""
    flags = ["--headless=new", *CHROMIUM_ARGS]
    command = [
        str(lighthouse_bin()),
        url,
        "--output=json",
        "--output-path=stdout",
        "--quiet",
        f"--only-categories={','.join(CATEGORIES)}",
        f"--chrome-flags={' '.join(flags)}",
    ]
    if preset == "desktop":
        command.append("--preset=desktop")
    env = {**os.environ, "CHROME_PATH": CHROMIUM}
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"Lighthouse falló en {url} ({preset}):\n{out.stderr[-2000:]}")
    report = json.loads(out.stdout)
    scores = {
        name: round(100 * (report["categories"][name]["score"] or 0)) for name in CATEGORIES
    }
    audits = report["audits"]
    for key, audit_id in (
        ("tbt_ms", "total-blocking-time"),
        ("fcp_ms", "first-contentful-paint"),
        ("lcp_ms", "largest-contentful-paint"),
    ):
        value = audits[audit_id].get("numericValue")
        scores[key] = None if value is None else round(value)
    if report.get("runtimeError"):
        scores["error"] = report["runtimeError"].get("message", "")[:200]
    failed = [
        audit_id
        for name in ("accessibility", "best-practices")
        for ref in report["categories"][name]["auditRefs"]
        if ref["weight"] and (audits[(audit_id := ref["id"])].get("score") or 0) < 1
    ]
    if failed:
        scores["fallos"] = failed
    return scores


def chapters() -> list[str]:
    """Las páginas de capítulo (``book/NN_*``) y la portada."""
    return ["index", *(d for d in toc_documents() if re.match(r"book/\d\d_", d))]


def main(docs: list[str] | None = None, site: Path = SITE) -> dict[str, dict]:
    if not (site / "index.html").exists():
        raise SystemExit(f"no hay sitio en {site}: ejecuta antes `make html`")
    results: dict[str, dict] = {}
    with serve_gzip(site) as base_url:
        for doc in docs or chapters():
            url = f"{base_url}/{doc}.html"
            results[doc] = {preset: audit(url, preset) for preset in ("mobile", "desktop")}
            print(f"  {doc}: {json.dumps(results[doc], ensure_ascii=False)}", flush=True)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("docs", nargs="*", help="páginas, p. ej. book/04_atencion")
    parser.add_argument("--site", type=Path, default=SITE, help="sitio construido")
    parser.add_argument("--out", type=Path, help="escribe aquí el JSON")
    args = parser.parse_args()
    found = main(args.docs, args.site)
    if args.out:
        args.out.write_text(json.dumps(found, indent=2, ensure_ascii=False), encoding="utf-8")
