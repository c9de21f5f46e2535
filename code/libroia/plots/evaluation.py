"""Figuras del capítulo «Alucinaciones y evaluación».

Cada función devuelve una figura de plotly creada con :func:`new_figure`; el
diagrama de fiabilidad precalcula un estado por temperatura para su deslizador.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from libroia.evaluation import CalibrationBins
from libroia.plots._common import COLORS, new_figure, slider_steps

__all__ = ["agreement_figure", "answers_figure", "model_comparison", "reliability_diagram"]


def _numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def reliability_diagram(
    states: Sequence[tuple[str, CalibrationBins, float]], *, active: int = 0
) -> go.Figure:
    """Diagrama de fiabilidad: acierto frente a confianza, un estado por etiqueta.

    ``states``: lista de ``(etiqueta, tramos, ECE)``, por ejemplo una por
    temperatura. Las barras son la fracción de aciertos de cada tramo; la línea
    diagonal, la calibración perfecta. Barras por debajo de la diagonal =
    exceso de confianza.
    """
    fig = new_figure(
        title="¿Acierta tanto como dice? Diagrama de fiabilidad",
        alt=(
            "Diagrama de fiabilidad: para cada tramo de confianza del token favorito, "
            "una barra con la fracción de aciertos y la diagonal de calibración perfecta. "
            "Un deslizador cambia la temperatura con la que se calculan las probabilidades."
        ),
        x_title="confianza del modelo en su token favorito",
        y_title="fracción de aciertos",
        height=460,
    )
    for _label, bins, ece in states:
        lower, upper = _numpy(bins.lower), _numpy(bins.upper)
        mid, width = (lower + upper) / 2, upper - lower
        count = _numpy(bins.count)
        acc = np.nan_to_num(_numpy(bins.accuracy))
        conf = _numpy(bins.confidence)
        fig.add_trace(go.Bar(
            x=mid, y=acc, width=width * 0.95, marker_color=COLORS[0], name="acierto",
            customdata=np.stack([count, conf], axis=-1),
            hovertemplate=("confianza media %{customdata[1]:.2f}<br>acierto %{y:.2f}"
                           "<br>%{customdata[0]:.0f} predicciones<extra></extra>"),
        ))
        fig.add_trace(go.Scatter(
            x=conf, y=conf, mode="markers", marker={"color": COLORS[1], "symbol": "line-ew-open",
                                                    "size": 18, "line": {"width": 3}},
            name="confianza media del tramo", hoverinfo="skip",
        ))
        fig.add_trace(go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "#777777"},
            name=f"calibración perfecta · ECE = {ece:.3f}", hoverinfo="skip",
        ))
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1])
    fig.update_layout(legend={"x": 0.01, "y": 0.99, "bgcolor": "rgba(255,255,255,0.7)"})
    fig = slider_steps(fig, [s[0] for s in states], 3, prefix="temperatura: ", active=active)
    fig.layout.sliders[0].pad.t = 60  # deja sitio al título del eje x
    fig.update_layout(height=520)
    return fig


def model_comparison(values: Mapping[str, float], *, unit: str, title: str, alt: str) -> go.Figure:
    """Barras horizontales con una medida por modelo (por ejemplo, bits por carácter)."""
    names, vals = list(values), [float(v) for v in values.values()]
    fig = new_figure(title=title, alt=alt, x_title=unit, height=140 + 45 * len(names))
    fig.add_trace(go.Bar(
        x=vals, y=names, orientation="h", marker_color=COLORS[: len(names)],
        text=[f"{v:.2f}" for v in vals], textposition="auto",
        hovertemplate="%{y}: %{x:.3f}<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed")
    return fig


def answers_figure(counts: Mapping[str, int], *, prompt: str, n_show: int = 12) -> go.Figure:
    """Frecuencia de cada respuesta al repetir el mismo prompt muchas veces."""
    items = sorted(counts.items(), key=lambda kv: -kv[1])[:n_show]
    total = sum(counts.values())
    labels = [k.replace(" ", "␣") or "∅" for k, _ in items]
    fig = new_figure(
        title=f"La misma pregunta, {total} respuestas",
        alt=(
            f"Barras con la frecuencia de cada palabra con la que el modelo continuó "
            f"«{prompt}» en {total} muestras: varias respuestas distintas, ninguna segura."
        ),
        x_title="palabra con la que sigue el texto",
        y_title="veces",
    )
    fig.add_trace(go.Bar(x=labels, y=[v for _, v in items], marker_color=COLORS[2],
                         hovertemplate="«%{x}»: %{y} veces<extra></extra>"))
    return fig


def agreement_figure(labels: Sequence[str], accuracy: Any, counts: Any) -> go.Figure:
    """Acierto de la respuesta más votada según cuánto coincidían las muestras."""
    acc, n = _numpy(accuracy), _numpy(counts)
    fig = new_figure(
        title="Cuando las muestras no coinciden, suele fallar",
        alt=(
            "Barras con la fracción de aciertos de la palabra más votada, agrupando las "
            "preguntas por el acuerdo entre muestras: a más acuerdo, más aciertos."
        ),
        x_title="acuerdo entre las muestras (fracción que votó a la ganadora)",
        y_title="fracción de aciertos",
    )
    fig.add_trace(go.Bar(
        x=list(labels), y=acc, marker_color=COLORS[0], customdata=n,
        text=[f"n = {int(c)}" for c in n], textposition="outside",
        hovertemplate="acuerdo %{x}: acierta %{y:.2f} (%{customdata:.0f} preguntas)<extra></extra>",
    ))
    fig.update_yaxes(range=[0, 1.05])
    return fig
