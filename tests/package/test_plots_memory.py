"""Pruebas de libroia.plots.memory: las figuras del capítulo 7 coinciden con las calculadoras."""

from __future__ import annotations

import pytest
import torch

from libroia.memory import GIB, kv_cache_bytes, weights_bytes
from libroia.scaling import PUBLISHED_SHAPES, n_params_decoder

LLAMA2_7B = PUBLISHED_SHAPES["Llama-2-7B"]


def test_memory_figures_match_calculators():
    from libroia.plots import memory as plots

    shapes = {"7B": LLAMA2_7B, "8B": PUBLISHED_SHAPES["Llama-3-8B"]}
    fig = plots.inference_memory_figure(shapes, [1024, 4096], batch_sizes=(1, 8))
    assert len(fig.data) == 2 * 3 and len(fig.layout.sliders[0].steps) == 2
    kv = kv_cache_bytes(LLAMA2_7B, context=4096, batch_size=8) / GIB
    assert fig.data[2].y[-1] == pytest.approx(weights_bytes(n_params_decoder(LLAMA2_7B)) / GIB
                                              + kv)
    fig = plots.training_memory_figure(LLAMA2_7B, name="7B", context=512, batch_sizes=[1, 4])
    assert len(fig.data) == 2 * 5 and fig.layout.meta["alt"]
    scen = plots.training_scenarios(LLAMA2_7B, context=512, batch_size=1)
    assert sum(scen["mixta + Adam"].values()) > sum(scen["mixta + recálculo"].values())
    assert sum(scen["LoRA r=16, pesos INT4"].values()) < 24 * GIB
    fig = plots.quantization_error_figure({"W": torch.randn(8, 16)}, bits=(4, 8))
    assert len(fig.data) == 2 and fig.data[0].y[0] > fig.data[0].y[1]
