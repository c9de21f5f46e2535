"""Chromium sin cabeza (el de Debian) sirviendo el sitio desde 127.0.0.1.

Todo lo que intente salir de 127.0.0.1 se bloquea y queda anotado en
``Visit.blocked``: las pruebas exigen que esa lista quede vacía.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest
from libroia_sphinx import chromium

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# axe-core actual, copiado de npm con su licencia (ver tests/site/assets/axe-core/README.md).
AXE_VERSION = "4.14.1"
AXE_JS = Path(__file__).resolve().parent / "assets" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Los mismos argumentos que usa la construcción (sin GPU, sin red salvo 127.0.0.1).
CHROMIUM_ARGS = list(chromium.CHROMIUM_ARGS)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # sin ruido en la salida de pytest
        pass


@contextlib.contextmanager
def serve(folder: Path, handler_class: type = QuietHandler) -> Iterator[str]:
    """Sirve ``folder`` en 127.0.0.1 con un puerto libre; devuelve la URL base.

    ``handler_class``: el manejador de peticiones (por omisión, uno sin registro;
    ``benchmarks/bench_lighthouse.py`` pasa uno que comprime con gzip).
    """
    handler = functools.partial(handler_class, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def axe_violations(page, impacts=("serious", "critical")) -> list[str]:
    """Infracciones de axe-core (reglas WCAG 2.1 A y AA) con el impacto dado, en texto.

    Antes se componen todas las secciones: el libro deja sin maquetar las que están
    lejos de la pantalla (``content-visibility: auto``, ver ``movil.css``) y las
    compone una a una después de cargar (``_static/cabecera/secciones.js``); sin
    maquetar, axe no sabe qué fondo hay detrás de un texto. Aquí se componen todas
    ya, sin esperar a ese script.
    """
    page.add_style_tag(content="section { content-visibility: visible !important; }")
    page.add_script_tag(path=str(AXE_JS))
    version = page.evaluate("axe.version")
    assert version == AXE_VERSION, f"axe-core {version}, se esperaba {AXE_VERSION}"
    results = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    return [
        f"{v['id']} ({v['impact']}, {len(v['nodes'])}): {v['nodes'][0]['html'][:120]}"
        for v in results["violations"]
        if v["impact"] in impacts
    ]


@dataclass
class Visit:
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@contextlib.contextmanager
def browser_context(**context_options) -> Iterator[tuple[object, Visit]]:
    """Un contexto de Playwright con todas las peticiones externas bloqueadas y anotadas."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"falta Chromium en {CHROMIUM}: instala el paquete de Debian `chromium`")
    from playwright.sync_api import sync_playwright

    visit = Visit()
    # Playwright ya arranca Chromium con un perfil temporal vacío.
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(**context_options)

        def route(route, request):
            host = urlparse(request.url).hostname
            if request.url.startswith(("data:", "blob:", "about:")) or host == "127.0.0.1":
                route.continue_()
            else:
                visit.blocked.append(request.url)
                route.abort()

        context.route("**/*", route)
        try:
            yield context, visit
        finally:
            context.close()
            browser.close()
