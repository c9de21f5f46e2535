"""Figuras del capítulo 4, «Atención», y la incrustación de juguete que usan.

Cada función devuelve una figura de plotly creada con :func:`new_figure`; las
celdas del capítulo la muestran con ``fig.show()`` desde una celda oculta.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch

from libroia.plots._common import COLORS, new_figure, slider_steps

__all__ = ["attention_heatmap", "cost_figure", "letter_features", "saturation_figure"]

_ALPHABET = "abcdefghijklmnñopqrstuvwxyz"
_PLAIN = str.maketrans("áéíóúü", "aeiouu")


def _numpy(x: Any) -> np.ndarray:
    """Convierte un tensor (aunque lleve gradiente) o una lista en un arreglo de NumPy."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def letter_features(words: Sequence[str]) -> torch.Tensor:
    """Incrustación de juguete ``(1, T, 28)``: cuántas veces sale cada letra en cada palabra.

    Sirve para dibujar atención sobre una frase antes de tener incrustaciones
    aprendidas (capítulo 5). Columnas: las 27 letras del alfabeto español (las
    tildes se quitan) y la longitud de la palabra dividida por 4; cada fila se
    divide por su norma. Dos palabras con letras parecidas dan vectores
    parecidos; el significado no cuenta.

    Ejemplo: en ``letter_features(["gato"])`` valen 1/√5 ≈ 0.447 las columnas
    «g», «a», «t», «o» y la de longitud (4/4 = 1 antes de normalizar).
    """
    if isinstance(words, str) or not all(isinstance(w, str) and w for w in words):
        raise TypeError(f"`words` debe ser una lista de palabras no vacías, pero es {words!r}")
    counts = np.zeros((len(words), len(_ALPHABET) + 1), dtype=np.float32)  # (T, 28)
    for t, word in enumerate(words):
        for ch in word.lower().translate(_PLAIN):
            if ch in _ALPHABET:
                counts[t, _ALPHABET.index(ch)] += 1
        counts[t, -1] = len(word) / 4
    counts /= np.linalg.norm(counts, axis=1, keepdims=True)
    return torch.from_numpy(counts)[None]  # (1, T, 28)


def attention_heatmap(
    weights: Any,
    queries: Sequence[str],
    keys: Sequence[str] | None = None,
    *,
    labels: Sequence[str] | None = None,
    title: str = "Pesos de atención",
    alt: str | None = None,
) -> go.Figure:
    """Mapa de calor de pesos ``(T_q, T_k)``, o ``(H, T_q, T_k)`` con un deslizador.

    Cada fila es una consulta y cada columna una clave; al pasar el ratón se lee
    el peso. Con tres dimensiones, ``labels[i]`` nombra el paso ``i`` del
    deslizador (por ejemplo, cada cabeza).
    """
    w = _numpy(weights).astype(float)
    if w.ndim == 2:
        w = w[None]  # (1, T_q, T_k)
    keys = list(queries) if keys is None else list(keys)
    if w.ndim != 3 or w.shape[1:] != (len(queries), len(keys)):
        raise ValueError(
            f"`weights` debe tener forma (T_q, T_k) o (H, T_q, T_k) con T_q = {len(queries)} "
            f"y T_k = {len(keys)}, pero tiene forma {w.shape}"
        )
    labels = [str(i + 1) for i in range(len(w))] if labels is None else list(labels)
    if len(labels) != len(w):
        raise ValueError(f"`labels` debe tener {len(w)} nombres, pero tiene {len(labels)}")
    alt = alt or (
        f"Mapa de calor de {len(queries)} filas (consultas) por {len(keys)} columnas "
        "(claves): cuanto más oscura la casilla, más peso da esa consulta a esa clave. "
        "Cada fila suma 1."
    )
    fig = new_figure(title=title, alt=alt, x_title="clave (palabra mirada)",
                     y_title="consulta (palabra que mira)", height=520)
    # Etiquetas únicas aunque una palabra se repita ("la" dos veces).
    x = [f"{i + 1}·{t}" for i, t in enumerate(keys)]
    y = [f"{i + 1}·{t}" for i, t in enumerate(queries)]
    for step in w:
        fig.add_heatmap(
            z=step, x=x, y=y, zmin=0.0, zmax=float(w.max()), colorscale="Blues",
            colorbar={"title": {"text": "peso"}},
            hovertemplate="consulta %{y}<br>clave %{x}<br>peso %{z:.3f}<extra></extra>",
        )
    fig.update_yaxes(autorange="reversed")
    if len(w) > 1:
        slider_steps(fig, labels, 1, prefix="mostrando: ")
    return fig


