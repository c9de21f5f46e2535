"""Figuras de plotly en el sitio, con un único plotly.js local.

myst-nb descartaría la salida ``application/vnd.plotly.v1+json``; este
renderizador la convierte en un ``<div>`` que dibuja ``Plotly.newPlot``, sin
incrustar plotly.js en cada figura (lo carga :mod:`libroia_sphinx.ext`, una vez y
solo en las páginas con figuras). El texto alternativo de la figura
(``layout.meta.alt``, ver :func:`libroia.plots.new_figure`) pasa a ser su
``aria-label``.

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


def plotly_div(spec: dict[str, Any] | str) -> str:
    """HTML de una figura de plotly que usa el plotly.js compartido del sitio."""
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
    div = pio.to_html(
        fig,
        full_html=False,
        include_plotlyjs=False,
        include_mathjax=False,
        config={"displaylogo": False, "responsive": True, "locale": "es"},
        default_width="100%",
    )
    return (
        f'<figure class="libroia-plotly" role="group" aria-label="{html.escape(alt)}">'
        f'{div}<figcaption class="sr-only">{html.escape(alt)}</figcaption></figure>'
    )
