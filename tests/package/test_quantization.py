"""Pruebas de libroia.quantization: formatos numéricos y cuantización por máximo absoluto."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from libroia.gpt import GPT, GPTConfig
from libroia.quantization import (
    dequantize,
    numeric_formats,
    quantization_error,
    quantize_absmax,
    quantize_model_weights_,
    to_format,
)


def tiny_gpt(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=64, context=16, d_model=32, n_heads=4, n_layers=2))


# --- formatos numéricos y cuantización ----------------------------------------------------------


def test_fp16_overflow_and_bf16_range():
    x = torch.tensor([300.0])
    assert torch.isinf(to_format(x, "fp16") * to_format(x, "fp16")).all()  # 90 000 > 65 504
    assert torch.isfinite(to_format(x, "bf16") * to_format(x, "bf16")).all()
    assert to_format(1e-8, "fp16").item() == 0.0  # subdesbordamiento
    formats = numeric_formats()
    assert formats["fp16"]["max"] == 65504.0
    assert formats["bf16"]["eps"] == 2**-7 and formats["fp16"]["eps"] == 2**-10


def test_int8_absmax_matches_torch_fake_quantize_per_tensor():
    torch.manual_seed(0)
    w = torch.randn(64, 48)
    q, scale = quantize_absmax(w)
    ref = torch.fake_quantize_per_tensor_affine(w, float(scale), 0, -127, 127)  # ŵ de PyTorch
    steps = (dequantize(q, scale) - ref).abs() / scale  # diferencias en pasos de cuantización
    assert steps.max() <= 1.0001  # redondeo de x·(1/s) frente a x/s en algún empate
    assert (steps < 1e-3).float().mean() > 0.999


def test_int8_per_channel_matches_torch_and_protects_small_rows():
    torch.manual_seed(0)
    w = torch.randn(16, 32) * torch.logspace(-2, 1, 16)[:, None]  # filas de escalas distintas
    q, scale = quantize_absmax(w, axis=0)
    assert q.dtype == torch.int8 and scale.shape == (16, 1)
    ref = torch.fake_quantize_per_channel_affine(
        w, scale[:, 0], torch.zeros(16, dtype=torch.int32), 0, -127, 127)
    steps = (dequantize(q, scale) - ref).abs() / scale
    assert steps.max() <= 1.0001 and (steps < 1e-3).float().mean() > 0.999

    def small_row_error(w_hat):
        return float((w[0] - w_hat[0]).norm() / w[0].norm())

    assert small_row_error(dequantize(q, scale)) < 0.01
    assert small_row_error(dequantize(*quantize_absmax(w))) > 0.5  # una sola escala: todo a 0


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), bits=st.sampled_from([4, 8]), per_channel=st.booleans())
def test_quantization_error_bounded_by_half_step(seed, bits, per_channel):
    w = np.random.default_rng(seed).normal(size=(6, 10))
    axis = 0 if per_channel else None
    q, scale = quantize_absmax(w, bits=bits, axis=axis)
    q_max = 2 ** (bits - 1) - 1
    assert q.dtype == np.int8 and np.abs(q).max() == q_max
    err = np.abs(w - dequantize(q, scale))
    assert np.all(err <= scale / 2 + 1e-12)
    assert quantization_error(w, bits=bits, axis=axis)["max_abs"] == pytest.approx(err.max())


def test_quantize_zero_tensor_and_int4_worse_than_int8():
    q, _ = quantize_absmax(np.zeros(5))
    assert np.all(q == 0)
    w = np.random.default_rng(0).normal(size=1000)
    assert quantization_error(w, bits=4)["rms"] > 10 * quantization_error(w, bits=8)["rms"]


def test_quantize_model_weights_changes_only_matrices():
    model = tiny_gpt()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    changed = quantize_model_weights_(model, bits=4)
    matrices = [n for n, p in before.items() if p.ndim >= 2]
    assert changed == len(matrices) > 0
    for name, p in model.named_parameters():
        if p.ndim >= 2:
            q, scale = quantize_absmax(before[name], bits=4, axis=0)
            torch.testing.assert_close(p.detach(), dequantize(q, scale))
            assert torch.unique(p.detach()[0]).numel() <= 15  # 4 bits: a lo sumo 15 valores
        else:
            torch.testing.assert_close(p.detach(), before[name])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("axis", [None, 0])
def test_quantize_rejects_non_finite(bad, axis):
    """Antes, un inf daba escala inf y todo 0, y un nan daba enteros basura, sin avisar."""
    w = np.ones((2, 3))
    w[1, 2] = bad
    with pytest.raises(ValueError, match="`w`"):
        quantize_absmax(w, axis=axis)
    with pytest.raises(ValueError, match="`w`"):
        quantize_absmax(torch.from_numpy(w), axis=axis)
    with pytest.raises(ValueError, match="`w`"):
        quantization_error(w, axis=axis)


def test_bad_arguments_raise_spanish_errors():
    with pytest.raises(ValueError, match="dtype"):
        to_format(1.0, "int8")
    with pytest.raises(ValueError, match="bits"):
        quantize_absmax(np.ones(3), bits=16)
    with pytest.raises(ValueError, match="axis"):
        quantize_absmax(np.ones((2, 3)), axis=2)
    with pytest.raises(TypeError, match="w"):
        quantize_absmax("pesos")
    with pytest.raises(ValueError, match="bits"):
        quantize_model_weights_(tiny_gpt(), bits=1)