def saturation_figure(dims: Sequence[int], series: dict[str, Sequence[float]]) -> go.Figure:
    """Peso máximo medio de la softmax frente a ``d_k``, una curva por escalado."""
    fig = new_figure(
        title="Sin dividir por √d_k, la softmax se satura",
        alt=(
            "Dos curvas del peso de atención más grande, en promedio, frente a la dimensión "
            "d_k en escala logarítmica. Sin escalar, la curva sube hacia 1 (una sola clave "
            "se lleva casi todo el peso); dividiendo por la raíz de d_k se queda plana."
        ),
        x_title="dimensión d_k (escala logarítmica)",
        y_title="peso máximo medio",
    )
    for color, (name, values) in zip(COLORS, series.items(), strict=False):
        fig.add_scatter(
            x=list(dims), y=list(values), name=name, mode="lines+markers",
            line={"color": color},
            hovertemplate="d_k = %{x}<br>peso máximo %{y:.3f}<extra>" + name + "</extra>",
        )
    fig.update_xaxes(type="log", tickvals=list(dims), ticktext=[str(d) for d in dims])
    fig.update_yaxes(range=[0, 1.05])
    return fig


def cost_figure(
    lengths: Sequence[int], seconds: Sequence[float], megabytes: Sequence[float]
) -> go.Figure:
    """Tiempo y memoria de los pesos frente a ``T`` en ejes logarítmicos, con la guía ∝ T²."""
    T = np.asarray(lengths, dtype=float)
    ms = 1e3 * np.asarray(seconds, dtype=float)
    mb = np.asarray(megabytes, dtype=float)
    fig = new_figure(
        title="El coste de la atención crece con T²",
        alt=(
            "Dos paneles en escala logarítmica frente a la longitud T de la secuencia. "
            "A la izquierda, el tiempo medido de la atención; a la derecha, la memoria de la "
            "matriz de pesos. Ambos siguen de cerca una recta de pendiente 2, la de T al "
            "cuadrado: duplicar T multiplica el coste por cuatro."
        ),
        height=440,
    )
    fig.set_subplots(1, 2, subplot_titles=("tiempo (ms)", "memoria de los pesos (MB)"))
    for col, (y, unit) in enumerate(((ms, "ms"), (mb, "MB")), start=1):
        guide = y[-1] * (T / T[-1]) ** 2  # recta ∝ T² que pasa por el último punto
        fig.add_scatter(
            x=T, y=y, mode="lines+markers", name="medido", line={"color": COLORS[0]},
            showlegend=col == 1, row=1, col=col,
            hovertemplate="T = %{x}<br>%{y:.3g} " + unit + "<extra>medido</extra>",
        )
        fig.add_scatter(
            x=T, y=guide, mode="lines", name="∝ T²", showlegend=col == 1, row=1, col=col,
            line={"color": COLORS[1], "dash": "dash"},
            hovertemplate="T = %{x}<br>%{y:.3g} " + unit + "<extra>∝ T²</extra>",
        )
    fig.update_xaxes(type="log", title_text="longitud T", tickvals=list(lengths),
                     ticktext=[str(t) for t in lengths])
    fig.update_yaxes(type="log")
    return fig
