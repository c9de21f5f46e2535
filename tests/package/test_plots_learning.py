"""Pruebas de humo de libroia.plots.learning: las figuras se construyen y tienen `alt`."""

import numpy as np
import pytest

from libroia import fourier
from libroia.plots import learning


def test_fourier_slider_has_one_step_per_number_of_terms():
    x = np.linspace(-np.pi, np.pi, 50)
    ns = [1, 3, 9]
    fig = learning.fourier_slider(x, fourier.partial_sum("square", x, ns), ns, [0, 1], [1, 1])
    assert len(fig.data) == 2 * len(ns)
    assert len(fig.layout.sliders[0].steps) == len(ns)
    assert fig.layout.meta["alt"]
    assert sum(bool(t.visible) for t in fig.data) == 2


def test_learning_rate_slider_and_other_figures():
    x = np.linspace(-3, 3, 5)
    losses = [np.array([1.0, 0.5]), np.array([1.0, np.nan])]
    fig = learning.learning_rate_slider(x, x, x, losses, [x, x], [0.1, 2.0])
    assert len(fig.layout.sliders[0].steps) == 2 and len(fig.data) == 6
    figs = [
        learning.gibbs_figure(
            np.array([1, 10]), {"square": np.array([0.13, 0.09])}, 0.0895, np.array([0.4, 0.1])
        ),
        learning.coefficients_figure(np.arange(1, 4), np.ones(3), np.ones(3)),
        learning.minibatch_figure({1: np.array([1.0, 0.5])}, 0.1),
        learning.es_scaling_figure([5, 17], {"ES": [10.0, 30.0]}),
        learning.lr_schedule_figure([0, 1, 2], [0.5, 1.0, 0.1], warmup=2),
    ]
    for fig in figs:
        assert fig.layout.meta["alt"] and fig.layout.title.text and len(fig.data) >= 1


def test_lr_schedule_figure_draws_the_given_rates_and_rejects_mismatched_lengths():
    fig = learning.lr_schedule_figure(range(4), [0.1, 0.2, 0.15, 0.05], warmup=2)
    assert list(fig.data[0].y) == [0.1, 0.2, 0.15, 0.05]
    assert fig.layout.shapes[0].x1 - fig.layout.shapes[0].x0 == 2  # la franja del calentamiento
    with pytest.raises(ValueError, match=r"`steps`.*3.*2"):
        learning.lr_schedule_figure([0, 1, 2], [0.1, 0.2], warmup=1)
