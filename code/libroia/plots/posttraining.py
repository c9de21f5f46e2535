"""Figuras del capítulo 8, «Posentrenamiento».

Reciben números ya medidos por :mod:`libroia.posttrain` y :mod:`libroia.preference`
y devuelven figuras de plotly; no entrenan nada.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from libroia.plots._common import COLORS, new_figure, slider_steps

__all__ = ["behaviour_bars", "best_of_n_figure", "dpo_curves", "dpo_loss_slider", "rlhf_curves"]

#: Nombre en español de cada categoría de :data:`libroia.posttrain_data.CATEGORIES`.
LABELS = {
    "correct": "capital correcta",
    "wrong": "capital equivocada",
    "refusal": "«no lo sé»",
    "question": "otra pregunta",
    "other": "otra cosa",
}


def behaviour_bars(stages: dict[str, dict[str, float]]) -> go.Figure:
    """Barras apiladas: qué responde el modelo en cada etapa (fracciones que suman 1)."""
    fig = new_figure(
        title="Qué contesta el modelo a «¿ capital de X ?» en cada etapa",
        alt=(
            "Barras apiladas, una por etapa del entrenamiento, con la fracción de respuestas "
            "de cada tipo ante preguntas sobre países sin demostraciones. El modelo "
            "preentrenado casi siempre sigue con otra pregunta; tras el afinado contesta, "
            "a veces con «no lo sé»; tras la mejor de varias, RLHF o DPO desaparecen los "
            "«no lo sé» y crecen las capitales, sobre todo las correctas."
        ),
        x_title="etapa",
        y_title="fracción de respuestas",
    )
    names = list(stages)
    for i, (key, label) in enumerate(LABELS.items()):
        values = [stages[s].get(key, 0.0) for s in names]
        fig.add_trace(
            go.Bar(
                x=names,
                y=values,
                name=label,
                marker_color=COLORS[i],
                hovertemplate="%{x}<br>" + label + ": %{y:.0%}<extra></extra>",
            )
        )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(range=[0, 1], tickformat=".0%")
    return fig


def dpo_curves(history: dict[str, Sequence[float]]) -> go.Figure:
    """Pérdida de DPO y margen de recompensa implícita según el paso."""
    fig = new_figure(
        title="Entrenamiento con DPO",
        alt=(
            "Dos paneles según el paso de entrenamiento. A la izquierda, la pérdida de DPO, "
            "que empieza en log 2 y baja; a la derecha, el margen medio de recompensa "
            "implícita entre la respuesta preferida y la rechazada, que crece desde cero."
        ),
        height=380,
    )
    fig.set_subplots(1, 2, subplot_titles=("pérdida", "margen de recompensa implícita"))
    steps = np.arange(1, len(history["loss"]) + 1)
    fig.add_trace(
        go.Scatter(x=steps, y=history["loss"], name="pérdida", line={"color": COLORS[0]}),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(x=steps, y=history["margin"], name="margen", line={"color": COLORS[1]}),
        row=1,
        col=2,
    )
    fig.add_hline(y=float(np.log(2)), line_dash="dot", row=1, col=1, annotation_text="log 2")
    fig.update_xaxes(title_text="paso")
    return fig


def rlhf_curves(histories: dict[str, dict[str, Sequence[float]]]) -> go.Figure:
    """Recompensa, KL y aciertos por paso de RLHF; una línea por entrenamiento.

    ``histories`` asocia una etiqueta (por ejemplo «β = 1») a la historia que
    devuelve :func:`libroia.posttrain.train_rlhf`, con las listas ``reward``, ``kl``
    y ``correct`` (una entrada por paso).
    """
    fig = new_figure(
        title="RLHF con gradiente de política, con y sin penalización KL",
        alt=(
            "Tres paneles según el paso de entrenamiento, con una línea por valor de β. "
            "A la izquierda, la recompensa media de las respuestas muestreadas, que sube "
            "deprisa y se estanca en las dos. En el centro, la divergencia KL estimada "
            "respecto al modelo afinado: con penalización se mantiene baja; sin ella "
            "acaba creciendo. A la derecha, la fracción de respuestas muestreadas con la "
            "capital correcta, que sin penalización cae aunque la recompensa no baje."
        ),
        height=380,
    )
    fig.set_subplots(
        1,
        3,
        subplot_titles=("recompensa media", "KL estimada (nats)", "capitales correctas"),
    )
    panels = ("reward", "kl", "correct")
    for i, (label, history) in enumerate(histories.items()):
        steps = np.arange(1, len(history["reward"]) + 1)
        for col, key in enumerate(panels, start=1):
            fig.add_trace(
                go.Scatter(
                    x=steps,
                    y=list(history[key]),
                    name=label,
                    legendgroup=label,
                    showlegend=col == 1,
                    line={"color": COLORS[i]},
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(title_text="paso")
    fig.update_yaxes(range=[0, 1], tickformat=".0%", row=1, col=3)
    return fig


def best_of_n_figure(ns: Sequence[int], rates: Sequence[dict[str, float]]) -> go.Figure:
    """Fracción de cada tipo de respuesta al quedarse con la mejor de ``n`` muestras."""
    fig = new_figure(
        title="La mejor de n según el modelo de recompensa",
        alt=(
            "Líneas según el número n de respuestas entre las que se elige (escala "
            "logarítmica). Con más candidatas desaparecen los «no lo sé» y suben las "
            "capitales correctas, pero a partir de cierto n crecen también las capitales "
            "equivocadas y las respuestas raras que el modelo de recompensa no sabe juzgar."
        ),
        x_title="n (respuestas candidatas)",
        y_title="fracción de respuestas",
    )
    for i, (key, label) in enumerate(LABELS.items()):
        fig.add_trace(
            go.Scatter(
                x=list(ns),
                y=[r[key] for r in rates],
                mode="lines+markers",
                name=label,
                line={"color": COLORS[i]},
            )
        )
    fig.update_xaxes(type="log", tickvals=list(ns), ticktext=[str(n) for n in ns])
    fig.update_yaxes(range=[0, 1], tickformat=".0%")
    return fig


def dpo_loss_slider(
    margins: np.ndarray, losses: np.ndarray, betas: Sequence[float], *, active: int = 0
) -> go.Figure:
    """Pérdida de DPO de una pareja según su margen de log-razones, con deslizador sobre β.

    ``margins`` ``(M,)``: (log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l));
    ``losses`` ``(B, M)``: la pérdida para cada β de ``betas``.
    """
    fig = new_figure(
        title="La pérdida de DPO según el margen, para distintos β",
        alt=(
            "Curva decreciente de la pérdida de DPO frente al margen de log-razones entre "
            "la respuesta preferida y la rechazada, con un deslizador sobre β. Con β "
            "pequeño la curva es plana y hace falta un margen enorme para bajar la pérdida; "
            "con β grande basta un margen pequeño."
        ),
        x_title="margen de log-razones (nats)",
        y_title="pérdida de DPO",
    )
    for beta, row in zip(betas, losses, strict=True):
        fig.add_trace(go.Scatter(x=margins, y=row, name=f"β = {beta:g}", line={"color": COLORS[0]}))
    fig.update_yaxes(range=[0, float(np.max(losses)) * 1.05])
    return slider_steps(fig, [f"{b:g}" for b in betas], 1, prefix="β = ", active=active)
