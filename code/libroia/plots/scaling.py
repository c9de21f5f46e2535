"""Figuras del capítulo 6, «Escala».

Cada función devuelve una figura de plotly creada con :func:`new_figure`; las
celdas del capítulo la muestran desde una celda oculta (``tags: [hide-input]``).
Los deslizadores cambian la visibilidad de trazas ya calculadas, así que
funcionan en la página estática, sin servidor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from libroia.plots._common import COLORS, new_figure, slider_steps
from libroia.scaling import (
    PUBLISHED_TRAINING,
    DecoderShape,
    chinchilla_optimal,
    flops_per_token_breakdown,
    format_sci,
    n_params_decoder,
)
from libroia.scaling_law import PowerLawFit, chinchilla_loss, power_law

__all__ = [
    "flops_breakdown_figure",
    "isoflop_figure",
    "loss_curves_figure",
    "moe_figure",
    "scaling_law_figure",
    "tokens_per_param_figure",
]

_GROUPS = {  # componente de flops_per_token_breakdown -> grupo que se dibuja
    "attention_qkv": "atención: proyecciones",
    "attention_out": "atención: proyecciones",
    "attention_scores": "atención: matriz T × T",
    "attention_values": "atención: matriz T × T",
    "mlp": "MLP",
    "head": "capa de salida",
}


def _short(x: float) -> str:
    """1.5e9 -> «1.5 mil M»; 3e12 -> «3 billones» (billones españoles, 10¹²).

    No usa «B», que en inglés (*billion*) son mil millones y en el libro es el ancho del haz.
    """
    for scale, unit in ((1e12, "billones"), (1e9, "mil M"), (1e6, "M"), (1e3, "mil")):
        if x >= scale:
            value = f"{x / scale:.3g}"
            return f"{value} {'billón' if value == '1' else unit}"
    return f"{x:.3g}"


def flops_breakdown_figure(shape: DecoderShape, contexts: Sequence[int], *, name: str) -> go.Figure:
    """Barras apiladas: FLOPs hacia delante por token, por componente, según el contexto T."""
    parts = [flops_per_token_breakdown(shape, context=T) for T in contexts]
    labels = [f"{T:,}".replace(",", " ") for T in contexts]
    fig = new_figure(
        title=f"Dónde se van los FLOPs de {name} (por token, hacia delante)",
        alt=(f"Barras apiladas con los FLOPs por token de {name} para contextos de "
             f"{labels[0]} a {labels[-1]} tokens: las proyecciones y la MLP no cambian y la "
             "parte de la matriz de atención crece con el contexto hasta dominar."),
        x_title="contexto T (tokens)", y_title="GFLOPs por token",
    )
    for i, group in enumerate(dict.fromkeys(_GROUPS.values())):
        y = [sum(v for k, v in p.items() if _GROUPS[k] == group) / 1e9 for p in parts]
        fig.add_trace(go.Bar(x=labels, y=y, name=group, marker_color=COLORS[i],
                             hovertemplate="%{y:.2f} GFLOPs<extra>" + group + "</extra>"))
    fig.update_layout(barmode="stack", xaxis_type="category")
    return fig


def isoflop_figure(budgets: Sequence[float], *, tokens_per_param: float = 20.0) -> go.Figure:
    """Curvas de igual cómputo con el ajuste de Hoffmann et al. (2022); un paso por presupuesto.

    Para cada presupuesto C, la pérdida predicha de cada tamaño P entrenado con
    D = C / (6N) tokens, el mínimo de esa curva y el punto de la regla de
    ``tokens_per_param`` tokens por parámetro.
    """
    fig = new_figure(
        title="Con el mismo cómputo: ¿modelo grande con pocos datos o pequeño con muchos?",
        alt=("Curvas de pérdida predicha frente al número de parámetros, una por presupuesto "
             "de cómputo elegido con el deslizador. Cada curva tiene forma de U: los modelos "
             "muy pequeños y los muy grandes (con pocos tokens) pierden; se marcan el mínimo "
             "del ajuste y el punto de 20 tokens por parámetro."),
        x_title="parámetros P (escala logarítmica)", y_title="pérdida predicha (nats/token)",
    )
    for c in budgets:
        n = np.geomspace(np.sqrt(c / 6) / 3e3, np.sqrt(c / 6) / 3, 300)
        loss = chinchilla_loss(n, c / (6 * n))
        best = int(np.argmin(loss))
        n_rule, d_rule = chinchilla_optimal(c, tokens_per_param=tokens_per_param)
        fig.add_trace(go.Scatter(
            x=n, y=loss, mode="lines", name="pérdida del ajuste", line_color=COLORS[0],
            customdata=c / (6 * n),
            hovertemplate="P = %{x:.3s}<br>D = %{customdata:.3s}<br>L = %{y:.3f}<extra></extra>"))
        fig.add_trace(go.Scatter(
            x=[n[best]], y=[loss[best]], mode="markers", name="mínimo del ajuste",
            marker={"size": 11, "color": COLORS[1]},
            hovertemplate=f"mínimo: P = {_short(n[best])}, D/P = "
                          f"{c / (6 * n[best]) / n[best]:.0f}<extra></extra>"))
        fig.add_trace(go.Scatter(
            x=[n_rule], y=[float(chinchilla_loss(n_rule, d_rule))], mode="markers",
            name=f"regla de {tokens_per_param:g} tokens/parámetro",
            marker={"size": 11, "color": COLORS[2], "symbol": "diamond"},
            hovertemplate=f"regla: P = {_short(n_rule)}, D = {_short(d_rule)}<extra></extra>"))
    fig.update_xaxes(type="log")
    return slider_steps(fig, [format_sci(c) for c in budgets], 3,
                        prefix="cómputo C (FLOPs) = ", active=len(budgets) // 2)


def tokens_per_param_figure(
    models: Mapping[str, tuple[float, float, str]] = PUBLISHED_TRAINING,
    *,
    tokens_per_param: float = 20.0,
) -> go.Figure:
    """Modelos publicados en el plano (parámetros, tokens) junto a la recta D = 20·P."""
    fig = new_figure(
        title="Tokens de entrenamiento por parámetro en modelos publicados",
        alt=("Diagrama de dispersión en ejes logarítmicos con parámetros en horizontal y "
             "tokens de entrenamiento en vertical. GPT-3 y Gopher quedan por debajo de la "
             "recta de 20 tokens por parámetro, Chinchilla sobre ella y los Llama muy por "
             "encima."),
        x_title="parámetros P", y_title="tokens de entrenamiento D",
    )
    n_line = np.geomspace(1e9, 1e12, 2)
    fig.add_trace(go.Scatter(x=n_line, y=tokens_per_param * n_line, mode="lines",
                             name=f"D = {tokens_per_param:g}·P", line={"dash": "dash",
                                                                     "color": "#777"}))
    names = list(models)
    n = np.array([models[k][0] for k in names])
    d = np.array([models[k][1] for k in names])
    fig.add_trace(go.Scatter(
        x=n, y=d, mode="markers+text", text=names, textposition="top center",
        marker={"size": 10, "color": COLORS[0]}, name="modelos", customdata=d / n,
        hovertemplate="%{text}<br>P = %{x:.3s}<br>D = %{y:.3s}<br>"
                      "%{customdata:.0f} tokens/parámetro<extra></extra>"))
    fig.update_xaxes(type="log")
    fig.update_yaxes(type="log")
    return fig


def scaling_law_figure(
    n_params: Sequence[float],
    loss: Sequence[float],
    fit: PowerLawFit,
    *,
    labels: Sequence[str] | None = None,
) -> go.Figure:
    """Pérdida medida frente a parámetros en ejes log-log, con la ley ajustada y su asíntota."""
    n = np.asarray(n_params, dtype=float)
    loss = np.asarray(loss, dtype=float)
    fig = new_figure(
        title="Una ley de escala medida en este libro",
        alt=(f"Pérdida de validación de {n.size} GPT diminutos frente a su número de "
             "parámetros, en ejes logarítmicos: la pérdida baja al crecer el modelo, la "
             f"curva ajustada L(P) = a·P^(−α) + c, con α = {fit.alpha:.2f}, pasa cerca de "
             "los puntos"
             + (f" y una línea de puntos marca la asíntota c = {fit.c:.2f}." if fit.c > 0
                else ".")),
        x_title="parámetros sin incrustaciones P (escala log)",
        y_title="pérdida de validación (nats/token, escala log)",
    )
    grid = np.geomspace(n.min() / 2, n.max() * 4, 200)
    fig.add_trace(go.Scatter(
        x=grid, y=power_law(grid, *fit), mode="lines", line_color=COLORS[1],
        name=f"ajuste: {fit.a:.3g}·P^(−{fit.alpha:.3f}) + {fit.c:.2f}"))
    if fit.c > 0:
        fig.add_trace(go.Scatter(x=grid[[0, -1]], y=[fit.c, fit.c], mode="lines",
                                 line={"dash": "dot", "color": "#777"},
                                 name=f"pérdida irreducible c = {fit.c:.2f}"))
    fig.add_trace(go.Scatter(
        x=n, y=loss, mode="markers", marker={"size": 11, "color": COLORS[0]}, name="medido",
        text=list(labels) if labels is not None else None,
        hovertemplate="%{text}<br>P = %{x:,}<br>pérdida = %{y:.3f}<extra></extra>"))
    fig.update_xaxes(type="log")
    fig.update_yaxes(type="log")
    return fig


def loss_curves_figure(histories: Sequence[Mapping[str, Any]], labels: Sequence[str]) -> go.Figure:
    """Pérdida de validación durante el entrenamiento, una curva por tamaño."""
    fig = new_figure(
        title="Curvas de aprendizaje de cada tamaño",
        alt=("Pérdida de validación frente al paso de entrenamiento para cada tamaño de GPT: "
             "todas empiezan igual y los modelos más grandes bajan más deprisa y más abajo."),
        x_title="paso de entrenamiento", y_title="pérdida de validación (nats/token)",
    )
    for i, (h, label) in enumerate(zip(histories, labels, strict=True)):
        fig.add_trace(go.Scatter(x=h["step"], y=h["val_loss"], mode="lines+markers",
                                 name=label, line_color=COLORS[i % len(COLORS)]))
    return fig


def moe_figure(shapes: Mapping[str, DecoderShape]) -> go.Figure:
    """Barras de parámetros totales y activos por token (miles de millones) de cada modelo."""
    names = list(shapes)
    total = [n_params_decoder(s) / 1e9 for s in shapes.values()]
    active = [n_params_decoder(s, active_only=True) / 1e9 for s in shapes.values()]
    fig = new_figure(
        title="Parámetros totales y activos por token",
        alt=("Barras agrupadas de parámetros totales y activos. En los modelos densos ambas "
             "barras son iguales; en la mezcla de expertos la barra de activos es unas "
             "cuatro veces más baja que la de totales."),
        x_title="modelo", y_title="miles de millones de parámetros",
    )
    fig.add_trace(go.Bar(x=names, y=total, name="totales (memoria)", marker_color=COLORS[0],
                         hovertemplate="%{y:.1f} mil millones<extra>totales</extra>"))
    fig.add_trace(go.Bar(x=names, y=active, name="activos por token (cómputo)",
                         marker_color=COLORS[1],
                         hovertemplate="%{y:.1f} mil millones<extra>activos</extra>"))
    fig.update_layout(barmode="group")
    return fig
