"""Pruebas de libroia.masks: máscara causal (con desplazamiento de la caché) y de relleno."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from libroia.masks import causal_mask, padding_mask


def test_causal_mask():
    np.testing.assert_array_equal(causal_mask(4), np.tril(np.ones((4, 4), dtype=bool)))
    np.testing.assert_array_equal(causal_mask(2, 4), np.tril(np.ones((2, 4), dtype=bool)))
    # Con caché: 3 posiciones pasadas y 2 consultas nuevas en las posiciones 3 y 4.
    np.testing.assert_array_equal(
        causal_mask(2, 5, offset=3), np.tril(np.ones((2, 5), dtype=bool), k=3)
    )
    m = causal_mask(3, like=torch.zeros(1))
    assert isinstance(m, torch.Tensor) and m.dtype == torch.bool
    assert torch.equal(m, torch.ones(3, 3, dtype=torch.bool).tril())


def test_padding_mask():
    m = padding_mask([2, 0, 3], 3)
    assert m.shape == (3, 1, 3)
    np.testing.assert_array_equal(m[:, 0], [[1, 1, 0], [0, 0, 0], [1, 1, 1]])
    t = padding_mask(torch.tensor([1, 2]), 2)
    assert torch.equal(t, torch.tensor([[[True, False]], [[True, True]]]))




def test_bad_mask_helpers():
    with pytest.raises(ValueError, match=r"`lengths`.*entre 0 y T"):
        padding_mask([1, 4], 3)
    with pytest.raises(ValueError, match=r"`lengths`.*entre 0 y T"):
        padding_mask([-1, 2], 3)
    with pytest.raises(ValueError, match=r"`lengths`.*vector de enteros"):
        padding_mask(np.array([1.0, 2.0]), 3)
    with pytest.raises(ValueError, match=r"`lengths`.*vector de enteros"):
        padding_mask(np.ones((2, 2), np.int64), 3)
    with pytest.raises(TypeError, match="`lengths`"):
        padding_mask("12", 3)
    with pytest.raises(ValueError, match="`T`"):
        padding_mask([1], -1)
    with pytest.raises(ValueError, match="`T_q`"):
        causal_mask(-2)
    with pytest.raises(ValueError, match="`offset`"):
        causal_mask(2, 3, offset=-1)
    with pytest.raises(TypeError, match="`T_k`"):
        causal_mask(2, 2.5)




@settings(max_examples=40, deadline=None)
@given(T=st.integers(1, 8), extra=st.integers(0, 4), seed=st.integers(0, 99))
def test_causal_mask_is_what_pytorch_uses_for_is_causal(T, extra, seed):
    """``causal_mask(T_q, T_k)`` da la misma atención que ``is_causal=True`` de PyTorch."""
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(1, T, 4, generator=gen)
    k, v = (torch.randn(1, T + extra, 4, generator=gen) for _ in range(2))  # T_k ≥ T_q
    ours = F.scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(T, T + extra, like=q))
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(ours, ref)


@settings(max_examples=40, deadline=None)
@given(past=st.integers(0, 6), new=st.integers(1, 6))
def test_offset_mask_is_the_bottom_rows_of_the_full_mask(past, new):
    """Con ``T_pasado`` claves en la caché, las consultas nuevas son las últimas filas."""
    full = causal_mask(past + new)
    np.testing.assert_array_equal(causal_mask(new, past + new, offset=past), full[past:])
