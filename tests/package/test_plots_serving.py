"""Pruebas de humo de libroia.plots.serving: cada figura se construye, con texto
alternativo, y dibuja los números que recibe."""

from __future__ import annotations

import pytest

from libroia.batching import Request, simulate
from libroia.inference import A100_80GB, Accelerator, forward_cost
from libroia.plots import serving
from libroia.scaling import PUBLISHED_SHAPES

LLAMA = PUBLISHED_SHAPES["Llama-2-7B"]


def unit(batch):
    return 1.0


def test_roofline_slider_moves_the_decode_point():
    fig = serving.roofline_figure(LLAMA, A100_80GB, name="Llama 2 7B", batch_sizes=[1, 16, 256])
    assert fig.layout.meta["alt"] and len(fig.layout.sliders[0].steps) == 3
    assert len(fig.data) == 9  # tejado, prellenado y decodificación por paso
    decode_x = [fig.data[3 * i + 2].x[0] for i in range(3)]
    assert decode_x == sorted(decode_x)
    expected = forward_cost(LLAMA, new_tokens=1, cached_tokens=1000, batch_size=16).intensity
    assert decode_x[1] == pytest.approx(expected)
    assert [t.visible for t in fig.data[:3]] == [True] * 3 and not fig.data[3].visible
    roof = fig.data[0]
    assert max(roof.y) == pytest.approx(A100_80GB.peak_flops / 1e12)


def test_measured_roofline_uses_the_measurements():
    cpu = Accelerator("cpu", peak_flops=1e11, bandwidth=1e10)
    points = [{"intensity": 0.5, "flops_per_second": 5e9},
              {"intensity": 50.0, "flops_per_second": 9e10}]
    fig = serving.measured_roofline_figure(cpu, points, ["m = 1", "m = 256"])
    assert fig.layout.meta["alt"]
    assert list(fig.data[1].y) == [5.0, 90.0] and list(fig.data[1].text) == ["m = 1", "m = 256"]


def test_batching_figures():
    reqs = [Request(0, 0.0, 2, 3), Request(1, 0.5, 2, 1)]
    results = {p: simulate(reqs, unit, policy=p) for p in ("static", "continuous")}
    timeline = serving.batching_timeline_figure(results)
    assert timeline.layout.meta["alt"] and len(timeline.data) == 4
    assert list(timeline.data[1].base) == [results["static"].admitted[r.id] for r in reqs]
    latency = serving.latency_figure([1.0, 2.0], {p: [r, r] for p, r in results.items()})
    assert len(latency.data) == 4  # p50 y p95 por política
    assert list(latency.data[0].y) == [results["static"].percentile(50)] * 2


def test_speculative_figure_draws_the_formula():
    fig = serving.speculative_figure([1, 2], [1.5, 1.8], 0.5, speedups=[0.9, 1.1])
    assert fig.layout.meta["alt"] and len(fig.data) == 3
    assert list(fig.data[0].y) == pytest.approx([1.0, 1.5, 1.75])
