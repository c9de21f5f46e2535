"""Pruebas de libroia.rnn_train: la RNN de NumPy, y RNN y LSTM de PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from libroia import rnn_train, tasks

# --- la RNN de NumPy: explota sin recorte, se salva con recorte -------------------------------


def test_numpy_training_explodes_without_clipping_and_not_with_it():
    plain = rnn_train.train_numpy_rnn(T=30, steps=120, radius=2.0, lr=0.2, seed=0)
    clipped = rnn_train.train_numpy_rnn(T=30, steps=120, radius=2.0, lr=0.2, seed=0, max_norm=1.0)
    step = plain["first_nonfinite"]
    assert step is not None
    assert np.all(np.isnan(plain["loss"][step + 1 :]))
    assert np.nanmax(plain["grad_norm"]) > 1e6
    assert clipped["first_nonfinite"] is None
    assert np.all(np.isfinite(clipped["loss"]))
    assert clipped["loss"][-20:].mean() < 0.9  # aprende algo: predecir 0 da 1.0
    assert all(v.dtype == np.float32 for v in clipped["params"].values())


def test_numpy_training_is_reproducible():
    a = rnn_train.train_numpy_rnn(T=5, steps=5, seed=3, max_norm=1.0)
    b = rnn_train.train_numpy_rnn(T=5, steps=5, seed=3, max_norm=1.0)
    np.testing.assert_array_equal(a["loss"], b["loss"])


def test_numpy_training_bad_args():
    with pytest.raises(ValueError, match="max_norm"):
        rnn_train.train_numpy_rnn(max_norm=0.0)
    with pytest.raises(ValueError, match="lr"):
        rnn_train.train_numpy_rnn(lr=-1.0)


# --- RNN y LSTM de PyTorch --------------------------------------------------------------------


def test_classifier_shapes_seed_and_forget_bias():
    a = rnn_train.RecurrentClassifier("lstm", 6, 3, d_h=5, forget_bias=2.0, seed=4)
    b = rnn_train.RecurrentClassifier("lstm", 6, 3, d_h=5, forget_bias=2.0, seed=4)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    total_bias = a.recurrent.bias_ih_l0 + a.recurrent.bias_hh_l0
    torch.testing.assert_close(total_bias[5:10], torch.full((5,), 2.0))
    assert a(torch.zeros(2, 7, 6)).shape == (2, 3)


def test_classifier_bad_args():
    with pytest.raises(ValueError, match="kind"):
        rnn_train.RecurrentClassifier("gru", 4, 2)
    with pytest.raises(ValueError, match="forget_bias"):
        rnn_train.RecurrentClassifier("rnn", 4, 2, forget_bias=1.0)
    model = rnn_train.RecurrentClassifier("rnn", 4, 2)
    with pytest.raises(ValueError, match=r"`x`.*n_inputs = 4"):
        model(torch.zeros(2, 3, 5))


def test_input_grad_norms_match_autograd_and_leave_params_alone():
    model = rnn_train.RecurrentClassifier("rnn", 8, 4, d_h=6, seed=0)
    tokens, y = tasks.first_token_batch(5, 9, rng=0)
    norms = rnn_train.input_grad_norms(model, tokens, y)
    assert norms.shape == (9,)
    x = torch.nn.functional.one_hot(torch.from_numpy(tokens), 8).float().requires_grad_(True)
    torch.nn.functional.cross_entropy(model(x), torch.from_numpy(y)).backward()
    np.testing.assert_allclose(norms, x.grad.norm(dim=-1).mean(0).numpy(), rtol=1e-6)
    model.zero_grad(set_to_none=True)
    rnn_train.input_grad_norms(model, tokens, y)
    assert all(p.grad is None for p in model.parameters())
    with pytest.raises(ValueError, match="tokens"):
        rnn_train.input_grad_norms(model, tokens[0], y)
    negative = tokens.copy()
    negative[0, 0] = -1
    with pytest.raises(ValueError, match="tokens"):  # antes, error de one_hot en inglés
        rnn_train.input_grad_norms(model, negative, y)
    with pytest.raises(TypeError, match="tokens"):
        rnn_train.input_grad_norms(model, tokens.astype(float), y)
    with pytest.raises(ValueError, match="`y`"):
        rnn_train.input_grad_norms(model, tokens, y + 4)
    with pytest.raises(TypeError, match="tokens"):
        rnn_train.input_grad_norms(model, torch.from_numpy(tokens), y)


def test_lstm_forget_bias_keeps_gradient_alive():
    """Con f ≈ σ(3) ≈ 0.95 llega mucho más gradiente a la primera entrada que en la RNN."""
    tokens, y = tasks.first_token_batch(64, 40, rng=0)
    rnn = rnn_train.RecurrentClassifier("rnn", 8, 4, seed=0)
    lstm = rnn_train.RecurrentClassifier("lstm", 8, 4, forget_bias=3.0, seed=0)
    g_rnn = rnn_train.input_grad_norms(rnn, tokens, y)
    g_lstm = rnn_train.input_grad_norms(lstm, tokens, y)
    assert g_rnn[0] / g_rnn[-1] < 1e-6
    assert g_lstm[0] / g_lstm[-1] > 1e-2


def test_train_recall_learns_short_sequences():
    result = rnn_train.compare_recall(
        {"RNN": {"kind": "rnn"}}, [3], [0], steps=150, lr=0.01, d_h=16
    )
    assert result["accuracy"]["RNN"].shape == (1, 1)
    assert result["accuracy"]["RNN"][0, 0] > 0.95
    assert isinstance(result["models"]["RNN"][(3, 0)], rnn_train.RecurrentClassifier)
