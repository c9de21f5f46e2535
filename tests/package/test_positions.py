"""Pruebas de libroia.positions: senoidales y RoPE, contra sus fórmulas y contra la
convención *rotate half* de Hugging Face."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from libroia.positions import apply_rotary, rotary_angles, rotate_pairs, sinusoidal_positions


def test_sinusoidal_positions_match_the_formula():
    pe = sinusoidal_positions(50, 8)
    p, i = 17, 3
    omega = 10000.0 ** (-2 * i / 8)
    assert pe.shape == (50, 8)
    assert pe[p, 2 * i].item() == pytest.approx(math.sin(p * omega), abs=1e-6)
    assert pe[p, 2 * i + 1].item() == pytest.approx(math.cos(p * omega), abs=1e-6)
    expected = torch.tensor([[0.0, 1.0], [math.sin(1), math.cos(1)]])
    torch.testing.assert_close(sinusoidal_positions(2, 2), expected)


def test_rotary_equals_complex_multiplication():
    x = torch.randn(2, 3, 5, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    pos = torch.arange(4, 9)
    omega = 10000.0 ** (-torch.arange(0, 8, 2, dtype=torch.float64) / 8)
    z = torch.view_as_complex(x.reshape(2, 3, 5, 4, 2).contiguous())
    rotated = z * torch.polar(torch.ones(5, 4, dtype=torch.float64), pos[:, None] * omega)
    expected = torch.view_as_real(rotated).reshape(2, 3, 5, 8)
    torch.testing.assert_close(apply_rotary(x, offset=4), expected)
    torch.testing.assert_close(apply_rotary(x, pos), expected)
    torch.testing.assert_close(apply_rotary(x).norm(dim=-1), x.norm(dim=-1))


@settings(max_examples=40, deadline=None)
@given(m=st.integers(0, 200), n=st.integers(0, 200), shift=st.integers(0, 500),
       seed=st.integers(0, 10_000))  # fmt: skip
def test_rotary_dot_product_depends_only_on_relative_position(m, n, shift, seed):
    gen = torch.Generator().manual_seed(seed)
    q, k = torch.randn(2, 1, 16, generator=gen, dtype=torch.float64)

    def score(a: int, b: int) -> float:
        qa = apply_rotary(q, torch.tensor([a]))
        kb = apply_rotary(k, torch.tensor([b]))
        return float((qa * kb).sum())

    assert score(m + shift, n + shift) == pytest.approx(score(m, n), abs=1e-9)


def test_positions_reject_bad_arguments():
    with pytest.raises(ValueError, match="`d`"):
        sinusoidal_positions(4, 5)
    with pytest.raises(ValueError, match="`x`"):
        apply_rotary(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="`positions`"):
        apply_rotary(torch.zeros(3, 4), torch.arange(2))
    with pytest.raises(TypeError, match="`x`"):
        apply_rotary([[1.0, 0.0]])




# --- RoPE: pares intercalados frente a «rotate half» ---------------------------------------------


def _interleaved_to_half(d: int) -> torch.Tensor:
    """La permutación documentada en ``apply_rotary``: primero las pares, luego las impares."""
    return torch.cat([torch.arange(0, d, 2), torch.arange(1, d, 2)])


def _rotate_half_rope(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """RoPE de Llama en Hugging Face, escrito a mano: la coordenada i gira con la i + d/2."""
    d = x.shape[-1]
    cos, sin = rotary_angles(positions, d)  # (T, d/2)
    cos, sin = torch.cat([cos, cos], -1), torch.cat([sin, sin], -1)  # (T, d)
    rotated = torch.cat([-x[..., d // 2 :], x[..., : d // 2]], dim=-1)
    return x * cos + rotated * sin


@pytest.mark.parametrize("d", [2, 8, 64])
def test_rope_equals_rotate_half_after_the_documented_permutation(d):
    gen = torch.Generator().manual_seed(d)
    x = torch.randn(2, 3, 7, d, generator=gen, dtype=torch.float64)  # (N, h, T, d_h)
    pos = torch.arange(5, 12)
    perm = _interleaved_to_half(d)
    ours = apply_rotary(x, pos)[..., perm]
    torch.testing.assert_close(ours, _rotate_half_rope(x[..., perm], pos))
    if d > 2:  # sin permutar, las convenciones no coinciden: la prueba puede fallar
        assert not torch.allclose(apply_rotary(x, pos), _rotate_half_rope(x, pos))


def test_rope_matches_hugging_face_llama():
    transformers = pytest.importorskip("transformers")
    from transformers.models.llama.modeling_llama import (
        LlamaRotaryEmbedding,
        apply_rotary_pos_emb,
    )

    transformers.logging.set_verbosity_error()
    h, d_h, T = 2, 16, 9
    config = transformers.LlamaConfig(hidden_size=h * d_h, num_attention_heads=h,
                                      num_key_value_heads=h, intermediate_size=8,
                                      num_hidden_layers=1, vocab_size=10)
    pos = torch.arange(3, 3 + T)
    cos, sin = LlamaRotaryEmbedding(config)(torch.zeros(1, T, d_h), pos[None])  # (1, T, d_h)
    gen = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 1, h, T, d_h, generator=gen, dtype=torch.float64)
    perm = _interleaved_to_half(d_h)
    q_hf, k_hf = apply_rotary_pos_emb(q[..., perm], k[..., perm], cos.double(), sin.double())
    torch.testing.assert_close(apply_rotary(q, pos)[..., perm], q_hf, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(apply_rotary(k, pos)[..., perm], k_hf, rtol=1e-6, atol=1e-6)


def test_rotate_pairs_is_the_last_step_of_apply_rotary():
    x = torch.randn(3, 6, 8, generator=torch.Generator().manual_seed(1))
    cos, sin = rotary_angles(torch.arange(2, 8), 8)
    torch.testing.assert_close(rotate_pairs(x, cos.float(), sin.float()), apply_rotary(x, offset=2))


# --- posiciones inválidas ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("positions", "error", "match"),
    [
        (torch.tensor([0.0, 1.0]), TypeError, r"`positions`.*enteros.*float32"),
        (torch.tensor([True, False]), TypeError, r"`positions`.*torch.bool"),
        (torch.tensor([[0, 1]]), ValueError, r"`positions`.*\(T,\).*\(1, 2\)"),
        (torch.tensor([0, -1]), ValueError, r"`positions`.*≥ 0.*-1"),
        ([0, 1.5], TypeError, r"`positions`.*1\.5"),
        ([0, -2], ValueError, r"`positions`.*≥ 0"),
        ("0123", TypeError, r"`positions`.*str"),
    ],
)
def test_rotary_angles_validate_positions(positions, error, match):
    with pytest.raises(error, match=match):
        rotary_angles(positions, 4)
    x = torch.zeros(len(positions) if not isinstance(positions, torch.Tensor)
                    else positions.shape[-1], 4)
    with pytest.raises(error, match=match):
        apply_rotary(x, positions)


def test_rotary_angles_accept_lists_and_ranges():
    expected = rotary_angles(torch.arange(3), 4)
    for positions in ([0, 1, 2], range(3)):
        got = rotary_angles(positions, 4)
        torch.testing.assert_close(got, expected)
    with pytest.raises(ValueError, match="`d`"):
        rotary_angles(torch.arange(3), 3)
    with pytest.raises(ValueError, match="`base`"):
        rotary_angles(torch.arange(3), 4, base=1.0)
