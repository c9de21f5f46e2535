"""Pruebas de libroia.bahdanau: atención aditiva contra PyTorch escrito a mano."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from libroia.bahdanau import AdditiveAttention, additive_attention
from libroia.masks import padding_mask

TOL = {"rtol": 1e-5, "atol": 1e-5}


def test_additive_attention_matches_manual_torch():
    torch.manual_seed(2)
    att = AdditiveAttention(d_q=3, d_k=4, d_attn=5)
    q, k, v = torch.randn(2, 3, 3), torch.randn(2, 6, 4), torch.randn(2, 6, 2)
    mask = padding_mask(torch.tensor([6, 4]), 6)
    out, w = att(q, k, v, mask)
    e = torch.tanh((q @ att.w_q)[:, :, None] + (k @ att.w_k)[:, None]) @ att.w_score
    ref_w = torch.softmax(e.masked_fill(~mask, -math.inf), dim=-1)
    torch.testing.assert_close(w, ref_w, **TOL)
    torch.testing.assert_close(out, ref_w @ v, **TOL)
    # Misma función con NumPy; y v = k por omisión.
    params = [p.detach().numpy() for p in (att.w_q, att.w_k, att.w_score)]
    out_np, _ = additive_attention(q.numpy(), k.numpy(), v.numpy(), *params, mask.numpy())
    np.testing.assert_allclose(out_np, out.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert att(q, k)[0].shape == (2, 3, 4)


def test_additive_attention_gradcheck():
    rng = np.random.default_rng(4)
    args = [torch.from_numpy(rng.standard_normal(s)).requires_grad_()
            for s in [(2, 3), (4, 3), (4, 2), (3, 5), (3, 5), (5,)]]
    assert torch.autograd.gradcheck(lambda *a: additive_attention(*a), args)




def test_bad_additive_input():
    q, k, v = np.zeros((3, 2)), np.zeros((4, 3)), np.zeros((4, 2))
    w_q, w_k, w_s = np.zeros((2, 5)), np.zeros((3, 5)), np.zeros(5)
    with pytest.raises(ValueError, match=r"`w_q`.*\(2, d_attn\)"):
        additive_attention(q, k, v, np.zeros((3, 5)), w_k, w_s)
    with pytest.raises(ValueError, match=r"`w_k`.*d_attn = 5"):
        additive_attention(q, k, v, w_q, np.zeros((3, 4)), w_s)
    with pytest.raises(ValueError, match="`w_score`"):
        additive_attention(q, k, v, w_q, w_k, np.zeros((5, 1)))
    with pytest.raises(ValueError, match="`k` y `v`"):
        additive_attention(q, k, np.zeros((5, 2)), w_q, w_k, w_s)
    with pytest.raises(ValueError, match="`mask`"):
        additive_attention(q, k, v, w_q, w_k, w_s, np.ones((3, 5), bool))
    with pytest.raises(ValueError, match=r"`q`.*no finitos"):
        additive_attention(np.full((3, 2), np.nan), k, v, w_q, w_k, w_s)
    with pytest.raises(ValueError, match="`d_attn`"):
        AdditiveAttention(2, 3, 0)




def test_fully_masked_query_gives_zeros():
    q, k, v = np.ones((2, 2)), np.ones((3, 2)), np.arange(6.0).reshape(3, 2)
    mask = np.array([[True, False, True], [False, False, False]])
    out, w = additive_attention(q, k, v, np.ones((2, 4)), np.ones((2, 4)), np.ones(4), mask)
    np.testing.assert_allclose(w, [[0.5, 0.0, 0.5], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(out, [[2.0, 3.0], [0.0, 0.0]])
