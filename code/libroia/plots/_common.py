"""Piezas comunes a todas las figuras: plantilla, colores, deslizadores."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

# Paleta apta para daltonismo (Okabe–Ito), en el orden en que se usa.
COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]


def new_figure(
    *,
    title: str,
    alt: str,
    x_title: str | None = None,
    y_title: str | None = None,
    height: int = 420,
) -> go.Figure:
    """Crea una figura vacía con el estilo del libro.

    ``alt`` es el texto alternativo en español: describe qué muestra la figura
    para quien no la ve. El renderizador del sitio lo exige y lo coloca como
    ``aria-label`` del contenedor.
    """
    if not alt or not alt.strip():
        raise ValueError("`alt` debe describir la figura en español, pero está vacío")
    fig = go.Figure()
    fig.update_layout(
        title={"text": title, "x": 0.02, "xanchor": "left"},
        template="plotly_white",
        colorway=COLORS,
        height=height,
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
        font={"family": "system-ui, sans-serif", "size": 13},
        separators=". ",
        meta={"alt": alt},
        hoverlabel={"namelength": -1},
    )
    if x_title is not None:
        fig.update_xaxes(title_text=x_title)
    if y_title is not None:
        fig.update_yaxes(title_text=y_title)
    return fig


def slider_steps(
    fig: go.Figure, labels: Sequence[str], traces_per_step: int, *, prefix: str, active: int = 0
) -> go.Figure:
    """Añade un deslizador que muestra un grupo de trazas cada vez.

    Las trazas de ``fig`` deben estar en grupos consecutivos de
    ``traces_per_step``: el grupo ``i`` corresponde a ``labels[i]``. Funciona en
    la página estática, sin servidor: cada paso solo cambia la visibilidad.
    """
    n_traces = len(fig.data)
    if n_traces != traces_per_step * len(labels):
        raise ValueError(
            f"la figura tiene {n_traces} trazas, pero se esperaban "
            f"{traces_per_step} × {len(labels)} = {traces_per_step * len(labels)}"
        )
    steps = []
    for i, label in enumerate(labels):
        visible = [i * traces_per_step <= j < (i + 1) * traces_per_step for j in range(n_traces)]
        steps.append({"method": "update", "label": str(label), "args": [{"visible": visible}]})
    for j, trace in enumerate(fig.data):
        trace.visible = active * traces_per_step <= j < (active + 1) * traces_per_step
    fig.update_layout(
        sliders=[
            {
                "active": active,
                "currentvalue": {"prefix": prefix},
                "pad": {"t": 40},
                "steps": steps,
            }
        ]
    )
    return fig
