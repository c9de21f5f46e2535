"""Pruebas de libroia.scaling: calculadoras contra módulos de PyTorch y cifras publicadas."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from libroia.gpt import GPT, GPTConfig
from libroia.scaling import (
    PUBLISHED_SHAPES,
    DecoderShape,
    chinchilla_optimal,
    count_flops,
    flops_per_token_breakdown,
    format_int,
    format_sci,
    forward_flops_per_token,
    n_params_decoder,
    params_breakdown,
    training_energy_kwh,
    training_flops,
    training_flops_per_token,
    training_gpu_hours,
)
from libroia.scaling_law import (
    chinchilla_loss,
)

LLAMA2_7B = PUBLISHED_SHAPES["Llama-2-7B"]
MIXTRAL = PUBLISHED_SHAPES["Mixtral-8x7B"]
GPT2 = PUBLISHED_SHAPES["GPT-2 (124M)"]


def numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())  # los compartidos, una vez


# --- modelos de referencia hechos con piezas de torch.nn --------------------------------------


class GPT2Like(nn.Module):
    """GPT-2 con ``nn.TransformerEncoderLayer`` (pre-norm, máscara causal, cabeza atada)."""

    def __init__(self, s: DecoderShape):
        super().__init__()
        self.tok = nn.Embedding(s.vocab_size, s.d_model)
        self.pos = nn.Embedding(s.context, s.d_model)
        layer = nn.TransformerEncoderLayer(
            s.d_model, s.n_heads, dim_feedforward=s.d_ff, dropout=0.0, activation="gelu",
            batch_first=True, norm_first=True,
        )
        self.blocks = nn.TransformerEncoder(layer, s.n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(s.d_model)
        self.head = nn.Linear(s.d_model, s.vocab_size, bias=False)
        self.head.weight = self.tok.weight

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        T = idx.shape[1]
        x = self.tok(idx) + self.pos(torch.arange(T))  # (N, T, d)
        mask = nn.Transformer.generate_square_subsequent_mask(T)  # (T, T)
        x = self.blocks(x, mask=mask, is_causal=True)  # (N, T, d)
        return self.head(self.norm(x))  # (N, T, V)


def llama_like(s: DecoderShape) -> nn.Module:
    """Bloques estilo Llama/Mixtral (RMSNorm, GQA, SwiGLU, expertos) solo para contar."""

    def linear(d_in: int, d_out: int) -> nn.Linear:
        return nn.Linear(d_in, d_out, bias=False)

    def expert() -> nn.Module:
        return nn.ModuleDict({"gate": linear(s.d_model, s.d_ff), "up": linear(s.d_model, s.d_ff),
                              "down": linear(s.d_ff, s.d_model)})

    def block() -> nn.Module:
        parts = {
            "attn_norm": nn.RMSNorm(s.d_model), "mlp_norm": nn.RMSNorm(s.d_model),
            "q": linear(s.d_model, s.d_model), "k": linear(s.d_model, s.d_kv),
            "v": linear(s.d_model, s.d_kv), "o": linear(s.d_model, s.d_model),
            "experts": nn.ModuleList(expert() for _ in range(s.n_experts)),
        }
        if s.n_experts > 1:
            parts["router"] = linear(s.d_model, s.n_experts)
        return nn.ModuleDict(parts)

    return nn.ModuleDict({
        "tok": nn.Embedding(s.vocab_size, s.d_model),
        "blocks": nn.ModuleList(block() for _ in range(s.n_layers)),
        "norm": nn.RMSNorm(s.d_model),
        "head": linear(s.d_model, s.vocab_size),
    })


# --- parámetros -------------------------------------------------------------------------------


def test_gpt2_small_full_depth_matches_torch_modules():
    with torch.device("meta"):  # 124 M parámetros sin reservar memoria
        model = GPT2Like(GPT2)
    assert numel(model) == n_params_decoder(GPT2) == 124_439_808


@pytest.mark.parametrize("n_layers", [1, 2])
def test_llama2_shapes_at_reduced_depth_match_torch_modules(n_layers):
    shape = LLAMA2_7B.with_layers(n_layers)
    with torch.device("meta"):
        model = llama_like(shape)
    assert numel(model) == n_params_decoder(shape)


def test_llama2_shapes_in_the_books_gpt_match_formula():
    shape = LLAMA2_7B.with_layers(1)
    with torch.device("meta"):
        model = GPT(shape.to_gpt_config())
    assert numel(model) == n_params_decoder(shape)
    assert model.parameter_counts() == params_breakdown(shape)


def test_published_totals():
    # Recuentos publicados (fichas de los modelos en Hugging Face).
    assert n_params_decoder(LLAMA2_7B) == 6_738_415_616
    assert n_params_decoder(PUBLISHED_SHAPES["Llama-2-70B"]) == 68_976_648_192
    assert n_params_decoder(PUBLISHED_SHAPES["Llama-3-8B"]) == 8_030_261_248
    assert n_params_decoder(PUBLISHED_SHAPES["GPT-3 (175B)"]) == pytest.approx(175e9, rel=0.01)
    # Mixtral: «46.7B parámetros en total, 12.9B activos por ficha».
    assert n_params_decoder(MIXTRAL) == pytest.approx(46.7e9, rel=1e-3)
    assert n_params_decoder(MIXTRAL, active_only=True) == pytest.approx(12.9e9, rel=5e-3)


def test_moe_total_and_active_match_torch_modules():
    shape = MIXTRAL.with_layers(1)
    with torch.device("meta"):
        model = llama_like(shape)
    assert numel(model) == n_params_decoder(shape)
    unused = sum(numel(e) for e in model["blocks"][0]["experts"][shape.experts_per_token:])
    assert numel(model) - unused == n_params_decoder(shape, active_only=True)
    assert n_params_decoder(shape, active_only=True) < n_params_decoder(shape)


def test_dense_model_active_equals_total():
    assert n_params_decoder(LLAMA2_7B, active_only=True) == n_params_decoder(LLAMA2_7B)


def test_without_embeddings_removes_embeddings_positions_and_head():
    parts = params_breakdown(GPT2)
    n = n_params_decoder(GPT2, include_embeddings=False)
    assert n == parts["attention"] + parts["mlp"] + parts["norms"]
    # Kaplan et al. (2020): N ≈ 12·L·d² sin incrustaciones (más sesgos y normas)
    assert n == pytest.approx(12 * GPT2.n_layers * GPT2.d_model**2, rel=0.01)


@settings(max_examples=30, deadline=None)
@given(
    d_head=st.sampled_from([2, 4, 8]),
    n_heads=st.integers(1, 4),
    n_layers=st.integers(1, 3),
    activation=st.sampled_from(["relu", "gelu", "silu", "swiglu"]),
    positions=st.sampled_from(["learned", "sinusoidal", "rope"]),
    norm=st.sampled_from(["layernorm", "rmsnorm"]),
    bias=st.booleans(),
    tie=st.booleans(),
)
def test_tiny_gpt_counts_match_formula(d_head, n_heads, n_layers, activation, positions, norm,
                                       bias, tie):
    config = GPTConfig(vocab_size=37, context=11, d_model=d_head * n_heads, n_heads=n_heads,
                       n_layers=n_layers, activation=activation, positions=positions, norm=norm,
                       bias=bias, tie_embeddings=tie)
    shape = DecoderShape.from_gpt_config(config)
    with torch.device("meta"):
        model = GPT(config)
    assert numel(model) == n_params_decoder(shape)
    assert model.parameter_counts() == params_breakdown(shape)


# --- FLOPs ------------------------------------------------------------------------------------


def forward_and_backward_flops(model: nn.Module, idx: torch.Tensor) -> tuple[int, int]:
    fwd = count_flops(lambda: model(idx))
    total = count_flops(lambda: model(idx).float().pow(2).mean().backward())
    return fwd, total


def test_flops_match_matmuls_of_torch_transformer():
    torch.manual_seed(0)
    shape = DecoderShape(d_model=32, n_layers=2, n_heads=4, vocab_size=50, context=16)
    N, T = 3, 16
    model = GPT2Like(shape)
    idx = torch.randint(0, shape.vocab_size, (N, T))
    with sdpa_kernel(SDPBackend.MATH):  # atención como productos de matrices que se cuentan
        fwd, total = forward_and_backward_flops(model, idx)
    assert fwd == N * T * forward_flops_per_token(shape, context=T)
    assert total == N * T * training_flops_per_token(shape, context=T)


@pytest.mark.parametrize("activation", ["gelu", "swiglu"])
def test_flops_match_matmuls_of_tiny_gpt(activation):
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=64, context=12, d_model=24, n_heads=3, n_layers=2,
                       activation=activation, mlp_hidden=40)
    shape = DecoderShape.from_gpt_config(config)
    N, T = 2, 12
    idx = torch.randint(0, config.vocab_size, (N, T))
    fwd, total = forward_and_backward_flops(GPT(config), idx)
    assert fwd == N * T * forward_flops_per_token(shape, context=T)
    assert total == 3 * fwd == N * T * training_flops_per_token(shape, context=T)


def test_flops_breakdown_is_2n_plus_attention():
    shape = replace(LLAMA2_7B, n_kv_heads=8)
    T = 4096
    parts = flops_per_token_breakdown(shape, context=T)
    no_emb = n_params_decoder(shape, include_embeddings=False) - params_breakdown(shape)["norms"]
    matmul_params = no_emb + shape.d_model * shape.vocab_size  # la cabeza sí multiplica
    attention = 4 * shape.n_layers * T * shape.d_model
    assert sum(parts.values()) == 2 * matmul_params + attention
    assert parts["attention_scores"] == parts["attention_values"]


def test_moe_flops_use_active_experts():
    dense = replace(MIXTRAL, n_experts=1, experts_per_token=1)
    moe = flops_per_token_breakdown(MIXTRAL, context=1)["mlp"]
    one = flops_per_token_breakdown(dense, context=1)["mlp"]
    router = 2 * MIXTRAL.n_layers * MIXTRAL.d_model * MIXTRAL.n_experts
    assert moe == 2 * one + router


def test_training_flops_6nd_and_gpt3():
    assert training_flops(2.0, 3.0) == 36.0
    # GPT-3 175B con 300 000 millones de fichas: 3.14e23 FLOPs (Brown et al. 2020, tabla D.1)
    assert training_flops(175e9, 300e9) == pytest.approx(3.14e23, rel=0.01)


# --- Chinchilla -------------------------------------------------------------------------------


def test_chinchilla_rule_recovers_published_model():
    n_params, n_tokens = chinchilla_optimal(5.76e23)  # presupuesto de Gopher y Chinchilla
    assert n_params == pytest.approx(70e9, rel=0.02)
    assert n_tokens == pytest.approx(1.4e12, rel=0.02)
    assert training_flops(70e9, 1.4e12) == pytest.approx(5.76e23, rel=0.03)


@settings(max_examples=40, deadline=None)
@given(c=st.floats(1e15, 1e27), r=st.floats(1.0, 200.0))
def test_chinchilla_optimal_spends_the_budget(c, r):
    n, d = chinchilla_optimal(c, tokens_per_param=r)
    assert training_flops(n, d) == pytest.approx(c, rel=1e-9)
    assert d / n == pytest.approx(r, rel=1e-9)


# --- leyes de potencia ------------------------------------------------------------------------


# --- barrido de tamaños del GPT del libro ---------------------------------------------------


# --- energía ----------------------------------------------------------------------------------


def test_gpu_hours_and_energy_by_hand():
    hours = training_gpu_hours(3.6e18, peak_flops_per_second=1e15, utilization=0.5)
    assert hours == pytest.approx(2.0)  # 3.6e18 / 5e14 = 7200 s
    assert training_energy_kwh(hours, watts_per_gpu=500, pue=1.5) == pytest.approx(1.5)


# --- argumentos erróneos ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"d_model": -4}, "d_model"),
        ({"n_layers": 0}, "n_layers"),
        ({"vocab_size": -1}, "vocab_size"),
        ({"d_model": 10, "n_heads": 4}, "d_model"),
        ({"n_kv_heads": 3}, "n_heads"),
        ({"n_kv_heads": 8}, "n_kv_heads"),
        ({"d_ff": 0}, "d_ff"),
        ({"activation": "tanh"}, "activation"),
        ({"positions": "alibi"}, "positions"),
        ({"norm": "batchnorm"}, "norm"),
        ({"n_experts": 2, "experts_per_token": 3}, "experts_per_token"),
    ],
)
def test_bad_shapes_raise_spanish_errors(kwargs, name):
    base = {"d_model": 8, "n_layers": 1, "n_heads": 4, "vocab_size": 10}
    with pytest.raises(ValueError, match=f"`{name}`"):
        DecoderShape(**{**base, **kwargs})


def test_bad_arguments_raise_spanish_errors():
    with pytest.raises(ValueError, match="compute_flops"):
        chinchilla_optimal(-1.0)
    with pytest.raises(ValueError, match="tokens_per_param"):
        chinchilla_optimal(1e20, tokens_per_param=0)
    with pytest.raises(ValueError, match="n_params"):
        training_flops(-5, 10)
    with pytest.raises(ValueError, match="n_tokens"):
        training_flops(5, 0)
    with pytest.raises(ValueError, match="context"):
        flops_per_token_breakdown(GPT2, context=0)
    with pytest.raises(TypeError, match="shape"):
        n_params_decoder({"d_model": 8})
    with pytest.raises(ValueError, match="n_kv_heads"):
        MIXTRAL.to_gpt_config()
    with pytest.raises(ValueError, match="n_params"):
        chinchilla_loss(-1.0, 1e9)
    with pytest.raises(ValueError, match="utilization"):
        training_gpu_hours(1e20, peak_flops_per_second=1e15, utilization=1.5)
    with pytest.raises(ValueError, match="pue"):
        training_energy_kwh(10, watts_per_gpu=700, pue=0.5)


# --- figuras ----------------------------------------------------------------------------------


def test_number_formatting():
    assert format_int(6738415616) == "6 738 415 616"
    assert format_sci(3.14e23) == "3.14 × 10²³"
    assert format_sci(1e19) == "1 × 10¹⁹"
    assert format_sci(9.999e5) == "1 × 10⁶"  # el redondeo sube el exponente
    assert format_sci(-2.5e-8, 1) == "-2.5 × 10⁻⁸"
