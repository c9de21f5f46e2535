"""Pruebas del GPT diminuto (libroia.gpt), sus posiciones y activaciones, y su caché."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from libroia.activations import MLP, fit_curve, time_activations
from libroia.gpt import (
    GPT,
    GPTConfig,
    KVCache,
    complete,
    count_parameters_formula,
    head_patterns,
    make_optimizer,
    train_or_load,
    train_step,
)
from libroia.positions import apply_rotary, sinusoidal_positions

TINY = dict(vocab_size=50, context=12, d_model=16, n_layers=2, n_heads=2)


def tiny_model(seed: int = 0, **overrides) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(**{**TINY, **overrides})).eval()


def random_ids(N: int, T: int, V: int = 50, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, V, (N, T), generator=torch.Generator().manual_seed(seed))


VARIANTS = st.fixed_dictionaries({
    "positions": st.sampled_from(["learned", "sinusoidal", "rope"]),
    "activation": st.sampled_from(["relu", "gelu", "silu", "swiglu"]),
    "norm": st.sampled_from(["layernorm", "rmsnorm"]),
})  # fmt: skip


# --- causalidad --------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(variant=VARIANTS, t=st.integers(0, 10), seed=st.integers(0, 1000))
def test_changing_future_tokens_changes_no_earlier_logits(variant, t, seed):
    model = tiny_model(**variant)
    idx = random_ids(2, 12, seed=seed)
    changed = idx.clone()
    changed[:, t + 1 :] = (changed[:, t + 1 :] + 1 + seed % 7) % 50
    with torch.no_grad():
        a, b = model(idx), model(changed)
    torch.testing.assert_close(a[:, : t + 1], b[:, : t + 1])
    if t < 11:  # y el cambio sí se nota después: la prueba puede fallar
        assert not torch.allclose(a[:, t + 1 :], b[:, t + 1 :])


def test_attention_weights_are_causal_rows_of_probabilities():
    model = tiny_model()
    weights = model.attention_weights(random_ids(3, 9))
    assert len(weights) == 2
    for w in weights:
        assert w.shape == (3, 2, 9, 9)
        torch.testing.assert_close(w.sum(-1), torch.ones(3, 2, 9))
        assert torch.all(w.triu(diagonal=1) == 0)


# --- caché KV ----------------------------------------------------------------------------------


@pytest.mark.parametrize("positions", ["learned", "sinusoidal", "rope"])
def test_incremental_logits_with_cache_equal_full_forward(positions):
    model = tiny_model(positions=positions)
    idx = random_ids(2, 12, seed=1)
    with torch.no_grad():
        full = model(idx)  # (2, 12, V)
        cache = KVCache(model.config.n_layers)
        pieces = [model(idx[:, :5], cache)]
        pieces += [model(idx[:, t : t + 1], cache) for t in range(5, 12)]
    assert cache.length == 12
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("positions", ["learned", "rope"])
@pytest.mark.parametrize("max_new", [5, 30])  # 30 > contexto (12): la ventana se desliza
def test_generation_with_cache_equals_recomputation(positions, max_new):
    model = tiny_model(seed=3, positions=positions)
    idx = random_ids(2, 4, seed=2)
    fast = model.generate(idx, max_new, use_cache=True)
    slow = model.generate(idx, max_new, use_cache=False)
    assert fast.shape == (2, 4 + max_new)
    assert torch.equal(fast[:, :4], idx)
    assert torch.equal(fast, slow)


def test_generation_with_a_sampler_uses_its_choices():
    model = tiny_model()
    out = model.generate(random_ids(1, 3), 6, next_token=lambda lg: torch.full((1,), 7))
    assert out[0, 3:].tolist() == [7] * 6


def test_greedy_generation_follows_argmax_of_full_forward():
    model = tiny_model(seed=5)
    out = model.generate(random_ids(1, 3, seed=4), 4)
    with torch.no_grad():
        logits = model(out[:, :-1])  # (1, 6, V)
    assert torch.equal(logits[0, 2:].argmax(-1), out[0, 3:])


# --- entrenamiento -----------------------------------------------------------------------------


def test_one_training_step_lowers_the_loss_on_a_fixed_batch():
    model = tiny_model().train()
    chunk = random_ids(4, 13, seed=6)
    x, y = chunk[:, :-1], chunk[:, 1:]
    opt = make_optimizer(model, lr=1e-2)
    before = train_step(model, opt, x, y)
    with torch.no_grad():
        after = float(F.cross_entropy(model(x).flatten(0, 1), y.flatten()))
    assert before == pytest.approx(math.log(50), abs=0.1)  # al principio, casi uniforme
    assert after < before


SYNTHETIC = "\n\n".join(
    f"El gato número {i} duerme en la casa y la niña lee un libro de {i % 7} páginas."
    for i in range(60)
)
SMALL = GPTConfig(vocab_size=270, context=16, d_model=16, n_layers=1, n_heads=2, steps=6,
                  batch_size=4, lr=1e-2)  # fmt: skip


def test_cache_returns_identical_weights(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LIBROIA_CACHE", str(tmp_path))
    threads = torch.get_num_threads()
    first = train_or_load(SMALL, text=SYNTHETIC)
    assert torch.get_num_threads() == threads  # el entrenamiento no cambia los hilos globales
    printed = capsys.readouterr().out
    assert 1 <= printed.count("\n") <= 8  # unas pocas líneas de progreso, no una por paso
    second = train_or_load(SMALL, text=SYNTHETIC, progress=False)
    assert not first.from_cache and second.from_cache
    assert list((tmp_path / "gpt").glob("*.pt")) != []
    a, b = first.model.state_dict(), second.model.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert first.tokenizer == second.tokenizer
    assert first.history == second.history and first.val_loss == second.val_loss
    assert second.recorded_train_seconds == first.train_seconds
    assert not second.model.training
    text = complete(second, "El gato", 5)
    assert text.startswith("El gato")


def test_training_is_deterministic_and_the_key_depends_on_config_and_text(tmp_path, monkeypatch):
    monkeypatch.setenv("LIBROIA_CACHE", str(tmp_path))
    a = train_or_load(SMALL, text=SYNTHETIC, progress=False, use_cache=False)
    b = train_or_load(SMALL, text=SYNTHETIC, progress=False, use_cache=False)
    pairs = zip(a.model.parameters(), b.model.parameters(), strict=True)
    assert all(torch.equal(p, q) for p, q in pairs)
    other_seed = GPTConfig(**{**SMALL.__dict__, "seed": 1})
    c = train_or_load(other_seed, text=SYNTHETIC, progress=False, use_cache=False)
    d = train_or_load(SMALL, text=SYNTHETIC + " Fin.", progress=False, use_cache=False)
    assert len({a.key, c.key, d.key}) == 3
    assert not torch.equal(a.model.tok.weight, c.model.tok.weight)
    assert a.history["step"][0] == 0 and a.history["step"][-1] == SMALL.steps
    assert len(a.history["train_loss"]) == len(a.history["val_loss"]) == len(a.history["step"])


def test_train_or_load_rejects_short_text_and_small_vocab(tmp_path, monkeypatch):
    monkeypatch.setenv("LIBROIA_CACHE", str(tmp_path))
    with pytest.raises(ValueError, match="`text`"):
        train_or_load(SMALL, text="Hola.\n\nAdiós.", progress=False)
    with pytest.raises(ValueError, match="`vocab_size`"):
        train_or_load(GPTConfig(**{**SMALL.__dict__, "vocab_size": 100}), text=SYNTHETIC)
    with pytest.raises(TypeError, match="`text`"):
        train_or_load(SMALL, text=["no", "es", "texto"])


# --- parámetros --------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    variant=VARIANTS,
    d_head=st.sampled_from([2, 4, 6]),
    n_heads=st.integers(1, 3),
    n_layers=st.integers(1, 3),
    bias=st.booleans(),
    tie=st.booleans(),
    hidden=st.one_of(st.none(), st.integers(1, 20)),
)
def test_parameter_count_equals_formula(variant, d_head, n_heads, n_layers, bias, tie, hidden):
    config = GPTConfig(vocab_size=30, context=7, d_model=d_head * n_heads, n_heads=n_heads,
                       n_layers=n_layers, bias=bias, tie_embeddings=tie, mlp_hidden=hidden,
                       **variant)  # fmt: skip
    model = GPT(config)
    counts = model.parameter_counts()
    assert counts == count_parameters_formula(config)
    assert sum(counts.values()) == sum(p.numel() for p in model.parameters())


def test_published_models_built_on_meta_device_match_formula():
    llama2_7b = GPTConfig(vocab_size=32000, context=4096, d_model=4096, n_layers=32,
                          n_heads=32, activation="swiglu", mlp_hidden=11008, positions="rope",
                          norm="rmsnorm", bias=False, tie_embeddings=False)  # fmt: skip
    gpt2 = GPTConfig(vocab_size=50257, context=1024, d_model=768, n_layers=12, n_heads=12,
                     positions="learned", tie_embeddings=True)  # fmt: skip
    for config, published in ((llama2_7b, 6_738_415_616), (gpt2, 124_439_808)):
        assert sum(count_parameters_formula(config).values()) == published
        with torch.device("meta"):  # sin reservar memoria
            model = GPT(config)
        assert sum(p.numel() for p in model.parameters()) == published


# --- posiciones --------------------------------------------------------------------------------


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


# --- activaciones ------------------------------------------------------------------------------


def test_swiglu_mlp_matches_its_definition():
    torch.manual_seed(0)
    mlp = MLP(6, 10, "swiglu", bias=False)
    x = torch.randn(2, 3, 6)
    expected = (F.silu(x @ mlp.gate.weight.T) * (x @ mlp.up.weight.T)) @ mlp.down.weight.T
    torch.testing.assert_close(mlp(x), expected)


def test_any_nonlinearity_bends_the_curve_but_identity_cannot():
    x = torch.linspace(-3, 3, 64)
    y = torch.sin(2 * x)
    _, mse_linear = fit_curve(x, y, "identity", steps=400)
    _, mse_relu = fit_curve(x, y, "relu", steps=400)
    assert mse_linear > 0.3  # una recta no sigue a un seno
    assert mse_relu < 0.5 * mse_linear


def test_time_activations_reports_every_activation_and_its_parameters():
    out = time_activations(d=8, tokens=16, repeats=2)
    assert set(out) == {"relu", "gelu", "silu", "swiglu"}
    assert out["gelu"]["params"] == 2 * 8 * 32 + 32 + 8
    assert out["swiglu"]["params"] == 3 * 8 * 32 + 2 * 32 + 8
    assert all(v["activation_ms"] > 0 and v["mlp_ms"] > 0 for v in out.values())


# --- entradas incorrectas ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"d_model": 10, "n_heads": 4}, "d_model"),
        ({"activation": "tanh"}, "activation"),
        ({"positions": "absolutas"}, "positions"),
        ({"norm": "batchnorm"}, "norm"),
        ({"dropout": 1.0}, "dropout"),
        ({"context": 0}, "context"),
        ({"n_layers": 0}, "n_layers"),
        ({"lr": 0.0}, "lr"),
        ({"mlp_hidden": 0}, "mlp_hidden"),
        ({"positions": "rope", "d_model": 6, "n_heads": 2}, "rope"),
        ({"positions": "sinusoidal", "d_model": 9, "n_heads": 3}, "d_model"),
    ],
)
def test_bad_configs_raise_spanish_value_errors(overrides, name):
    with pytest.raises(ValueError, match=name):
        GPTConfig(**{**TINY, **overrides})


def test_bad_types_in_config_raise_type_errors():
    with pytest.raises(TypeError, match="`bias`"):
        GPTConfig(bias="sí")
    with pytest.raises(TypeError, match="`steps`"):
        GPTConfig(steps=10.5)
    with pytest.raises(TypeError, match="`config`"):
        GPT({"d_model": 16})


def test_bad_inputs_to_the_model_raise():
    model = tiny_model()
    with pytest.raises(ValueError, match="contexto"):
        model(random_ids(1, 13))
    with pytest.raises(ValueError, match=r"\[0, 50\)"):
        model(torch.tensor([[3, 50]]))
    with pytest.raises(TypeError, match="`idx`"):
        model(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="`idx`"):
        model(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="`next_token`"):
        model.generate(random_ids(2, 3), 2, next_token=lambda lg: lg.argmax())
    with pytest.raises(ValueError, match="`max_new_tokens`"):
        model.generate(random_ids(2, 3), -1)


def test_head_patterns_recognise_a_previous_token_head():
    T = 6
    prev = torch.zeros(1, 1, T, T)
    prev[0, 0, 0, 0] = 1.0
    prev[0, 0, torch.arange(1, T), torch.arange(T - 1)] = 1.0  # cada fila mira a la anterior
    first = torch.zeros(1, 1, T, T)
    first[..., 0] = 1.0
    out = head_patterns([torch.cat([prev, first], dim=1)])  # (L=1, h=2)
    torch.testing.assert_close(out["previous"], torch.tensor([[1.0, 0.0]]))
    torch.testing.assert_close(out["first"], torch.tensor([[0.0, 1.0]]))
    torch.testing.assert_close(out["self"], torch.tensor([[0.0, 0.0]]))
    torch.testing.assert_close(out["peak"], torch.tensor([[1.0, 1.0]]))
    uniform = torch.ones(T, T).tril() / torch.arange(1, T + 1)[:, None]  # (T, T)
    expected = torch.tensor([1 / (t + 1) for t in range(2, T)]).mean()
    torch.testing.assert_close(head_patterns([uniform[None, None]])["peak"][0, 0], expected)
    real = head_patterns(tiny_model().attention_weights(random_ids(2, 8)))
    assert real["previous"].shape == (2, 2)
    total = real["previous"] + real["self"] + real["first"]
    assert torch.all(total <= 1.0 + 1e-6)
    with pytest.raises(ValueError, match="`weights`"):
        head_patterns([torch.zeros(1, 1, 2, 2)])
