"""Pruebas de libroia.inference: cuentas de coste contra lo que PyTorch ejecuta y la caché KV.

Los FLOPs del modelo de coste se comparan con los que cuenta
``torch.utils.flop_counter`` al generar de verdad, con y sin caché KV; los dos
caminos de generación deben dar los mismos tokens. Ninguna prueba mide tiempos:
las mediciones solo se comprueban en su forma.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from libroia.gpt import GPT, GPTConfig
from libroia.inference import (
    A100_80GB,
    Accelerator,
    CostModel,
    forward_cost,
    matmul_cost,
    measure_cpu,
    measure_matmul,
    measure_seconds,
    time_generation,
)
from libroia.memory import kv_cache_bytes, weights_bytes
from libroia.sampling import sampler
from libroia.scaling import PUBLISHED_SHAPES, DecoderShape, count_flops, n_params_decoder

CONFIG = GPTConfig(vocab_size=64, context=16, d_model=32, n_heads=4, n_layers=2)
SHAPE = DecoderShape.from_gpt_config(CONFIG)
LLAMA = PUBLISHED_SHAPES["Llama-2-7B"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT(CONFIG).eval()


# --------------------------------------------------------------------------- FLOPs contra PyTorch


@pytest.mark.parametrize(("m", "k", "n"), [(1, 64, 32), (7, 5, 3), (128, 256, 64)])
def test_matmul_flops_match_the_pytorch_counter(m, k, n):
    x, w = torch.ones(m, k), torch.ones(k, n)
    assert matmul_cost(m, k, n).flops == count_flops(lambda: x @ w)
    assert matmul_cost(m, k, n, dtype="bf16").n_bytes == 2 * (m * k + k * n + m * n)


@pytest.mark.parametrize(("batch", "prompt"), [(1, 1), (3, 5), (2, 16)])
def test_prefill_flops_match_the_pytorch_counter(model, batch, prompt):
    idx = torch.randint(0, CONFIG.vocab_size, (batch, prompt))
    with torch.no_grad():
        counted = count_flops(lambda: model(idx))
    cost = forward_cost(SHAPE, new_tokens=prompt, batch_size=batch, dtype="fp32")
    assert cost.flops == counted


@pytest.mark.parametrize("use_cache", [True, False])
def test_generation_flops_match_prefill_plus_decode_steps(model, use_cache):
    """Con caché: un prellenado y pasos de un token. Sin caché: cada paso lo recalcula todo."""
    N, T0, n = 3, 5, 6
    idx = torch.randint(0, CONFIG.vocab_size, (N, T0))
    with torch.no_grad():
        counted = count_flops(lambda: model.generate(idx, n, use_cache=use_cache))
    cost = CostModel(SHAPE, A100_80GB, dtype="fp32")
    if use_cache:
        steps = [[(T0, 0)] * N] + [[(1, T0 + t)] * N for t in range(n - 1)]
    else:
        steps = [[(T0 + t, 0)] * N for t in range(n)]
    assert counted == sum(cost.cost(batch).flops for batch in steps)


def test_cost_model_bytes_are_weights_plus_kv_cache():
    cost = CostModel(LLAMA, A100_80GB)
    c = cost.cost([(1, 99), (1, 199)])
    expected = weights_bytes(n_params_decoder(LLAMA), "bf16") + kv_cache_bytes(
        LLAMA, context=300, dtype="bf16")
    assert c.n_bytes == pytest.approx(expected)
    assert cost.seconds([]) == 0.0


@settings(max_examples=40, deadline=None)
@given(batch=st.integers(1, 512), cached=st.integers(0, 4000))
def test_decode_intensity_grows_with_the_batch(batch, cached):
    one = forward_cost(LLAMA, new_tokens=1, cached_tokens=cached, batch_size=batch)
    two = forward_cost(LLAMA, new_tokens=1, cached_tokens=cached, batch_size=batch + 1)
    assert two.intensity > one.intensity
    assert one.flops == pytest.approx(batch * forward_cost(LLAMA, new_tokens=1,
                                                           cached_tokens=cached).flops)


def test_prefill_is_compute_bound_and_decode_memory_bound_on_an_a100():
    ridge = A100_80GB.ridge
    assert ridge == pytest.approx(312e12 / 2.039e12)
    assert forward_cost(LLAMA, new_tokens=1000).intensity > ridge
    assert forward_cost(LLAMA, new_tokens=1, cached_tokens=1000).intensity < 2


# --------------------------------------------------------------------------- roofline


@settings(max_examples=40, deadline=None)
@given(flops=st.floats(1.0, 1e15), n_bytes=st.floats(1.0, 1e12))
def test_roofline_time_is_the_slower_of_compute_and_memory(flops, n_bytes):
    gpu = Accelerator("prueba", peak_flops=1e14, bandwidth=1e12)
    t = gpu.seconds(flops, n_bytes)
    assert t == max(flops / 1e14, n_bytes / 1e12)
    assert flops / t <= gpu.attainable(flops / n_bytes) * (1 + 1e-12)


def test_attainable_flops_bend_at_the_ridge():
    gpu = Accelerator("prueba", peak_flops=100.0, bandwidth=4.0)
    assert gpu.ridge == 25.0
    assert [gpu.attainable(i) for i in (1.0, 25.0, 1000.0)] == [4.0, 100.0, 100.0]


# --------------------------------------------------------------------------- caché KV


@pytest.mark.parametrize("n_new", [5, 30])  # 30: la ventana de 16 se llena y se desliza
def test_kv_cache_and_recomputation_give_the_same_tokens(model, n_new):
    idx = torch.randint(0, CONFIG.vocab_size, (2, 4), generator=torch.Generator().manual_seed(1))
    with_cache = time_generation(model, idx, n_new, use_cache=True)
    without = time_generation(model, idx, n_new, use_cache=False)
    assert torch.equal(with_cache.tokens, without.tokens)
    assert with_cache.tokens.shape == (2, 4 + n_new) and len(with_cache.ready) == n_new


def test_kv_cache_gives_the_same_sampled_tokens(model):
    idx = torch.zeros(3, 2, dtype=torch.long)
    runs = [time_generation(model, idx, 12, use_cache=c,
                            next_token=sampler(generator=torch.Generator().manual_seed(7)))
            for c in (True, False)]
    assert torch.equal(runs[0].tokens, runs[1].tokens)


def test_timing_fields_are_consistent(model):
    t = time_generation(model, torch.zeros(1, 3, dtype=torch.long), 6)
    assert t.ready == sorted(t.ready) and t.time_to_first_token > 0
    assert t.total_seconds == t.ready[-1]
    assert t.seconds_per_token == pytest.approx((t.ready[-1] - t.ready[0]) / 5)
    assert math.isnan(time_generation(model, torch.zeros(1, 3, dtype=torch.long),
                                      1).seconds_per_token)


def test_measurements_have_the_right_shape():
    """Solo la forma: ninguna prueba depende de lo rápida que sea la máquina."""
    r = measure_matmul(8, 32, 16, repeat=2)
    assert r["flops"] == 2 * 8 * 32 * 16 and r["seconds"] > 0
    assert r["intensity"] == pytest.approx(r["flops"] / r["n_bytes"])
    cpu = measure_cpu(size=64, n_bytes=2**16, repeat=2)
    assert cpu.peak_flops > 0 and cpu.bandwidth > 0
    calls = []
    measure_seconds(lambda: calls.append(1), repeat=3, warmup=2, statistic="median")
    assert len(calls) == 5


# --------------------------------------------------------------------------- errores


def test_errors_name_the_argument(model):
    with pytest.raises(ValueError, match="peak_flops"):
        Accelerator("x", peak_flops=0.0, bandwidth=1.0)
    with pytest.raises(ValueError, match="name"):
        Accelerator("", peak_flops=1.0, bandwidth=1.0)
    with pytest.raises(ValueError, match="n_bytes"):
        A100_80GB.seconds(1.0, -1.0)
    with pytest.raises(ValueError, match="`m`"):
        matmul_cost(0, 4, 4)
    with pytest.raises(ValueError, match="dtype"):
        matmul_cost(1, 4, 4, dtype="fp8")
    with pytest.raises(ValueError, match="new_tokens"):
        forward_cost(LLAMA, new_tokens=0)
    with pytest.raises(TypeError, match="shape"):
        CostModel("Llama-2-7B", A100_80GB)
    with pytest.raises(TypeError, match="accelerator"):
        CostModel(LLAMA, "A100")
    with pytest.raises(ValueError, match="idx"):
        time_generation(model, torch.zeros(3, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="max_new_tokens"):
        time_generation(model, torch.zeros(1, 3, dtype=torch.long), 0)
    with pytest.raises(TypeError, match="use_cache"):
        time_generation(model, torch.zeros(1, 3, dtype=torch.long), 2, use_cache="sí")
    with pytest.raises(TypeError, match="fn"):
        measure_seconds(3)
    with pytest.raises(ValueError, match="statistic"):
        measure_seconds(lambda: None, statistic="mean")
