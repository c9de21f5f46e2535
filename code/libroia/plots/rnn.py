"""Figuras del capítulo 3, «Redes recurrentes y el problema del gradiente»."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from libroia.plots._common import COLORS, new_figure, slider_steps

__all__ = [
    "clipping_figure",
    "gradient_decay_figure",
    "input_gradient_figure",
    "recall_accuracy_figure",
]


def gradient_decay_figure(radii: Sequence[float], norms) -> go.Figure:
    """Norma del gradiente frente a la distancia k, en escala logarítmica, con un deslizador.

    ``radii`` (R,) son los radios espectrales de ``W_hh``; ``norms`` (R, K + 1) la norma del
    gradiente que llega a ``h_{T-k}`` para k = 0, …, K (por ejemplo, la media geométrica
    sobre el lote de :func:`libroia.rnn.gradient_norms_by_distance`). Cada paso del
    deslizador muestra la medida y la recta de referencia ρᵏ.
    """
    norms = np.asarray(norms, dtype=float)
    radii = [float(r) for r in radii]
    if norms.ndim != 2 or norms.shape[0] != len(radii):
        raise ValueError(
            f"`norms` debe tener forma (R, K + 1) con R = {len(radii)}, "
            f"pero tiene forma {norms.shape}"
        )
    k = np.arange(norms.shape[1])
    fig = new_figure(
        title="¿Cuánto gradiente llega k pasos atrás?",
        alt=(
            "Curvas en escala logarítmica de la norma del gradiente que llega al estado "
            "h_{T-k} frente a la distancia k, una por cada radio espectral de la matriz "
            "recurrente, elegido con un deslizador. Para radios menores que 1 la curva cae "
            "como una recta (decaimiento geométrico) pegada a la referencia ρ^k; para radios "
            "mayores que 1 crece, aunque más despacio que ρ^k porque tanh se satura."
        ),
        x_title="distancia k (pasos hacia atrás desde el final)",
        y_title="‖∂L/∂h<sub>T−k</sub>‖",
        height=460,
    )
    for radius, row in zip(radii, norms, strict=True):
        fig.add_trace(
            go.Scatter(
                x=k, y=row, mode="lines", name="medido", line={"color": COLORS[0], "width": 3},
                hovertemplate="k = %{x}<br>norma = %{y:.3g}<extra></extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=k, y=radius**k, mode="lines", name="referencia ρᵏ",
                line={"color": COLORS[1], "dash": "dash"},
                hovertemplate="k = %{x}<br>ρᵏ = %{y:.3g}<extra></extra>",
            )
        )
    fig.update_yaxes(type="log", exponentformat="power")
    active = int(np.argmin(np.abs(np.array(radii) - 1.0)))
    return slider_steps(
        fig, [f"{r:g}" for r in radii], 2, prefix="radio espectral ρ(W_hh) = ", active=active
    )


def clipping_figure(runs: Mapping[str, Mapping]) -> go.Figure:
    """Pérdida y norma del gradiente paso a paso, con y sin recorte (dos paneles).

    ``runs`` asocia una etiqueta a un resultado de :func:`libroia.rnn_train.train_numpy_rnn`.
    Una línea vertical marca el paso en que la pérdida deja de ser finita.
    """
    fig = new_figure(
        title="Un entrenamiento que explota y el mismo con recorte",
        alt=(
            "Dos paneles que comparten el eje horizontal de pasos de entrenamiento. Arriba, la "
            "pérdida en escala logarítmica; abajo, la norma del gradiente antes de recortar. "
            "Sin recorte, la norma del gradiente da saltos de muchos órdenes de magnitud, la "
            "pérdida se dispara y la curva se corta en el paso marcado con una línea vertical, "
            "donde se vuelve infinita o nan. Con recorte, ambas curvas siguen finitas y la "
            "pérdida baja."
        ),
        x_title="paso de entrenamiento",
        height=560,
    )
    for i, (label, run) in enumerate(runs.items()):
        color = COLORS[i % len(COLORS)]
        steps = np.arange(len(run["loss"]))
        fig.add_trace(
            go.Scatter(
                x=steps, y=run["loss"], name=label, legendgroup=label, yaxis="y",
                line={"color": color}, hovertemplate="paso %{x}<br>pérdida %{y:.3g}",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=steps, y=run["grad_norm"], name=label, legendgroup=label, yaxis="y2",
                showlegend=False, line={"color": color},
                hovertemplate="paso %{x}<br>‖g‖ = %{y:.3g}",
            )
        )
        if run.get("first_nonfinite") is not None:
            step = run["first_nonfinite"]
            fig.add_shape(
                type="line", x0=step, x1=step, y0=0, y1=1, yref="paper",
                line={"color": color, "dash": "dot"},
            )
            fig.add_annotation(
                x=step, y=1.0, yref="paper", text=f"{label}: inf/nan en el paso {step}",
                showarrow=False, xanchor="right", yanchor="bottom", font={"color": color},
            )
    fig.update_layout(
        yaxis={"domain": [0.55, 1.0], "type": "log", "title": "pérdida (ECM)",
               "exponentformat": "power"},
        yaxis2={"domain": [0.0, 0.45], "type": "log", "title": "‖g‖ antes de recortar",
                "exponentformat": "power", "anchor": "x"},
        xaxis={"anchor": "y2"},  # el eje de los pasos, debajo del panel inferior
        legend={"orientation": "h", "y": -0.15},
    )
    return fig


def input_gradient_figure(curves: Mapping[str, np.ndarray], *, title: str) -> go.Figure:
    """Norma del gradiente de la pérdida respecto a cada entrada x_t, en escala logarítmica.

    ``curves`` asocia una etiqueta a un arreglo (T,) de :func:`libroia.rnn_train.input_grad_norms`.
    """
    fig = new_figure(
        title=title,
        alt=(
            "Curvas en escala logarítmica de la norma del gradiente de la pérdida respecto a "
            "la entrada de cada posición t, una por modelo. La posición 1, a la izquierda, es "
            "la que contiene el símbolo que hay que recordar. La curva de la RNN simple cae "
            "muchos órdenes de magnitud al alejarse del final; las de la LSTM y la GRU con la "
            "puerta que conserva el estado abierta se mantienen casi planas."
        ),
        x_title="posición t de la entrada (la respuesta depende de t = 1)",
        y_title="‖∂L/∂x<sub>t</sub>‖",
    )
    for i, (label, norms) in enumerate(curves.items()):
        norms = np.asarray(norms, dtype=float)
        fig.add_trace(
            go.Scatter(
                x=np.arange(1, len(norms) + 1), y=norms, name=label, mode="lines",
                line={"color": COLORS[i % len(COLORS)], "width": 2.5},
                hovertemplate="t = %{x}<br>norma = %{y:.3g}",
            )
        )
    fig.update_yaxes(type="log", exponentformat="power")
    fig.update_layout(legend={"orientation": "h", "y": -0.2})
    return fig


def recall_accuracy_figure(
    lengths: Sequence[int],
    accuracies: Mapping[str, np.ndarray],
    *,
    chance: float,
    title: str = "Recordar el primer símbolo tras T pasos",
    outcome: str = "",
) -> go.Figure:
    """Exactitud en «recuerda el primer símbolo» frente a la longitud T, por modelo.

    ``accuracies`` asocia una etiqueta a un arreglo (len(lengths), S) con una columna por
    semilla; se dibujan los puntos de cada semilla y la media. ``chance`` es el azar.
    ``outcome`` es una frase, escrita por quien llama, que describe el resultado medido;
    se añade al texto alternativo de la figura, que ya nombra los modelos.
    La usan el capítulo 3 (RNN, GRU y LSTM) y el capítulo 4 (la misma tarea con atención).

    Ejemplo::

        >>> fig = recall_accuracy_figure([10, 40], {"RNN": np.ones((2, 3))}, chance=0.25)
        >>> len(fig.data)                       # puntos de cada semilla y media
        2
    """
    lengths = list(lengths)
    if not isinstance(accuracies, Mapping) or not accuracies:
        raise ValueError(
            f"`accuracies` debe ser un diccionario no vacío, pero vale {accuracies!r:.80}"
        )
    labels = list(accuracies)
    names = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " y " + labels[-1]
    alt = (
        f"Exactitud frente a la longitud T de la secuencia para {names}, con un punto por "
        "semilla y una línea por la media de cada modelo. Una línea discontinua marca el "
        "acierto por azar."
    )
    fig = new_figure(
        title=title,
        alt=f"{alt} {outcome}".strip(),
        x_title="longitud T de la secuencia",
        y_title="exactitud en secuencias nuevas",
    )
    for i, (label, acc) in enumerate(accuracies.items()):
        acc = np.asarray(acc, dtype=float)
        if acc.ndim != 2 or acc.shape[0] != len(lengths):
            raise ValueError(
                f"`accuracies[{label!r}]` debe tener forma (len(lengths), S) con "
                f"len(lengths) = {len(lengths)}, pero tiene forma {acc.shape}"
            )
        color = COLORS[i % len(COLORS)]
        fig.add_trace(
            go.Scatter(
                x=np.repeat(lengths, acc.shape[1]), y=acc.ravel(), mode="markers",
                name=f"{label} (cada semilla)", marker={"color": color, "size": 8, "opacity": 0.5},
                hovertemplate="T = %{x}<br>exactitud %{y:.2f}",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=lengths, y=acc.mean(axis=1), mode="lines+markers", name=f"{label} (media)",
                line={"color": color, "width": 3}, hovertemplate="T = %{x}<br>media %{y:.2f}",
            )
        )
    fig.add_hline(y=chance, line={"dash": "dash", "color": "gray"},
                  annotation_text="azar", annotation_position="bottom right")
    fig.update_yaxes(range=[0, 1.05])
    fig.update_xaxes(tickvals=lengths)
    return fig
