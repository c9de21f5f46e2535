"""Figuras del capítulo «Alucinaciones y evaluación».

Cada función devuelve una figura de plotly creada con :func:`new_figure`; el
diagrama de fiabilidad precalcula un estado por temperatura para su deslizador.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from libroia.evaluation import CalibrationBins, Interval
from libroia.plots._common import COLORS, new_figure, slider_steps

__all__ = [
    "agreement_figure",
    "answers_figure",
    "fact_probe_figure",
    "interval_figure",
    "model_comparison",
    "reliability_diagram",
]


def _numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


_RELIABILITY_ALT = (
    "Diagrama de fiabilidad: para cada tramo de confianza del token favorito, "
    "una barra con la fracción de aciertos y la diagonal de calibración perfecta. "
    "Un deslizador cambia la temperatura con la que se calculan las probabilidades."
)


def reliability_diagram(
    states: Sequence[tuple[str, CalibrationBins, float]],
    *,
    active: int = 0,
    prefix: str = "temperatura: ",
    title: str = "¿Acierta tanto como dice? Diagrama de fiabilidad",
    alt: str = _RELIABILITY_ALT,
    x_title: str = "confianza del modelo en su token favorito",
) -> go.Figure:
    """Diagrama de fiabilidad: acierto frente a confianza, un estado por etiqueta.

    ``states``: lista de ``(etiqueta, tramos, ECE)``, por ejemplo una por
    temperatura o una por modelo; el deslizador las recorre (``prefix`` va delante
    de la etiqueta). Las barras son la fracción de aciertos de cada tramo; la línea
    diagonal, la calibración perfecta. Barras por debajo de la diagonal =
    exceso de confianza.
    """
    fig = new_figure(
        title=title,
        alt=alt,
        x_title=x_title,
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
    fig = slider_steps(fig, [s[0] for s in states], 3, prefix=prefix, active=active)
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


#: Clases de respuesta de :class:`libroia.evaluation.FactProbe`, con su nombre y su color.
_FACT_CLASSES = (
    ("correct", "capital correcta", COLORS[2]),
    ("wrong", "capital inventada", COLORS[1]),
    ("refusal", "«no lo sé»", COLORS[0]),
    ("other", "otra cosa (otra pregunta…)", "#999999"),
)


def fact_probe_figure(rates: Mapping[str, Mapping[str, float]]) -> go.Figure:
    """Barras apiladas: qué fracción de respuestas de cada modelo es de cada clase.

    ``rates``: ``{etiqueta de la fila: FactProbe.rates()}``, por ejemplo una fila por
    modelo y grupo de países. Cada barra suma 1.
    """
    labels = list(rates)
    fig = new_figure(
        title="¿Sabe, inventa o se abstiene?",
        alt=(
            "Barras horizontales apiladas, una por modelo y grupo de países, con la "
            "fracción esperada de respuestas con la capital correcta, con una capital "
            "inventada, con «no lo sé» y con otra cosa."
        ),
        x_title="fracción esperada de respuestas (al muestrear con temperatura 1)",
        height=160 + 48 * len(labels),
    )
    for key, name, color in _FACT_CLASSES:
        values = [float(rates[label][key]) for label in labels]
        fig.add_trace(go.Bar(
            x=values, y=labels, orientation="h", name=name, marker_color=color,
            text=[f"{v:.2f}" if v >= 0.08 else "" for v in values], textposition="inside",
            hovertemplate=f"%{{y}}<br>{name}: %{{x:.3f}}<extra></extra>",
        ))
    fig.update_layout(barmode="stack", legend={"orientation": "h", "y": -0.25})
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(autorange="reversed")
    return fig


def interval_figure(
    results: Mapping[str, Mapping[str, Interval]], *, title: str, alt: str, x_title: str
) -> go.Figure:
    """Una nota por sistema y medida, con su intervalo de confianza como barra de error.

    ``results``: ``{sistema: {medida: Interval}}``; cada medida es una serie de puntos.
    """
    systems = list(results)
    metrics = list(dict.fromkeys(m for r in results.values() for m in r))
    fig = new_figure(title=title, alt=alt, x_title=x_title, height=170 + 55 * len(systems))
    # Una fila por sistema; las medidas se separan un poco en vertical para no taparse.
    shift = np.linspace(-0.15, 0.15, len(metrics)) if len(metrics) > 1 else np.zeros(1)
    for j, metric in enumerate(metrics):
        rows = [(i, s, results[s][metric]) for i, s in enumerate(systems) if metric in results[s]]
        est = np.array([iv.estimate for *_, iv in rows])
        low = np.array([iv.low for *_, iv in rows])
        high = np.array([iv.high for *_, iv in rows])
        fig.add_trace(go.Scatter(
            x=est, y=[i + shift[j] for i, *_ in rows], mode="markers", name=metric,
            text=[s for _, s, _ in rows],
            marker={"color": COLORS[j % len(COLORS)], "size": 11,
                    "symbol": ["circle", "diamond", "square"][j % 3]},
            error_x={"type": "data", "symmetric": False, "array": high - est,
                     "arrayminus": est - low, "thickness": 2, "width": 6},
            customdata=np.stack([low, high], axis=-1),
            hovertemplate=(f"%{{text}}<br>{metric}: %{{x:.2f}}<br>intervalo: "
                           "%{customdata[0]:.2f}–%{customdata[1]:.2f}<extra></extra>"),
        ))
    fig.update_xaxes(range=[-0.03, 1.03])
    fig.update_yaxes(tickvals=list(range(len(systems))), ticktext=systems, autorange="reversed",
                     showgrid=False, zeroline=False)
    fig.update_layout(legend={"orientation": "h", "y": -0.25})
    return fig
