"""Pruebas de libroia.plots.scaling: las figuras del capítulo 6 se construyen con `alt`."""

from __future__ import annotations

import numpy as np

from libroia.plots import scaling as plots
from libroia.scaling import PUBLISHED_SHAPES, forward_flops_per_token
from libroia.scaling_law import fit_power_law, power_law

LLAMA2_7B = PUBLISHED_SHAPES["Llama-2-7B"]
MIXTRAL = PUBLISHED_SHAPES["Mixtral-8x7B"]


def test_scaling_figures_build_with_sliders_and_alt_text():
    fig = plots.isoflop_figure([1e19, 1e21, 1e23])
    assert len(fig.data) == 9 and len(fig.layout.sliders[0].steps) == 3
    assert sum(bool(t.visible) for t in fig.data) == 3  # un presupuesto a la vez
    assert fig.layout.meta["alt"]
    fig = plots.flops_breakdown_figure(LLAMA2_7B, [512, 4096], name="Llama 2 7B")
    total = sum(np.array(t.y) for t in fig.data) * 1e9
    np.testing.assert_allclose(total, [forward_flops_per_token(LLAMA2_7B, context=T)
                                       for T in (512, 4096)])  # fmt: skip
    n = np.array([1e3, 1e4, 1e5])
    fit = fit_power_law(n, power_law(n, 10.0, 0.3, 1.0))
    assert len(plots.scaling_law_figure(n, power_law(n, *fit), fit).data) == 3
    assert len(plots.tokens_per_param_figure().data) == 2
    assert len(plots.moe_figure({"Mixtral": MIXTRAL}).data) == 2
    hist = [{"step": [0, 1], "val_loss": [5.0, 4.0]}]
    assert len(plots.loss_curves_figure(hist, ["a"]).data) == 1


def test_short_numbers_use_spanish_words_not_english_b():
    """«B» en inglés son mil millones: los billones españoles se escriben con letras."""
    assert plots._short(1.4e12) == "1.4 billones"
    assert plots._short(1e12) == "1 billón"
    assert plots._short(7e9) == "7 mil M"
    assert plots._short(5e6) == "5 M"
    assert plots._short(12.0) == "12"
