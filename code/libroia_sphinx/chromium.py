"""Chromium sin cabeza (el de Debian) para el libro impreso: figuras y fórmulas estáticas.

El PDF y el EPUB no ejecutan JavaScript, así que lo que en el sitio dibujan
plotly.js y MathJax se hace aquí, una vez, al construirlos:

- :func:`render` convierte figuras de plotly en SVG (``Plotly.toImage``, su
  estado inicial) y fórmulas de TeX en MathML (``MathJax.tex2mmlPromise``), con
  las copias locales de ``book/_vendor/``.
- :func:`browser` abre Chromium sin red: cualquier petición que no sea a un
  fichero local o a 127.0.0.1 se corta.

Nunca se descarga un navegador: se usa ``$LIBROIA_CHROMIUM`` o el ``chromium``
del sistema (paquete de Debian ``chromium``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

#: Argumentos de Chromium: sin GPU, sin red y sin perfil.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
#: Tamaño de una figura de plotly sin ``layout.width``/``layout.height``, en píxeles.
FIGURE_SIZE = (760, 460)


def chromium_path() -> Path:
    """El ejecutable de Chromium: ``$LIBROIA_CHROMIUM`` o ``chromium`` en el ``PATH``."""
    found = os.environ.get("LIBROIA_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    path = Path(found)
    if not path.exists():
        raise FileNotFoundError(
            f"no encuentro Chromium en {path}: instala el paquete de Debian `chromium` o pon "
            "la ruta del ejecutable en la variable LIBROIA_CHROMIUM"
        )
    return path


@contextlib.contextmanager
def browser() -> Iterator[Any]:
    """Un contexto de Playwright con Chromium local que no sale a la red."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(chromium_path()), args=CHROMIUM_ARGS)
        try:
            context = chromium.new_context()

            def route(route: Any, request: Any) -> None:
                url = request.url
                local = url.startswith(("file:", "data:", "blob:", "about:"))
                if local or urlparse(url).hostname == "127.0.0.1":
                    route.continue_()
                else:
                    route.abort()

            context.route("**/*", route)
            yield context
        finally:
            chromium.close()


_PAGE = """<!DOCTYPE html>
<html lang="es"><head><meta charset="utf-8">
<script>
window.MathJax = {{
  loader: {{load: []}},
  startup: {{typeset: false}},
  tex: {{packages: {{"[+]": ["noerrors"]}}}},
}};
</script>
<script src="{plotly}"></script>
<script src="{mathjax}"></script>
</head><body></body></html>
"""

_SCRIPT = """async ({figures, formulas, size}) => {
  await MathJax.startup.promise;
  const svgs = [];
  for (const fig of figures) {
    const layout = fig.layout || {};
    const url = await Plotly.toImage(
      {data: fig.data || [], layout: layout, config: {staticPlot: true}},
      {format: "svg", width: layout.width || size[0], height: layout.height || size[1]},
    );
    svgs.push(decodeURIComponent(url.slice(url.indexOf(",") + 1)));
  }
  const mathml = [];
  for (const [tex, display] of formulas) {
    try {
      mathml.push(await MathJax.tex2mmlPromise(tex, {display: display}));
    } catch (error) {
      mathml.push(null);
    }
  }
  return {svgs, mathml};
}"""



def clean_mathml(mathml: str) -> str:
    """MathML de MathJax sin sus atributos ``data-*`` ni sangría.

    >>> clean_mathml('<math xmlns="x">\\n  <mi data-mjx-auto-op="false">x</mi>\\n</math>')
    '<math xmlns="x"><mi>x</mi></math>'
    """
    mathml = re.sub(r'\sdata-[\w-]+="[^"]*"', "", mathml)
    return re.sub(r">\s+<", "><", mathml).strip()


# Atributos que plotly añade a su SVG y que SVG 1.1 (el esquema de EPUB 3) no admite.
_SVG_BAD_ATTRS = re.compile(r'\s(?:data-[\w-]+|updatemenu-active-index|slider-[\w-]+)="[^"]*"')


def clean_svg(svg: str) -> str:
    """SVG de ``Plotly.toImage`` válido para EPUB: sin atributos propios ni trazos vacíos.

    >>> clean_svg('<svg><path class="a"/><path d="M0 0" data-index="1"/></svg>')
    '<svg><path d="M0 0"/></svg>'
    """
    svg = _SVG_BAD_ATTRS.sub("", svg).replace('text-anchor="left"', 'text-anchor="start"')
    # plotly deja <path> sin el atributo obligatorio `d` (trazos vacíos): no dibujan nada.
    svg = re.sub(r"<path(?![^>]*\sd=)[^>]*?(?:/>|>\s*</path>)", "", svg)
    return svg


def render(
    figures: list[dict[str, Any]], formulas: list[tuple[str, bool]], vendor: Path
) -> tuple[list[str], list[str | None]]:
    """Dibuja ``figures`` (plotly) en SVG y pasa ``formulas`` de TeX a MathML.

    ``figures`` son diccionarios ``{"data": ..., "layout": ...}`` de plotly;
    ``formulas``, pares ``(tex, display)``. ``vendor`` es ``book/_vendor`` (con
    ``plotly/`` y ``mathjax/``). Devuelve las listas de SVG y de MathML, en el
    mismo orden; una fórmula que MathJax no entiende da ``None``.
    """
    vendor = Path(vendor).resolve()
    plotly_js = vendor / "plotly" / "plotly-libro.min.js"
    mathjax_js = vendor / "mathjax" / "tex-chtml.js"
    for needed in (plotly_js, mathjax_js):
        if not needed.is_file():
            raise FileNotFoundError(f"falta {needed}: `vendor` debe ser la carpeta book/_vendor")
    if not figures and not formulas:
        return [], []
    with tempfile.TemporaryDirectory(prefix="libroia-chromium-") as tmp:
        page_path = Path(tmp) / "render.html"
        page_path.write_text(
            _PAGE.format(plotly=plotly_js.as_uri(), mathjax=mathjax_js.as_uri()), encoding="utf-8"
        )
        with browser() as context:
            page = context.new_page()
            page.goto(page_path.as_uri())
            payload = {
                "figures": json.loads(json.dumps(figures)),
                "formulas": [[tex, bool(display)] for tex, display in formulas],
                "size": list(FIGURE_SIZE),
            }
            result = page.evaluate(_SCRIPT, payload)
    mathml = [clean_mathml(m) if m else None for m in result["mathml"]]
    return [clean_svg(svg) for svg in result["svgs"]], mathml
