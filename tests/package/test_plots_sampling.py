"""Pruebas de libroia.plots.sampling: las figuras del capítulo 9 se construyen con `alt`."""

from __future__ import annotations

import numpy as np
import torch

from libroia.plots import sampling as plots


def test_entropy_curve_marks_use_tau_not_t():
    taus = np.geomspace(0.1, 10, 5)
    fig = plots.entropy_curve(taus, np.linspace(0.1, 3.0, 5), max_bits=4.0, marks=[(1.0, 1.2)])
    assert len(fig.data) == 3 and fig.layout.meta["alt"]
    assert fig.data[-1].name == "τ = 1: 1.20 bits"
    assert list(fig.data[-1].x) == [1.0]


def test_best_of_n_figure_highlights_the_chosen_sample():
    texts = ["uno", "dos", "una muestra bastante larga que no cabe en la etiqueta entera"]
    fig = plots.best_of_n_figure(texts, torch.tensor([-2.0, -1.0, -3.0]), best=1)
    assert fig.layout.meta["alt"]
    assert fig.layout.title.text.startswith("Mejor de n")
    colors = list(fig.data[0].marker.color)
    assert colors[1] != colors[0] == colors[2]
