"""Pruebas de libroia.plots.rnn: las figuras del capítulo 3 se construyen y validan."""

from __future__ import annotations

import numpy as np
import pytest

from libroia.plots import rnn as rnn_plots


def test_figures_build():
    fig = rnn_plots.gradient_decay_figure([0.5, 1.0, 2.0], np.ones((3, 5)))
    assert len(fig.data) == 6 and len(fig.layout.sliders[0].steps) == 3
    assert fig.layout.yaxis.type == "log"
    with pytest.raises(ValueError, match="norms"):
        rnn_plots.gradient_decay_figure([0.5], np.ones((2, 5)))
    run = {"loss": np.array([1.0, 2.0, np.nan]), "grad_norm": np.ones(3), "first_nonfinite": 2}
    fig = rnn_plots.clipping_figure({"sin recorte": run})
    assert len(fig.data) == 2
    fig = rnn_plots.input_gradient_figure({"RNN": np.ones(4)}, title="t")
    assert len(fig.data) == 1
    fig = rnn_plots.recall_accuracy_figure([10, 40], {"RNN": np.ones((2, 3))}, chance=0.25)
    assert len(fig.data) == 2
    with pytest.raises(ValueError, match="accuracies"):
        rnn_plots.recall_accuracy_figure([10], {"RNN": np.ones((2, 3))}, chance=0.25)


def test_recall_figure_names_models_and_outcome_in_alt():
    acc = {"RNN": np.full((3, 2), 0.25), "GRU": np.ones((3, 2)), "atención": np.ones((3, 2))}
    fig = rnn_plots.recall_accuracy_figure(
        [10, 40, 80], acc, chance=0.25, title="Título", outcome="La atención acierta."
    )
    assert len(fig.data) == 6
    assert fig.layout.title.text.startswith("Título")
    alt = fig.layout.meta["alt"]
    assert "RNN, GRU y atención" in alt and alt.endswith("La atención acierta.")
    np.testing.assert_allclose(fig.data[3].y, [1.0, 1.0, 1.0])  # media de la GRU
    with pytest.raises(ValueError, match="accuracies"):
        rnn_plots.recall_accuracy_figure([10], {}, chance=0.25)
