"""Figuras del capítulo «Muestreo».

Cada función devuelve una figura de plotly creada con :func:`new_figure`. Las
figuras con deslizador precalculan todos sus estados en Python: la página es
estática y el deslizador solo cambia qué barras se ven.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from libroia.functional import softmax
from libroia.plots._common import COLORS, new_figure, slider_steps

__all__ = ["best_of_n_figure", "entropy_curve", "filter_slider", "visible_token"]


def _numpy(x: Any) -> np.ndarray:
    """Tensor (aunque lleve gradiente), lista o arreglo → arreglo de NumPy float64."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def visible_token(text: str | None) -> str:
    """Texto de un token para una etiqueta: espacios como «␣» y saltos como «↵»."""
    if text is None:
        return "�"
    return text.replace(" ", "␣").replace("\n", "↵") or "∅"


def filter_slider(
    logits: Any,
    tokens: Sequence[str],
    states: Sequence[tuple[str, Any]],
    *,
    title: str,
    alt: str,
    prefix: str,
    n_show: int = 15,
    active: int = 0,
) -> go.Figure:
    """Barras de probabilidad antes y después de un filtro, con un deslizador.

    ``logits`` ``(V,)`` son los del modelo; ``tokens`` ``(V,)`` el texto de cada
    token; ``states`` una lista de ``(etiqueta, logits filtrados (V,))``, un
    estado por posición del deslizador. Se muestran los ``n_show`` tokens más
    probables según ``logits``: en gris su probabilidad original y en color la
    que tienen tras el filtro (renormalizada; 0 si el filtro los descartó).
    """
    base = _numpy(logits)
    if base.ndim != 1 or len(tokens) != base.shape[0]:
        raise ValueError(
            f"`logits` debe ser un vector (V,) y `tokens` tener V = {base.shape} textos, "
            f"pero `tokens` tiene {len(tokens)}"
        )
    order = np.argsort(-base, kind="stable")[:n_show]  # (n_show,)
    labels = [visible_token(tokens[i]) for i in order]
    x = np.arange(1, len(order) + 1)
    p0 = softmax(base)[order]
    fig = new_figure(
        title=title, alt=alt, x_title="token (ordenados por probabilidad original)",
        y_title="probabilidad",
    )
    for _label, filtered in states:
        z = _numpy(filtered)
        p = softmax(z)  # (V,), 0 en los descartados (-inf)
        survivors = int(np.isfinite(z).sum())
        fig.add_trace(
            go.Bar(
                x=x, y=p0, name="original (τ = 1)", marker_color="#BBBBBB",
                customdata=labels, hovertemplate="«%{customdata}»: %{y:.3f}<extra>original</extra>",
            )
        )
        fig.add_trace(
            go.Bar(
                x=x, y=p[order], name=f"tras el filtro: quedan {survivors} de {z.shape[0]} tokens",
                marker_color=COLORS[0], customdata=labels,
                hovertemplate="«%{customdata}»: %{y:.3f}<extra>tras el filtro</extra>",
            )
        )
    fig.update_layout(
        barmode="group", legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right",
                                 "yanchor": "bottom"},
    )
    fig.update_xaxes(tickvals=list(x), ticktext=labels, tickangle=-45)
    fig.update_yaxes(rangemode="tozero")
    fig = slider_steps(fig, [s[0] for s in states], 2, prefix=prefix, active=active)
    fig.layout.sliders[0].pad.t = 90  # deja sitio al título del eje x
    fig.update_layout(height=480, margin={"b": 40})
    return fig


def entropy_curve(
    temperatures: Any, entropies: Any, *, max_bits: float | None = None, marks: Any = None
) -> go.Figure:
    """Entropía (bits) de la distribución del siguiente token en función de la temperatura.

    ``max_bits`` dibuja el techo ``log2 V`` (distribución uniforme); ``marks`` una
    lista de ``(tau, H)`` que se señalan con puntos (por ejemplo, τ = 1).
    """
    t, h = _numpy(temperatures), _numpy(entropies)
    fig = new_figure(
        title="Cuanto más alta la temperatura, más incertidumbre",
        alt=(
            "Curva creciente de la entropía en bits frente a la temperatura en escala "
            "logarítmica: cerca de cero con temperaturas bajas y acercándose al máximo, "
            "log2 V (la distribución uniforme), con temperaturas altas."
        ),
        x_title="temperatura τ (escala logarítmica)",
        y_title="entropía (bits)",
    )
    fig.add_trace(go.Scatter(x=t, y=h, mode="lines", name="entropía",
                             hovertemplate="τ = %{x:.2f}: %{y:.2f} bits<extra></extra>"))
    if max_bits is not None:
        fig.add_trace(go.Scatter(x=[t.min(), t.max()], y=[max_bits, max_bits], mode="lines",
                                 line={"dash": "dot", "color": COLORS[1]},
                                 name="máximo: uniforme (log₂ V)"))
    for tau, H in marks or []:
        fig.add_trace(go.Scatter(x=[tau], y=[H], mode="markers", marker={"size": 10},
                                 name=f"τ = {tau:g}: {H:.2f} bits"))
    fig.update_xaxes(type="log")
    return fig


def best_of_n_figure(texts: Sequence[str], scores: Any, *, best: int) -> go.Figure:
    """Barras horizontales con la puntuación de cada una de las n muestras; la elegida, en color."""
    s = _numpy(scores)
    short = [t if len(t) <= 40 else t[:39] + "…" for t in texts]
    colors = [COLORS[1] if i == best else "#BBBBBB" for i in range(len(texts))]
    fig = new_figure(
        title="Mejor de n: se queda la muestra con mejor puntuación",
        alt=(
            "Barras horizontales, una por muestra generada, con su log-probabilidad media "
            "por token; la barra de la muestra elegida, la de puntuación más alta, "
            "está resaltada en color."
        ),
        x_title="log-probabilidad media por token (más alto = más probable)",
        height=120 + 28 * len(texts),
    )
    fig.add_trace(go.Bar(x=s, y=[f"{i + 1}" for i in range(len(texts))], orientation="h",
                         marker_color=colors, customdata=short,
                         hovertemplate="%{customdata}<br>%{x:.3f}<extra></extra>"))
    fig.update_yaxes(title_text="muestra", autorange="reversed")
    return fig
