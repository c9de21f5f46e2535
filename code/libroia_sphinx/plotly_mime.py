"""Figuras de plotly en el sitio: datos en JSON, dibujados al acercarse a la pantalla.

myst-nb descartaría la salida ``application/vnd.plotly.v1+json``; este
renderizador la convierte en un ``<figure>`` con un ``<div class="plotly-graph-div">``
vacío (con su altura ya reservada, para que la página no salte) y el JSON de la
figura en un ``<script type="application/json">``, que el navegador no interpreta
al cargar la página. ``_static/figuras/figuras-plotly.js`` (lo añade
:mod:`libroia_sphinx.ext` solo en las páginas con figuras) trae plotly.js la
primera vez que hace falta y dibuja cada figura cuando se acerca a la pantalla,
con los colores del tema (claro u oscuro) y, en pantallas estrechas, con la
leyenda debajo y los títulos partidos en líneas. El texto alternativo
(``layout.meta.alt``, ver :func:`libroia.plots.new_figure`) pasa a ser el
``aria-label`` de la figura.

Se registra con el punto de entrada ``myst_nb.mime_renderers`` del
``pyproject.toml`` de este paquete (``plotly = "libroia_sphinx.plotly_mime:PlotlyRenderer"``).
"""

from __future__ import annotations

import html
import json
from typing import Any, ClassVar

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

PLOTLY_MIME = "application/vnd.plotly.v1+json"


class PlotlyRenderer:
    """Renderizador de myst-nb para las figuras de plotly (ver el docstring del módulo)."""

    # En HTML, la figura interactiva gana a la imagen o al texto de respaldo.
    mime_priority_overrides: ClassVar[list[tuple[str, str, int]]] = [
        ("html", PLOTLY_MIME, 1),
        ("dirhtml", PLOTLY_MIME, 1),
        ("singlehtml", PLOTLY_MIME, 1),
    ]

    @staticmethod
    def handle_mime(renderer: Any, data: Any, inline: bool) -> list[nodes.Element] | None:
        if inline or data.mime_type != PLOTLY_MIME:
            return None
        return [nodes.raw(text=plotly_div(data.content), format="html")]


#: Altura de una figura sin ``layout.height`` (la de plotly.js), en píxeles.
DEFAULT_HEIGHT = 450


def figure_json(spec: dict[str, Any]) -> str:
    """JSON de la figura apto para ir dentro de ``<script type="application/json">``.

    Ningún ``<`` queda literal (``</script>`` cerraría la etiqueta antes de tiempo).

    >>> text = figure_json({"layout": {"title": {"text": "</script>"}}})
    >>> "<" in text, json.loads(text)["layout"]["title"]["text"]
    (False, '</script>')
    """
    text = json.dumps(spec, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c")


def plotly_div(spec: dict[str, Any] | str) -> str:
    """HTML de una figura de plotly que se dibuja al acercarse a la pantalla.

    >>> import plotly.graph_objects as go
    >>> fig = go.Figure(go.Scatter(x=[0, 1], y=[1, 2]), layout={"meta": {"alt": "Una recta"}})
    >>> html = plotly_div(fig.to_json())
    >>> 'aria-label="Una recta"' in html and 'type="application/json"' in html
    True
    >>> "Plotly.newPlot" in html
    False
    """
    import plotly.io as pio

    if isinstance(spec, str):
        spec = json.loads(spec)
    fig = pio.from_json(json.dumps(spec), skip_invalid=True)
    meta = fig.layout.meta if isinstance(fig.layout.meta, dict) else {}
    alt = str(meta.get("alt", "")).strip()
    if not alt:
        logger.warning(
            "figura de plotly sin texto alternativo: créala con libroia.plots.new_figure(alt=...)",
            type="libroia",
            subtype="alt",
        )
        alt = str(fig.layout.title.text or "Figura interactiva")
    figure = json.loads(pio.to_json(fig, validate=False))
    figure["config"] = {"displaylogo": False, "responsive": True, "locale": "es"}
    height = int(fig.layout.height or DEFAULT_HEIGHT)
    return (
        f'<figure class="libroia-plotly" aria-label="{html.escape(alt)}">'
        f'<div class="plotly-graph-div" style="height:{height}px; width:100%;"></div>'
        f'<script type="application/json">{figure_json(figure)}</script>'
        f'<figcaption class="sr-only">{html.escape(alt)}</figcaption></figure>'
    )
