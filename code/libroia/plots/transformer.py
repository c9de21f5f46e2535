"""Figuras del capítulo 5, «El transformer por dentro».

Cada función devuelve una figura de plotly creada con :func:`new_figure`; las
celdas del capítulo la muestran desde una celda con ``hide-input``. El mapa de
calor de las cabezas de atención reutiliza :func:`libroia.plots.attention.attention_heatmap`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch

from libroia.activations import ACTIVATIONS
from libroia.plots._common import COLORS, new_figure

__all__ = [
    "activation_costs",
    "activation_curves",
    "activation_fits",
    "loss_curves",
    "parameter_shares",
    "rope_scores",
    "sinusoidal_heatmap",
]

_NAMES = {"relu": "ReLU", "gelu": "GELU", "silu": "SiLU", "swiglu": "SwiGLU",
          "identity": "sin activación (identidad)"}  # fmt: skip
_PARTS = {
    "embeddings": "incrustaciones",
    "positions": "posiciones",
    "attention": "atención",
    "mlp": "MLP",
    "norms": "normalizaciones",
    "head": "capa de salida",
}


def _numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def activation_curves(lo: float = -4.0, hi: float = 4.0) -> go.Figure:
    """Las tres activaciones elemento a elemento del capítulo: ReLU, GELU y SiLU."""
    x = torch.linspace(lo, hi, 401)
    fig = new_figure(
        title="Tres activaciones: ReLU, GELU y SiLU",
        alt=(
            "Curvas de ReLU, GELU y SiLU entre -4 y 4. Las tres valen casi cero para "
            "entradas muy negativas y casi la identidad para entradas positivas grandes; "
            "ReLU tiene un codo en cero, mientras que GELU y SiLU son suaves y bajan un "
            "poco por debajo de cero antes de subir."
        ),
        x_title="entrada x", y_title="salida σ(x)",
    )
    for color, name in zip(COLORS, ("relu", "gelu", "silu"), strict=False):
        y = ACTIVATIONS[name](x)
        fig.add_scatter(x=x.numpy(), y=y.numpy(), name=_NAMES[name], line={"color": color},
                        hovertemplate="x = %{x:.2f}<br>σ(x) = %{y:.3f}<extra>" + _NAMES[name]
                        + "</extra>")  # fmt: skip
    return fig


def activation_fits(x: Any, y: Any, fits: Mapping[str, Any]) -> go.Figure:
    """La curva objetivo (puntos) y el ajuste de una MLP con cada activación (líneas)."""
    x, y = _numpy(x), _numpy(y)
    fig = new_figure(
        title="Una capa oculta con y sin no linealidad",
        alt=(
            "Puntos de una curva ondulada y, encima, las predicciones de redes de una capa "
            "oculta con distintas activaciones. Las redes con ReLU, GELU, SiLU o SwiGLU "
            "siguen las ondas; la red sin activación solo consigue una recta."
        ),
        x_title="x", y_title="y",
    )
    fig.add_scatter(x=x, y=y, mode="markers", name="objetivo",
                    marker={"color": "#999999", "size": 5})  # fmt: skip
    for color, (name, pred) in zip(COLORS, fits.items(), strict=False):
        fig.add_scatter(x=x, y=_numpy(pred), name=_NAMES.get(name, name),
                        line={"color": color, "dash": "dash" if name == "identity" else "solid"})
    return fig


def activation_costs(costs: Mapping[str, Mapping[str, float]]) -> go.Figure:
    """Barras con el tiempo de cada activación sola y de la MLP completa (ida y vuelta)."""
    names = list(costs)
    fig = new_figure(
        title="Cuánto cuesta cada activación",
        alt=(
            "Dos grupos de barras por activación (ReLU, GELU, SiLU, SwiGLU): el tiempo de "
            "aplicar solo la activación y el de la MLP entera, pasada hacia delante y hacia "
            "atrás, en milisegundos. La activación es una parte pequeña del total; SwiGLU "
            "es la MLP más cara porque tiene una matriz más."
        ),
        x_title="activación", y_title="tiempo (ms, la mejor de varias repeticiones)",
    )
    labels = [_NAMES[n] for n in names]
    fig.add_bar(x=labels, y=[costs[n]["activation_ms"] for n in names], name="solo la activación",
                marker_color=COLORS[0], hovertemplate="%{x}: %{y:.2f} ms<extra></extra>")
    fig.add_bar(x=labels, y=[costs[n]["mlp_ms"] for n in names],
                name="MLP completa (ida y vuelta)", marker_color=COLORS[1],
                customdata=[costs[n]["params"] for n in names],
                hovertemplate="%{x}: %{y:.2f} ms<br>%{customdata} parámetros<extra></extra>")
    fig.update_layout(barmode="group")
    return fig


def sinusoidal_heatmap(pe: Any) -> go.Figure:
    """Mapa de calor de la tabla de posiciones senoidales ``(T, d)``."""
    pe = _numpy(pe)
    T, d = pe.shape
    fig = new_figure(
        title="Codificación senoidal de posiciones",
        alt=(
            f"Mapa de calor de {T} posiciones (filas) por {d} coordenadas (columnas), con "
            "valores entre -1 y 1. Las primeras columnas oscilan deprisa al bajar por las "
            "filas y las últimas cambian muy despacio: cada par de columnas es una onda de "
            "una frecuencia distinta."
        ),
        x_title="coordenada (columna de la tabla)", y_title="posición p", height=480,
    )
    fig.add_heatmap(z=pe, colorscale="RdBu", zmid=0.0, colorbar={"title": {"text": "valor"}},
                    hovertemplate="posición %{y}<br>coordenada %{x}<br>valor %{z:.3f}"
                    "<extra></extra>")  # fmt: skip
    fig.update_yaxes(autorange="reversed")
    return fig


def rope_scores(scores: Any) -> go.Figure:
    """Mapa de calor de ``⟨R_m q, R_n k⟩`` para todas las posiciones ``m`` y ``n``."""
    s = _numpy(scores)
    fig = new_figure(
        title="Con RoPE, la puntuación solo depende de la distancia",
        alt=(
            "Mapa de calor cuadrado: la fila es la posición de la consulta y la columna la "
            "de la clave. Los colores se repiten a lo largo de cada diagonal, porque la "
            "puntuación de atención solo depende de la diferencia entre las dos posiciones."
        ),
        x_title="posición de la clave n", y_title="posición de la consulta m", height=480,
    )
    fig.add_heatmap(z=s, colorscale="RdBu", zmid=0.0, colorbar={"title": {"text": "q·k"}},
                    hovertemplate="m = %{y}, n = %{x}<br>puntuación %{z:.3f}<extra></extra>")
    fig.update_yaxes(autorange="reversed")
    return fig


def loss_curves(history: Mapping[str, Sequence[float]], vocab_size: int) -> go.Figure:
    """Pérdida de entrenamiento y de validación frente al paso, con la de adivinar al azar."""
    steps = list(history["step"])
    fig = new_figure(
        title="El GPT del libro aprende a predecir el siguiente token",
        alt=(
            "Dos curvas de pérdida frente al paso de entrenamiento, entrenamiento y "
            "validación, que empiezan cerca de la línea horizontal de adivinar al azar "
            f"(logaritmo de {vocab_size}) y bajan rápido al principio y despacio después."
        ),
        x_title="paso de entrenamiento", y_title="pérdida (nats por token)",
    )
    fig.add_scatter(x=steps, y=list(history["train_loss"]), name="entrenamiento",
                    mode="lines+markers", line={"color": COLORS[0]})
    fig.add_scatter(x=steps, y=list(history["val_loss"]), name="validación",
                    mode="lines+markers", line={"color": COLORS[1]})
    fig.add_scatter(x=[steps[0], steps[-1]], y=[math.log(vocab_size)] * 2, mode="lines",
                    name=f"al azar: ln {vocab_size}", line={"color": "#777777", "dash": "dot"})
    return fig


def parameter_shares(models: Mapping[str, Mapping[str, int]]) -> go.Figure:
    """Barras apiladas al 100 %: qué fracción de los parámetros va a cada componente."""
    names = list(models)
    fig = new_figure(
        title="A dónde van los parámetros",
        alt=(
            "Barras horizontales apiladas, una por modelo, que reparten el 100 % de sus "
            "parámetros entre incrustaciones, posiciones, atención, MLP, normalizaciones y "
            "capa de salida. En el modelo diminuto del libro dominan las incrustaciones; en "
            "los modelos grandes, la MLP y la atención."
        ),
        x_title="porcentaje de los parámetros", y_title=None, height=360,
    )
    for color, (part, label) in zip(COLORS, _PARTS.items(), strict=False):
        counts = [models[m].get(part, 0) for m in names]
        totals = [sum(models[m].values()) for m in names]
        fig.add_bar(
            y=names, x=[100 * c / t for c, t in zip(counts, totals, strict=True)],
            orientation="h", name=label, marker_color=color, customdata=counts,
            hovertemplate="%{y}<br>" + label + ": %{x:.1f} % (%{customdata:,} parámetros)"
            "<extra></extra>",
        )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(autorange="reversed")
    return fig
