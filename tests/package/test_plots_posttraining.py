"""Pruebas de humo de libroia.plots.posttraining."""

import numpy as np

from libroia.plots import posttraining

RATES = {"correct": 0.5, "wrong": 0.1, "refusal": 0.2, "question": 0.1, "other": 0.1}
HISTORY = {"reward": [1.0, 2.0, 2.5], "kl": [0.0, 0.1, 0.3], "correct": [0.5, 0.7, 0.8],
           "loss": [0.1, -0.2, 0.0]}


def test_figures_build_with_alt_text():
    figs = [
        posttraining.behaviour_bars({"a": RATES, "b": RATES}),
        posttraining.best_of_n_figure([1, 2], [RATES, RATES]),
        posttraining.dpo_curves({"loss": [0.69, 0.5], "margin": [0.0, 0.3]}),
        posttraining.rlhf_curves({"β = 1": HISTORY}),
    ]
    for fig in figs:
        assert fig.layout.meta["alt"] and fig.layout.title.text
    assert len(figs[0].data) == len(posttraining.LABELS)
    assert list(figs[0].data[0].y) == [0.5, 0.5]


def test_dpo_slider_has_one_trace_per_beta():
    margins = np.linspace(-1, 1, 5)
    losses = np.log1p(np.exp(-np.outer([0.1, 1.0], margins)))  # (2, 5)
    fig = posttraining.dpo_loss_slider(margins, losses, [0.1, 1.0], active=1)
    assert len(fig.data) == 2 and len(fig.layout.sliders[0].steps) == 2
    assert fig.data[1].visible and not fig.data[0].visible


def test_rlhf_curves_one_line_per_run_and_panel():
    other = {k: [2 * x for x in v] for k, v in HISTORY.items()}
    fig = posttraining.rlhf_curves({"β = 1": HISTORY, "β = 0": other})
    assert len(fig.data) == 2 * 3  # 2 entrenamientos × 3 paneles
    assert [t.name for t in fig.data] == ["β = 1"] * 3 + ["β = 0"] * 3
    assert list(fig.data[1].y) == HISTORY["kl"] and list(fig.data[5].y) == other["correct"]
    assert list(fig.data[0].x) == [1, 2, 3]  # los pasos empiezan en 1
    assert sum(t.showlegend for t in fig.data) == 2  # una entrada de leyenda por entrenamiento


def test_best_of_n_uses_lowercase_n():
    fig = posttraining.best_of_n_figure([1, 2], [RATES, RATES])
    assert "mejor de n" in fig.layout.title.text and "N" not in fig.layout.xaxis.title.text
