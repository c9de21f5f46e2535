"""Pruebas de libroia.rnn_train: la RNN de NumPy; RNN, GRU, LSTM y atención en PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from libroia import rnn_train, tasks
from libroia.positions import sinusoidal_positions

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
        rnn_train.RecurrentClassifier("transformer", 4, 2)
    with pytest.raises(ValueError, match="AttentionClassifier"):
        rnn_train.RecurrentClassifier("attention", 4, 2)
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


# --- GRU ----------------------------------------------------------------------------------


def test_gru_shapes_seed_and_update_bias():
    a = rnn_train.RecurrentClassifier("gru", 6, 3, d_h=5, forget_bias=2.0, seed=4)
    b = rnn_train.RecurrentClassifier("gru", 6, 3, d_h=5, forget_bias=2.0, seed=4)
    assert isinstance(a.recurrent, torch.nn.GRU)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    total_bias = a.recurrent.bias_ih_l0 + a.recurrent.bias_hh_l0  # bloques (r, z, n)
    torch.testing.assert_close(total_bias[5:10], torch.full((5,), 2.0))
    assert a(torch.zeros(2, 7, 6)).shape == (2, 3)
    # 3 bloques de pesos frente a 4: la GRU tiene 3/4 de los de la LSTM
    lstm = rnn_train.RecurrentClassifier("lstm", 6, 3, d_h=5)
    n_gru = sum(p.numel() for p in a.recurrent.parameters())
    n_lstm = sum(p.numel() for p in lstm.recurrent.parameters())
    assert 4 * n_gru == 3 * n_lstm


def test_gru_update_bias_means_keep_fraction():
    """Con sesgo b grande, z ≈ σ(b) ≈ 1 y el estado apenas cambia en un paso."""
    model = rnn_train.RecurrentClassifier("gru", 4, 2, d_h=8, forget_bias=12.0, seed=0)
    h0 = 2 * torch.rand(1, 2, 8) - 1  # estados en (-1, 1), como los de tanh
    x = torch.randn(2, 1, 4)
    _, h1 = model.recurrent(x, h0)
    torch.testing.assert_close(h1, h0, atol=1e-3, rtol=0)
    shut = rnn_train.RecurrentClassifier("gru", 4, 2, d_h=8, forget_bias=-12.0, seed=0)
    _, h1 = shut.recurrent(x, h0)  # z ≈ 0: el estado es el candidato, que no es h0
    assert (h1 - h0).abs().max() > 0.1


def test_gru_bad_args_and_inputs():
    with pytest.raises(TypeError, match="forget_bias"):
        rnn_train.RecurrentClassifier("gru", 4, 2, forget_bias="5")
    model = rnn_train.RecurrentClassifier("gru", 4, 2)
    with pytest.raises(ValueError, match=r"`x`.*n_inputs = 4"):
        model(torch.zeros(2, 3))
    with pytest.raises(TypeError, match="`x`"):
        model(np.zeros((2, 3, 4), dtype=np.float32))


def test_gru_update_bias_keeps_gradient_alive():
    tokens, y = tasks.first_token_batch(64, 40, rng=0)
    shut = rnn_train.RecurrentClassifier("gru", 8, 4, forget_bias=0.0, seed=0)
    open_ = rnn_train.RecurrentClassifier("gru", 8, 4, forget_bias=3.0, seed=0)
    g_shut = rnn_train.input_grad_norms(shut, tokens, y)
    g_open = rnn_train.input_grad_norms(open_, tokens, y)
    assert g_shut[0] / g_shut[-1] < 1e-5
    assert g_open[0] / g_open[-1] > 1e-2


def test_gru_training_reduces_loss():
    model = rnn_train.RecurrentClassifier("gru", 8, 4, d_h=16, seed=0)
    result = rnn_train.train_recall(model, T=3, steps=150, lr=0.01, n_test=500)
    assert result["loss"][-20:].mean() < 0.5 * result["loss"][:20].mean()
    assert result["accuracy"] > 0.95


# --- atención en la misma tarea -----------------------------------------------------------


def test_attention_classifier_shapes_seed_and_weights():
    a = rnn_train.AttentionClassifier(8, 4, d_h=16, n_heads=2, seed=1)
    b = rnn_train.AttentionClassifier(8, 4, d_h=16, n_heads=2, seed=1)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    x = torch.nn.functional.one_hot(torch.randint(0, 8, (3, 9)), 8).float()
    assert a(x).shape == (3, 4)
    w = a.last_weights(x)
    assert w.shape == (3, 2, 9)
    torch.testing.assert_close(w.sum(-1), torch.ones(3, 2))
    assert a.kind == "attention" and a.n_inputs == 8


def test_attention_classifier_bad_args():
    with pytest.raises(ValueError, match="d_h"):
        rnn_train.AttentionClassifier(8, 4, d_h=15)
    with pytest.raises(ValueError, match="d_h"):
        rnn_train.AttentionClassifier(8, 4, d_h=16, n_heads=3)
    with pytest.raises(ValueError, match="n_classes"):
        rnn_train.AttentionClassifier(8, 1)
    model = rnn_train.AttentionClassifier(8, 4, d_h=8)
    with pytest.raises(ValueError, match=r"`x`.*n_inputs = 8"):
        model(torch.zeros(2, 3, 5))


def test_attention_reads_position_zero_at_t40():
    """Con el presupuesto corto, la atención aprende a recordar tras 40 pasos.

    Un modelo sin acceso a la posición 0 no puede pasar del azar (25 %).
    """
    model = rnn_train.AttentionClassifier(8, 4, d_h=16, seed=0)
    result = rnn_train.train_recall(model, T=40, steps=200, lr=0.01, max_norm=1.0, n_test=500)
    assert result["accuracy"] > 0.95
    tokens, y = tasks.first_token_batch(128, 40, rng=1)
    x = torch.nn.functional.one_hot(torch.from_numpy(tokens), 8).float()
    assert model.last_weights(x)[:, 0, 0].mean() > 0.5  # la última posición mira la primera
    g = rnn_train.input_grad_norms(model, tokens, y)
    assert g[0] / g[-1] > 1e-1  # el gradiente llega vivo a la primera entrada


def test_recall_model_and_compare_recall_dispatch():
    assert isinstance(rnn_train.recall_model("attention", 8, 4, d_h=8),
                      rnn_train.AttentionClassifier)
    assert rnn_train.recall_model("gru", 8, 4, d_h=8).kind == "gru"
    with pytest.raises(ValueError, match="kind"):
        rnn_train.recall_model("cnn", 8, 4)
    out = rnn_train.compare_recall(
        {"att": {"kind": "attention"}, "gru": {"kind": "gru"}}, [3], [0], d_h=8, steps=3,
        n_test=10,
    )
    assert isinstance(out["models"]["att"][(3, 0)], rnn_train.AttentionClassifier)
    assert isinstance(out["models"]["gru"][(3, 0)], rnn_train.RecurrentClassifier)
    with pytest.raises(ValueError, match="kind"):
        rnn_train.compare_recall({"x": {"kind": "cnn"}}, [3], [0])
    with pytest.raises(ValueError, match="kind"):
        rnn_train.compare_recall({"x": {}}, [3], [0])
    with pytest.raises(ValueError, match="models"):
        rnn_train.compare_recall({}, [3], [0])
    with pytest.raises(ValueError, match="lengths"):
        rnn_train.compare_recall({"x": {"kind": "rnn"}}, [0], [0])


def test_train_recall_bad_args_and_sgd():
    with pytest.raises(TypeError, match="model"):
        rnn_train.train_recall(torch.nn.Linear(2, 2), T=3)
    model = rnn_train.RecurrentClassifier("rnn", 8, 4, d_h=8, seed=0)
    with pytest.raises(ValueError, match="optimizer"):
        rnn_train.train_recall(model, T=3, optimizer="adamw")
    with pytest.raises(ValueError, match="n_symbols"):
        rnn_train.train_recall(model, T=3, n_symbols=8)
    with pytest.raises(ValueError, match="batch"):
        rnn_train.train_recall(model, T=3, batch=0)
    before = [p.detach().clone() for p in model.parameters()]
    result = rnn_train.train_recall(model, T=3, steps=2, lr=0.1, optimizer="sgd", n_test=5)
    assert result["loss"].shape == (2,)
    assert any(not torch.equal(p, q) for p, q in zip(before, model.parameters(), strict=True))


def test_attention_classifier_equals_last_row_of_full_causal_attention():
    """Calcular solo la fila de la última posición da lo mismo que la capa entera."""
    model = rnn_train.AttentionClassifier(8, 4, d_h=16, n_heads=4, seed=2)
    x = torch.nn.functional.one_hot(torch.randint(0, 8, (5, 12)), 8).float()
    e = model.embed(x) + sinusoidal_positions(12, 16)
    full, weights = model.attention(e, causal=True)  # (N, T, d), (N, h, T, T)
    torch.testing.assert_close(model(x), model.readout(full[:, -1]))
    torch.testing.assert_close(model.last_weights(x), weights[:, :, -1])
