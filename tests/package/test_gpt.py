"""Pruebas del GPT diminuto (libroia.gpt): causalidad, caché KV, generación, equivalencia
con las ecuaciones escritas en PyTorch y entradas incorrectas."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from libroia.attention import MultiHeadAttention
from libroia.gpt import GPT, GPTConfig, KVCache
from tests.package.tiny_gpt import TINY, VARIANTS, random_ids, tiny_model

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


def test_cache_of_the_wrong_shape_is_rejected():
    model = tiny_model()
    idx = random_ids(2, 4)
    with pytest.raises(ValueError, match=r"`cache`.*3 capas.*n_layers = 2"):
        model(idx, KVCache(3))
    with pytest.raises(TypeError, match=r"`cache`.*KVCache.*list"):
        model(idx, [])
    cache = KVCache(2)
    with torch.no_grad():
        model(idx, cache)
        with pytest.raises(ValueError, match=r"`cache`.*N = 2.*N = 3"):
            model(random_ids(3, 1), cache)
    half = KVCache(2)
    half.update(0, *cache.keys[0:1], *cache.values[0:1])  # solo la capa 0
    with pytest.raises(ValueError, match=r"`cache`.*longitudes distintas.*\[4, 0\]"):
        model(random_ids(2, 1), half)
    other = tiny_model(d_model=24, n_heads=2)  # mismo L y N, otras cabezas: d_h = 12
    with pytest.raises(ValueError, match="`kv_cache`"):
        other(random_ids(2, 1), cache)
    with pytest.raises(ValueError, match="contexto"):
        model(random_ids(2, 9), cache)  # 4 en la caché + 9 > 12



# --- el modelo son las ecuaciones ---------------------------------------------------------------


def _reference_logits(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    """Las ecuaciones del capítulo 5 escritas con PyTorch a secas, con la capa Q, K, V
    fusionada de la primera edición (``attn.qkv``: una matriz ``(3d, d)``), RoPE como
    producto de números complejos y la atención de ``F.scaled_dot_product_attention``."""
    c = model.config
    N, T = idx.shape
    d, h, d_h = c.d_model, c.n_heads, c.d_head
    p = {name: t.detach() for name, t in model.named_parameters()}
    x = F.embedding(idx, p["tok.weight"])  # (N, T, d)
    if c.positions == "learned":
        x = x + p["pos.weight"][:T]
    elif c.positions == "sinusoidal":
        pos = torch.arange(T, dtype=torch.float64)[:, None]
        omega = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
        table = torch.stack([(pos * omega).sin(), (pos * omega).cos()], -1).reshape(T, d)
        x = x * math.sqrt(d) + table.float()

    def norm(x, prefix):
        if c.norm == "rmsnorm":
            return F.rms_norm(x, (d,), p[prefix + ".weight"], eps=1e-5)
        return F.layer_norm(x, (d,), p[prefix + ".weight"], p.get(prefix + ".bias"), eps=1e-5)

    def rope(t):  # (N, h, T, d_h): pares (2i, 2i+1) como números complejos
        omega = 10000.0 ** (-torch.arange(0, d_h, 2, dtype=torch.float64) / d_h)
        turn = torch.polar(torch.ones(T, d_h // 2, dtype=torch.float64),
                           torch.arange(T, dtype=torch.float64)[:, None] * omega)
        z = torch.view_as_complex(t.double().reshape(N, h, T, d_h // 2, 2).contiguous())
        return torch.view_as_real(z * turn).reshape(N, h, T, d_h).float()

    act = {"relu": F.relu, "gelu": F.gelu, "silu": F.silu, "swiglu": F.silu}[c.activation]
    for i in range(c.n_layers):
        b = f"blocks.{i}."
        w_qkv = torch.cat([p[b + f"attn.{n}_proj.weight"] for n in "qkv"])  # (3d, d)
        b_qkv = torch.cat([p[b + f"attn.{n}_proj.bias"] for n in "qkv"]) if c.bias else None
        q, k, v = F.linear(norm(x, b + "norm1"), w_qkv, b_qkv).split(d, dim=-1)
        q, k, v = (t.view(N, T, h, d_h).transpose(1, 2) for t in (q, k, v))  # (N, h, T, d_h)
        if c.positions == "rope":
            q, k = rope(q), rope(k)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (N, h, T, d_h)
        a = a.transpose(1, 2).reshape(N, T, d)
        x = x + F.linear(a, p[b + "attn.out_proj.weight"], p.get(b + "attn.out_proj.bias"))
        hmid = norm(x, b + "norm2")
        up = F.linear(hmid, p[b + "mlp.up.weight"], p.get(b + "mlp.up.bias"))
        if c.activation == "swiglu":
            gate = F.linear(hmid, p[b + "mlp.gate.weight"], p.get(b + "mlp.gate.bias"))
            inner = act(gate) * up
        else:
            inner = act(up)
        x = x + F.linear(inner, p[b + "mlp.down.weight"], p.get(b + "mlp.down.bias"))
    head = p["tok.weight"] if c.tie_embeddings else p["head.weight"]
    return F.linear(norm(x, "norm"), head)  # (N, T, V)


@settings(max_examples=25, deadline=None)
@given(variant=VARIANTS, bias=st.booleans(), tie=st.booleans(), seed=st.integers(0, 100))
def test_gpt_equals_the_equations_in_plain_pytorch(variant, bias, tie, seed):
    model = tiny_model(seed, bias=bias, tie_embeddings=tie, **variant)
    with torch.no_grad():  # pesos no triviales: normas y sesgos lejos de 1 y 0
        for t in model.parameters():
            t.add_(0.1 * torch.randn_like(t))
    idx = random_ids(3, 12, seed=seed)
    with torch.no_grad():
        torch.testing.assert_close(model(idx), _reference_logits(model, idx),
                                   rtol=1e-5, atol=1e-5)


def test_every_block_uses_the_attention_of_chapter_4():
    model = tiny_model()
    assert all(type(block.attn) is MultiHeadAttention for block in model.blocks)
    names = {n for n, _ in model.named_parameters() if n.startswith("blocks.0.attn.")}
    assert names == {f"blocks.0.attn.{p}_proj.{w}" for p in ("q", "k", "v", "out")
                     for w in ("weight", "bias")}


# --- parámetros --------------------------------------------------------------------------------


def test_published_models_built_on_meta_device_have_their_published_size():
    llama2_7b = GPTConfig(vocab_size=32000, context=4096, d_model=4096, n_layers=32,
                          n_heads=32, activation="swiglu", mlp_hidden=11008, positions="rope",
                          norm="rmsnorm", bias=False, tie_embeddings=False)  # fmt: skip
    gpt2 = GPTConfig(vocab_size=50257, context=1024, d_model=768, n_layers=12, n_heads=12,
                     positions="learned", tie_embeddings=True)  # fmt: skip
    for config, published in ((llama2_7b, 6_738_415_616), (gpt2, 124_439_808)):
        with torch.device("meta"):  # sin reservar memoria
            model = GPT(config)
        assert sum(p.numel() for p in model.parameters()) == published
        assert sum(model.parameter_counts().values()) == published


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


@pytest.mark.parametrize(
    ("pick", "error", "match"),
    [
        (lambda lg: lg.argmax(), ValueError, r"`next_token`.*\(2,\).*\(\)"),
        (lambda lg: lg.argmax(-1).tolist(), ValueError, r"`next_token`.*list"),
        (lambda lg: lg.argmax(-1).float(), TypeError, r"`next_token`.*enteros.*float32"),
        (lambda lg: lg.argmax(-1) > 0, TypeError, r"`next_token`.*torch.bool"),
        (lambda lg: torch.full((2,), 50), ValueError, r"`next_token`.*\[0, 50\).*50 a 50"),
        (lambda lg: torch.full((2,), -1), ValueError, r"`next_token`.*-1 a -1"),
    ],
)
def test_generate_rejects_what_next_token_returns(pick, error, match):
    model = tiny_model()
    with pytest.raises(error, match=match):
        model.generate(random_ids(2, 3), 2, next_token=pick)



def test_the_model_does_not_import_training_or_analysis():
    """``gpt_train`` y ``gpt_analysis`` están encima del modelo: importarlo no los carga."""
    import subprocess
    import sys

    code = ("import sys, libroia.gpt; "
            "print(sorted(m for m in sys.modules if m.startswith('libroia.gpt')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['libroia.gpt']"


def test_config_options_are_those_of_the_shape_calculator():
    from libroia import gpt, scaling
    from libroia.activations import MLP_ACTIVATIONS

    assert gpt.POSITIONS == scaling.POSITIONS and gpt.NORMS == scaling.NORMS
    assert MLP_ACTIVATIONS == scaling.ACTIVATIONS
