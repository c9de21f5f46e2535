"""Figuras del capítulo 1, «Aprender una función», y del calendario de la tasa de
aprendizaje del capítulo 5.

Cada función recibe números ya calculados por :mod:`libroia.fourier`,
:mod:`libroia.optim` o :func:`libroia.gpt_train.lr_at` y devuelve una figura de
plotly; no entrena nada.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from libroia.plots._common import COLORS, new_figure, slider_steps

__all__ = [
    "coefficients_figure",
    "es_scaling_figure",
    "fourier_slider",
    "gibbs_figure",
    "learning_rate_slider",
    "lr_schedule_figure",
    "minibatch_figure",
]


def fourier_slider(
    x: np.ndarray,
    sums: np.ndarray,
    n_terms: Sequence[int],
    target_x: np.ndarray,
    target_y: np.ndarray,
    *,
    active: int = 0,
) -> go.Figure:
    """La señal y su suma parcial, con un deslizador sobre el número de términos.

    ``x`` ``(M,)`` y ``sums`` ``(len(n_terms), M)``: una suma parcial por cada valor
    de ``n_terms``. ``target_x``, ``target_y``: la señal exacta, que puede
    ir en menos puntos (para la onda cuadrada bastan las esquinas).
    """
    fig = new_figure(
        title="Sumas parciales de Fourier de la onda cuadrada",
        alt=(
            "Una onda cuadrada que vale −1 y 1 y, encima, su aproximación con una suma de "
            "senos. Al mover el deslizador se añaden términos: la curva se pega cada vez "
            "más a la onda, salvo por un pico que sobresale junto a cada salto."
        ),
        x_title="x (radianes)",
        y_title="valor",
    )
    x = np.round(x, 4)
    for n, s in zip(n_terms, sums, strict=True):
        fig.add_trace(
            go.Scatter(x=target_x, y=target_y, name="onda cuadrada", line={"color": "#999999"})
        )
        fig.add_trace(
            go.Scatter(
                x=x, y=np.round(s, 4), name=f"suma con {n} términos", line={"color": COLORS[0]}
            )
        )
    fig.update_yaxes(range=[-1.4, 1.4])
    return slider_steps(fig, [str(n) for n in n_terms], 2, prefix="términos: ", active=active)


def gibbs_figure(
    n_terms: np.ndarray, overshoot: dict[str, np.ndarray], limit: float, rms: np.ndarray
) -> go.Figure:
    """Sobrepaso de Gibbs (fracción del salto) y raíz del error cuadrático medio frente a n."""
    fig = new_figure(
        title="El sobrepaso no desaparece; el error medio sí",
        alt=(
            "Gráfico con el número de términos en escala logarítmica. El sobrepaso de la "
            "onda cuadrada se queda en torno al 9 % del salto, igual que el del diente de "
            "sierra, que se acerca más despacio; la raíz del error cuadrático medio baja "
            "sin parar."
        ),
        x_title="número de términos n",
        y_title="fracción",
    )
    names = {"square": "sobrepaso, onda cuadrada", "sawtooth": "sobrepaso, diente de sierra"}
    for i, (kind, values) in enumerate(overshoot.items()):
        fig.add_trace(
            go.Scatter(
                x=n_terms,
                y=values,
                mode="lines+markers",
                name=names.get(kind, kind),
                line={"color": COLORS[i]},
            )
        )
    fig.add_trace(
        go.Scatter(
            x=n_terms,
            y=rms,
            mode="lines+markers",
            name="raíz del error cuadrático medio",
            line={"color": COLORS[2], "dash": "dot"},
        )
    )
    fig.add_hline(
        y=limit,
        line_dash="dash",
        line_color="#666666",
        annotation_text=f"límite {100 * limit:.2f} %",
    )
    fig.update_xaxes(type="log")
    return fig


def coefficients_figure(k: np.ndarray, learned: np.ndarray, formula: np.ndarray) -> go.Figure:
    """Coeficientes de seno aprendidos con ejemplos frente a los de la fórmula."""
    fig = new_figure(
        title="Coeficientes aprendidos frente a coeficientes calculados",
        alt=(
            "Barras emparejadas por frecuencia: los coeficientes de seno que el descenso "
            "del gradiente encontró a partir de ejemplos ruidosos y los que da la fórmula "
            "4/(πk). Son parecidos; en las frecuencias pares la fórmula da cero."
        ),
        x_title="frecuencia k",
        y_title="coeficiente de sin(kx)",
    )
    fig.add_trace(go.Bar(x=k, y=learned, name="aprendido con ejemplos"))
    fig.add_trace(go.Bar(x=k, y=formula, name="fórmula de Fourier"))
    fig.update_layout(barmode="group")
    return fig


def learning_rate_slider(
    x_grid: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    losses: Sequence[np.ndarray],
    fits: Sequence[np.ndarray],
    lrs: Sequence[float],
    *,
    active: int = 0,
) -> go.Figure:
    """Curva de pérdida y curva ajustada para cada tasa de aprendizaje, con deslizador.

    ``losses[i]`` ``(S+1,)`` (con ``nan`` tras divergir), ``fits[i]`` ``(M,)`` la
    predicción final en ``x_grid``; ``x``, ``y`` ``(N,)`` los ejemplos.
    """
    fig = new_figure(
        title="Tasa de aprendizaje: demasiado pequeña, adecuada, demasiado grande",
        alt=(
            "Dos paneles con un deslizador sobre la tasa de aprendizaje. A la izquierda, la "
            "pérdida según los pasos en escala logarítmica; a la derecha, los ejemplos y la "
            "curva aprendida. Con tasas pequeñas la pérdida baja despacio; con tasas "
            "moderadas baja deprisa; por encima del umbral la pérdida se dispara."
        ),
        height=440,
    )
    fig.set_subplots(1, 2, subplot_titles=("pérdida", "ajuste final"))
    for lr, loss, fit in zip(lrs, losses, fits, strict=True):
        steps = np.arange(len(loss))
        fig.add_trace(
            go.Scatter(x=steps, y=loss, name=f"pérdida (η = {lr:g})", line={"color": COLORS[1]}),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=x, y=y, mode="markers", name="ejemplos", marker={"color": "#999999", "size": 5}
            ),
            row=1,
            col=2,
        )
        fig.add_trace(
            go.Scatter(x=x_grid, y=fit, name=f"modelo (η = {lr:g})", line={"color": COLORS[0]}),
            row=1,
            col=2,
        )
    fig.update_yaxes(type="log", title_text="pérdida (ECM)", row=1, col=1)
    fig.update_yaxes(range=[-2, 2], title_text="y", row=1, col=2)
    fig.update_xaxes(title_text="paso", row=1, col=1)
    fig.update_xaxes(title_text="x", row=1, col=2)
    return slider_steps(fig, [f"{lr:g}" for lr in lrs], 3, prefix="η = ", active=active)


def minibatch_figure(losses: dict[int, np.ndarray], floor: float) -> go.Figure:
    """Exceso de pérdida sobre el mínimo según el paso, para varios tamaños de minilote."""
    fig = new_figure(
        title="El ruido de los minilotes",
        alt=(
            "Curvas del exceso de pérdida sobre el mínimo, en escala logarítmica, para "
            "minilotes de distintos tamaños. Con un ejemplo por paso la curva es muy "
            "ruidosa y se estanca alto; con más ejemplos es más suave y baja más."
        ),
        x_title="paso",
        y_title="pérdida − pérdida mínima",
    )
    for i, (batch, loss) in enumerate(losses.items()):
        fig.add_trace(
            go.Scatter(
                y=np.maximum(loss - floor, 1e-12),
                name=f"N<sub>b</sub> = {batch}",
                line={"color": COLORS[i % len(COLORS)]},
            )
        )
    fig.update_yaxes(type="log")
    return fig


def es_scaling_figure(n_params: Sequence[int], evals: dict[str, Sequence[float]]) -> go.Figure:
    """Evaluaciones necesarias para llegar a la pérdida objetivo frente al número de parámetros."""
    fig = new_figure(
        title="Evaluaciones necesarias según el número de parámetros",
        alt=(
            "Gráfico log-log: en el eje horizontal, el número de parámetros; en el vertical, "
            "cuántas evaluaciones necesitó cada método para llegar a la pérdida objetivo. "
            "Las estrategias evolutivas crecen aproximadamente en proporción a los "
            "parámetros; el descenso por gradiente apenas cambia."
        ),
        x_title="número de parámetros P",
        y_title="evaluaciones hasta el objetivo",
    )
    for i, (name, values) in enumerate(evals.items()):
        fig.add_trace(
            go.Scatter(
                x=list(n_params),
                y=list(values),
                mode="lines+markers",
                name=name,
                line={"color": COLORS[i]},
            )
        )
    fig.update_xaxes(type="log")
    fig.update_yaxes(type="log")
    return fig


def lr_schedule_figure(steps: Sequence[int], rates: Sequence[float], *, warmup: int) -> go.Figure:
    """La tasa de aprendizaje de cada paso: ``steps`` y ``rates`` ``(S,)``, ``warmup`` = S_w.

    Sombrea los ``warmup`` primeros pasos, los del calentamiento. Los valores vienen de
    :func:`libroia.gpt_train.lr_at` (ecuación ``eq-tasa-coseno`` del capítulo 5).
    """
    steps, rates = list(steps), list(rates)
    if len(steps) != len(rates) or not steps:
        raise ValueError(
            "`steps` y `rates` deben tener la misma longitud, mayor que 0, pero tienen "
            f"{len(steps)} y {len(rates)}"
        )
    fig = new_figure(
        title="La tasa de aprendizaje del GPT del libro, paso a paso",
        alt=(
            "Curva de la tasa de aprendizaje frente al paso de entrenamiento. En la franja "
            "sombreada del principio sube en línea recta desde casi cero hasta el máximo; "
            "después baja suavemente, con forma de medio coseno, hasta una décima parte "
            "del máximo en el último paso."
        ),
        x_title="paso s",
        y_title="tasa de aprendizaje η",
        height=360,
    )
    fig.add_vrect(
        x0=steps[0] - 0.5, x1=steps[0] + warmup - 0.5, fillcolor="#DDDDDD", opacity=0.5,
        line_width=0, annotation_text="calentamiento", annotation_position="top left",
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(x=steps, y=rates, mode="lines", name="η(s)", line={"color": COLORS[0]})
    )
    fig.update_layout(showlegend=False)
    return fig
