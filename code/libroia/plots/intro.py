"""Figuras del prefacio."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from libroia.functional import softmax
from libroia.plots._common import COLORS, new_figure, slider_steps


def softmax_temperature(z: np.ndarray, temperatures: Sequence[float]) -> go.Figure:
    """Barras de ``softmax(z / T)`` con un deslizador sobre la temperatura ``T``."""
    labels = [f"opción {i + 1}" for i in range(len(z))]
    fig = new_figure(
        title="Softmax de cinco puntuaciones según la temperatura",
        alt=(
            "Diagrama de barras con la probabilidad de cinco opciones. Un deslizador "
            "cambia la temperatura: con valores bajos una opción acapara casi toda la "
            "probabilidad y con valores altos las cinco barras se igualan."
        ),
        x_title="opción",
        y_title="probabilidad",
    )
    for t in temperatures:
        p = softmax(np.asarray(z) / t)
        fig.add_bar(
            x=labels,
            y=p,
            marker_color=COLORS[0],
            name=f"T = {t:g}",
            hovertemplate="%{x}: %{y:.3f}<extra></extra>",
        )
    fig.update_yaxes(range=[0, 1])
    active = list(temperatures).index(1.0) if 1.0 in temperatures else 0
    return slider_steps(
        fig, [f"{t:g}" for t in temperatures], 1, prefix="temperatura T = ", active=active
    )
