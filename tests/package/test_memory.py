"""Pruebas de libroia.memory: las calculadoras contra la memoria que PyTorch reserva de verdad."""

from __future__ import annotations

import copy
import os
from contextlib import nullcontext

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from libroia.gpt import GPT, GPTConfig, KVCache
from libroia.memory import (
    GIB,
    MIB,
    LoRALinear,
    SavedTensorsMeter,
    activation_bytes,
    allocate_under_limit,
    apply_lora,
    bytes_per_value,
    gradient_checkpointing,
    inference_memory_bytes,
    kv_cache_bytes,
    lora_n_params,
    measure_training_bytes,
    peak_allocated_bytes,
    training_memory_bytes,
    weights_bytes,
)
from libroia.quantization import quantize_absmax
from libroia.scaling import PUBLISHED_SHAPES, DecoderShape, n_params_decoder
from tests.package.test_scaling import GPT2Like

CONFIG = GPTConfig(vocab_size=64, context=16, d_model=32, n_heads=4, n_layers=2)
SHAPE = DecoderShape.from_gpt_config(CONFIG)
LLAMA2_7B = PUBLISHED_SHAPES["Llama-2-7B"]
TORCH_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def tiny_gpt(seed: int = 0, config: GPTConfig = CONFIG) -> GPT:
    torch.manual_seed(seed)
    return GPT(config).train()


def lm_loss(model: nn.Module, idx: torch.Tensor) -> torch.Tensor:
    logits = model(idx)  # (N, T, V)
    return F.cross_entropy(logits.flatten(0, 1).float(), idx.flatten())


def batch(n: int = 3, t: int = 16, vocab: int = CONFIG.vocab_size) -> torch.Tensor:
    return torch.randint(0, vocab, (n, t), generator=torch.Generator().manual_seed(1))


# --- pesos ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["fp32", "fp16", "bf16"])
def test_weights_bytes_match_model_in_each_format(fmt):
    model = tiny_gpt().to(TORCH_DTYPES[fmt])
    n = n_params_decoder(SHAPE)
    assert measure_training_bytes(model)["weights"] == weights_bytes(n, fmt)


def test_int8_weights_bytes_match_quantized_tensors():
    model = tiny_gpt()
    q_bytes = sum(quantize_absmax(p.detach(), bits=8)[0].nbytes for p in model.parameters())
    assert q_bytes == weights_bytes(n_params_decoder(SHAPE), "int8")


def test_bytes_per_value_table():
    assert [bytes_per_value(f) for f in ("fp32", "fp16", "bf16", "int8", "int4")] == [
        4, 2, 2, 1, 0.5]
    for fmt, dtype in TORCH_DTYPES.items():
        assert bytes_per_value(fmt) == torch.empty(0, dtype=dtype).element_size()
    assert weights_bytes(7e9, "int4") == 3.5e9


# --- caché KV ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "T", "N"), [("fp32", 16, 3), ("bf16", 9, 2)])
def test_kv_cache_bytes_match_the_gpts_cache(fmt, T, N):
    model = tiny_gpt().eval().to(TORCH_DTYPES[fmt])
    cache = KVCache(CONFIG.n_layers)
    with torch.no_grad():
        model(batch(N, T)[:, : T - 4], cache)  # el prefijo de una vez
        for t in range(T - 4, T):  # y cuatro tókenes más, uno a uno
            model(batch(N, T)[:, t : t + 1], cache)
    real = sum(k.nbytes + v.nbytes for k, v in zip(cache.keys, cache.values, strict=True))
    assert real == kv_cache_bytes(SHAPE, context=T, batch_size=N, dtype=fmt)


def test_kv_cache_with_grouped_query_attention_matches_allocated_tensors():
    shape = PUBLISHED_SHAPES["Llama-3-8B"]  # 32 cabezas de consulta, 8 de clave y valor
    N, T = 2, 8192
    with torch.device("meta"):  # la forma real a profundidad completa, sin memoria
        cache = [torch.empty(N, shape.n_kv_heads, T, shape.d_head, dtype=torch.bfloat16)
                 for _ in range(2 * shape.n_layers)]  # (N, h_kv, T, d_h): claves y valores
    assert sum(t.nbytes for t in cache) == kv_cache_bytes(shape, context=T, batch_size=N)
    full = DecoderShape(d_model=4096, n_layers=32, n_heads=32, vocab_size=128256)
    assert kv_cache_bytes(full, context=T) == 4 * kv_cache_bytes(shape, context=T)


def test_kv_cache_llama2_7b_by_hand():
    # 2 · 32 capas · 4096 fichas · 4096 de ancho · 2 bytes = 2 GiB
    assert kv_cache_bytes(LLAMA2_7B, context=4096, dtype="fp16") == 2 * GIB
    mem = inference_memory_bytes(LLAMA2_7B, context=4096, batch_size=8)
    assert mem == {"weights": 2 * 6_738_415_616, "kv_cache": 16 * GIB}


# --- entrenamiento ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "make", "optimizer"),
    [
        ("adam", lambda p: torch.optim.Adam(p, lr=1e-3), "adam"),
        ("adamw", lambda p: torch.optim.AdamW(p, lr=1e-3), "adam"),
        ("momentum", lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9), "momentum"),
        ("sgd", lambda p: torch.optim.SGD(p, lr=1e-3), "sgd"),
    ],
)
def test_fp32_training_bytes_match_optimizer_state(name, make, optimizer):
    model = tiny_gpt()
    opt = make(model.parameters())
    lm_loss(model, batch()).backward()
    opt.step()
    real = measure_training_bytes(model, opt)
    calc = training_memory_bytes(n_params_decoder(SHAPE), precision="fp32", optimizer=optimizer)
    assert real == {k: calc[k] for k in ("weights", "gradients", "optimizer")}
    assert calc["master_weights"] == 0


def test_mixed_precision_bytes_match_master_copy_and_bf16_model():
    master = tiny_gpt()  # copia maestra en FP32: la que actualiza Adam
    low = copy.deepcopy(master).to(torch.bfloat16)  # copia de trabajo en BF16
    opt = torch.optim.Adam(master.parameters(), lr=1e-3)
    lm_loss(low, batch()).backward()  # gradientes en BF16
    for p32, p16 in zip(master.parameters(), low.parameters(), strict=True):
        p32.grad = p16.grad.float()
    opt.step()
    calc = training_memory_bytes(n_params_decoder(SHAPE), precision="mixed")
    real_low = measure_training_bytes(low)
    assert real_low["weights"] == calc["weights"]
    assert real_low["gradients"] == calc["gradients"]
    assert measure_training_bytes(master)["weights"] == calc["master_weights"]
    assert measure_training_bytes(master, opt)["optimizer"] == calc["optimizer"]
    assert sum(v for k, v in calc.items() if k != "activations") == 16 * n_params_decoder(SHAPE)


def test_frozen_weights_in_int4_like_qlora():
    n, n_lora = 1000, 10
    calc = training_memory_bytes(n, n_trainable=n_lora, frozen_dtype="int4")
    assert calc["weights"] == 0.5 * (n - n_lora) + 2 * n_lora
    assert calc["gradients"] == 2 * n_lora and calc["optimizer"] == 8 * n_lora
    with pytest.raises(ValueError, match="frozen_dtype"):
        training_memory_bytes(n, frozen_dtype="int3")


def test_full_finetuning_of_7b_needs_16_bytes_per_parameter():
    calc = training_memory_bytes(n_params_decoder(LLAMA2_7B), precision="mixed")
    assert sum(calc.values()) / GIB == pytest.approx(100.4, abs=0.1)  # > 80 GiB de una A100


# --- activaciones -----------------------------------------------------------------------------


def saved_bytes(model: nn.Module, idx: torch.Tensor, *, checkpointing: bool = False) -> int:
    ctx = gradient_checkpointing(model.blocks) if checkpointing else nullcontext()
    with ctx, SavedTensorsMeter(exclude=[*model.parameters(), *model.buffers()]) as meter:
        loss = lm_loss(model, idx)
        measured = meter.bytes
    loss.backward()
    assert meter.bytes == 0  # la pasada hacia atrás lo libera todo
    return measured


def test_activation_estimate_matches_tiny_gpt():
    config = GPTConfig()  # el modelo del libro: d=64, L=2, h=4, V=1024
    shape = DecoderShape.from_gpt_config(config)
    N, T = 4, config.context
    real = saved_bytes(tiny_gpt(config=config), batch(N, T, config.vocab_size))
    est = activation_bytes(shape, context=T, batch_size=N, dtype="fp32", attention_matrices=3)
    assert real == pytest.approx(est, rel=0.02)


def test_activation_formula_has_the_exact_t_squared_term():
    """Lo que la fórmula no cuenta (medias y desviaciones de las normas, máximo y suma de
    cada fila de la softmax, índices) es lo mismo por token para cualquier N y T: el
    término h·T² por capa de la ecuación del capítulo 7 es exacto, no un ajuste."""
    config = GPTConfig()
    shape = DecoderShape.from_gpt_config(config)
    per_token = []
    for N, T in [(1, 16), (1, 64), (4, 32), (8, 8)]:
        real = saved_bytes(tiny_gpt(config=config), batch(N, T, config.vocab_size))
        est = activation_bytes(shape, context=T, batch_size=N, dtype="fp32",
                               attention_matrices=3)
        per_token.append((real - est) / (N * T))
    assert max(per_token) - min(per_token) < 0.5  # unos pocos bytes por llamada, no por token
    h, L = config.n_heads, config.n_layers
    # por capa: 2 normas × (media, 1/desviación) + h × (máximo, suma) en FP32 + 2 máscaras de
    # h booleanos; más la norma final y el índice del token (int64)
    assert min(per_token) == pytest.approx(L * (2 * 2 * 4 + 2 * h * 4 + 2 * h) + 2 * 4 + 8,
                                           abs=0.5)


@pytest.mark.parametrize(("backend", "matrices"), [(SDPBackend.MATH, 1),
                                                   (SDPBackend.FLASH_ATTENTION, 0)])
def test_activation_estimate_matches_torch_transformer(backend, matrices):
    config = GPTConfig()
    shape = DecoderShape.from_gpt_config(config)
    N, T = 4, config.context
    torch.manual_seed(0)
    with sdpa_kernel(backend):
        real = saved_bytes(GPT2Like(shape), batch(N, T, config.vocab_size))
    est = activation_bytes(shape, context=T, batch_size=N, dtype="fp32",
                           attention_matrices=matrices)
    assert real == pytest.approx(est, rel=0.12)  # es una estimación


def test_checkpointing_keeps_only_layer_inputs_and_same_gradients():
    config = GPTConfig(n_layers=3, d_model=64, n_heads=4, context=32)
    shape = DecoderShape.from_gpt_config(config)
    N, T = 2, 32
    idx = batch(N, T, config.vocab_size)
    grads = []
    for ck in (False, True):
        model = tiny_gpt(config=config)
        real = saved_bytes(model, idx, checkpointing=ck)
        grads.append([p.grad.clone() for p in model.parameters()])
    for g0, g1 in zip(*grads, strict=True):
        torch.testing.assert_close(g0, g1)
    est = activation_bytes(shape, context=T, batch_size=N, dtype="fp32", attention_matrices=3,
                           checkpointing=True)
    head = (2 * shape.d_model + shape.vocab_size) * 4 * T * N  # norma final, cabeza, pérdida
    one_layer = activation_bytes(shape.with_layers(1), context=T, batch_size=N, dtype="fp32",
                                 attention_matrices=3) - head
    assert real == pytest.approx(est - one_layer, rel=0.02)  # lo guardado; el resto se recalcula


def test_korthikanti_formula():
    s, b, h, a = 2048, 4, 1024, 16  # T, N, d, cabezas (Korthikanti et al. 2022, ec. 1)
    shape = DecoderShape(d_model=h, n_layers=1, n_heads=a, vocab_size=8)
    est = activation_bytes(shape, context=s, batch_size=b, dtype="fp16", dropout=True)
    head = (2 * h + 8) * 2 * s * b
    assert est - head == s * b * h * (34 + 5 * a * s / h)


# --- el asignador -----------------------------------------------------------------------------


def test_peak_sees_a_tensor_allocated_inside():
    kept = []
    assert peak_allocated_bytes(lambda: kept.append(torch.empty(3 * MIB, dtype=torch.uint8))) \
        == 3 * MIB
    assert peak_allocated_bytes(lambda: torch.zeros(1000, 1000)) >= 4 * 10**6


def test_peak_is_not_doubled_by_allocating_and_freeing_twice():
    def twice():
        for _ in range(2):
            block = torch.empty(2 * MIB, dtype=torch.uint8)
            del block

    def both_alive():
        a = torch.empty(2 * MIB, dtype=torch.uint8)
        b = torch.empty(2 * MIB, dtype=torch.uint8)
        del a, b

    assert peak_allocated_bytes(twice) == 2 * MIB
    assert peak_allocated_bytes(both_alive) == 4 * MIB


def test_peak_ignores_memory_allocated_before():
    old = [torch.empty(4 * MIB, dtype=torch.uint8)]

    def free_old_and_allocate():
        old.pop()
        return torch.empty(MIB, dtype=torch.uint8)

    assert peak_allocated_bytes(free_old_and_allocate) == MIB


def test_peak_of_a_training_step_is_activations_plus_loss_gradients():
    """Al empezar la pasada hacia atrás siguen vivas todas las activaciones y la pérdida crea
    dos tensores (N, T, V): el gradiente respecto de las log-probabilidades y el de los
    logits. Ese es el pico; los gradientes de los pesos llegan cuando ya se liberan."""
    config = GPTConfig()
    model = tiny_gpt(config=config)
    N, T = 4, config.context
    idx = batch(N, T, config.vocab_size)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        lm_loss(model, idx).backward()
        opt.step()

    step()
    opt.zero_grad()  # estado estable: pesos y Adam ya existen, sin gradientes
    peak = peak_allocated_bytes(step)
    grads = measure_training_bytes(model, opt)["gradients"]
    opt.zero_grad()
    saved = saved_bytes(model, idx)
    assert peak >= max(saved, grads)
    assert peak == pytest.approx(saved + 2 * N * T * config.vocab_size * 4, rel=0.01)


def test_peak_bad_arguments():
    with pytest.raises(TypeError, match="fn"):
        peak_allocated_bytes(42)
    with torch.profiler.profile(), pytest.raises(RuntimeError, match="perfilador"):
        peak_allocated_bytes(lambda: None)


def _children() -> list[int]:
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == me:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return found


def test_out_of_memory_is_real_and_small_requests_still_fit():
    before = _children()
    big, small, again = allocate_under_limit([GIB, 32 * MIB, 32 * MIB], free_bytes=256 * MIB)
    assert not big.succeeded
    assert big.error_type == "RuntimeError"
    assert "DefaultCPUAllocator" in big.message and str(GIB) in big.message
    assert small.succeeded and again.succeeded  # el límite es el mismo; lo pequeño cabe
    assert (big.requested_bytes, big.free_bytes) == (GIB, 256 * MIB)
    assert _children() == before  # no queda ningún proceso


def test_out_of_memory_depends_on_the_limit_not_on_the_machine():
    (fits,) = allocate_under_limit([GIB], free_bytes=2 * GIB)  # sin escribirlo: no ocupa RAM
    (fails,) = allocate_under_limit([GIB], free_bytes=512 * MIB)
    assert fits.succeeded and not fails.succeeded


def test_allocate_under_limit_bad_arguments():
    with pytest.raises(ValueError, match="sizes"):
        allocate_under_limit([], free_bytes=64 * MIB)
    with pytest.raises(TypeError, match="sizes"):
        allocate_under_limit(GIB, free_bytes=64 * MIB)
    with pytest.raises(ValueError, match="sizes"):
        allocate_under_limit([0], free_bytes=64 * MIB)
    with pytest.raises(ValueError, match="free_bytes"):
        allocate_under_limit([MIB], free_bytes=1000)
    with pytest.raises(ValueError, match="timeout"):
        allocate_under_limit([MIB], free_bytes=64 * MIB, timeout=0)


# --- LoRA -------------------------------------------------------------------------------------


def test_lora_count_matches_published_peft_number():
    # peft imprime para Llama-2-7B con r=8 en q_proj y v_proj:
    # «trainable params: 4,194,304 || all params: 6,742,609,920»
    n = lora_n_params(LLAMA2_7B, rank=8, targets=("q", "v"))
    assert n == 4_194_304
    assert n + n_params_decoder(LLAMA2_7B) == 6_742_609_920


def test_lora_on_llama_shapes_matches_torch_modules():
    shape = LLAMA2_7B.with_layers(2)
    with torch.device("meta"):
        model = GPT(shape.to_gpt_config())
        assert apply_lora(
            model, rank=16, targets=("q_proj", "k_proj", "v_proj", "out_proj", "up", "gate", "down")
        ) == 14
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == lora_n_params(
        shape, rank=16, targets=("q", "k", "v", "o", "up", "gate", "down")
    )


def test_lora_training_pays_only_for_adapters():
    model = tiny_gpt()
    before = model(batch()).detach()
    apply_lora(model, rank=4, targets=("q_proj", "k_proj", "v_proj", "out_proj"))
    torch.testing.assert_close(model(batch()), before)  # B = 0: al principio, el mismo modelo
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(trainable, lr=1e-2)
    lm_loss(model, batch()).backward()
    opt.step()
    n_lora = lora_n_params(SHAPE, rank=4, targets=("q", "k", "v", "o"))
    assert sum(p.numel() for p in trainable) == n_lora
    real = measure_training_bytes(model, opt)
    calc = training_memory_bytes(n_params_decoder(SHAPE) + n_lora, n_trainable=n_lora,
                                 precision="fp32")
    assert real == {k: calc[k] for k in ("weights", "gradients", "optimizer")}
    assert not torch.allclose(model(batch()), before)  # y el adaptador sí aprendió


def test_apply_lora_matches_exact_names_only():
    """``targets="qkv"`` adaptaba también ``q``, ``k`` y ``v`` (``"q" in "qkv"``)."""

    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.q, self.k, self.v, self.qkv = (nn.Linear(4, 4) for _ in range(4))

    model = Attn()
    with pytest.raises(TypeError, match=r"targets.*\('qkv',\)"):
        apply_lora(model, rank=2, targets="qkv")
    assert all(p.requires_grad for p in model.parameters())  # el modelo, intacto
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    assert apply_lora(model, rank=2, targets=("qkv",)) == 1
    assert [n for n, m in model.named_children() if isinstance(m, LoRALinear)] == ["qkv"]


@pytest.mark.parametrize("alpha", [0, -1.0, 0.0, float("nan")])
def test_lora_alpha_must_be_positive(alpha):
    model = tiny_gpt()
    with pytest.raises(ValueError, match="alpha"):
        apply_lora(model, rank=4, targets=("qkv",), alpha=alpha)
    assert all(p.requires_grad for p in model.parameters())  # sin tocar el modelo
    with pytest.raises(ValueError, match="alpha"):
        LoRALinear(nn.Linear(3, 3), rank=2, alpha=alpha)


def test_lora_alpha_scales_the_update():
    layer = LoRALinear(nn.Linear(3, 2), rank=4, alpha=8)
    assert layer.scale == 2.0
    assert LoRALinear(nn.Linear(3, 2), rank=4).scale == 1.0
    with torch.no_grad():
        layer.lora_B.fill_(1.0)
    x = torch.randn(5, 3)
    expected = layer.base(x) + 2.0 * x @ layer.lora_A.T @ layer.lora_B.T
    torch.testing.assert_close(layer(x), expected)


def test_docstrings_have_no_control_characters():
    """Un TAB se había colado en el LaTeX de un docstring (``\\text`` leído como ``\\t``)."""
    import inspect

    import libroia.memory as memory

    for name, obj in inspect.getmembers(memory):
        doc = getattr(obj, "__doc__", None)
        if getattr(obj, "__module__", None) == memory.__name__ and doc:
            assert not any(ord(ch) < 32 and ch != "\n" for ch in doc), name
    assert "\\text{bytes}" in activation_bytes.__doc__


# --- argumentos erróneos ----------------------------------------------------------------------


def test_bad_arguments_raise_spanish_errors():
    with pytest.raises(ValueError, match="dtype"):
        weights_bytes(10, "fp8")
    with pytest.raises(ValueError, match="n_params"):
        weights_bytes(-1, "fp16")
    with pytest.raises(ValueError, match="context"):
        kv_cache_bytes(SHAPE, context=0)
    with pytest.raises(ValueError, match="batch_size"):
        kv_cache_bytes(SHAPE, context=4, batch_size=-2)
    with pytest.raises(ValueError, match="kv_dtype"):
        inference_memory_bytes(SHAPE, context=4, kv_dtype="float")
    with pytest.raises(TypeError, match="shape"):
        kv_cache_bytes(CONFIG, context=4)
    with pytest.raises(ValueError, match="attention_matrices"):
        activation_bytes(SHAPE, context=4, batch_size=1, attention_matrices=-1)
    with pytest.raises(ValueError, match="precision"):
        training_memory_bytes(10, precision="fp8")
    with pytest.raises(ValueError, match="optimizer"):
        training_memory_bytes(10, optimizer="lion")
    with pytest.raises(ValueError, match="n_trainable"):
        training_memory_bytes(10, n_trainable=11)
    with pytest.raises(ValueError, match="rank"):
        lora_n_params(SHAPE, rank=0)
    with pytest.raises(ValueError, match="targets"):
        lora_n_params(SHAPE, rank=4, targets=("attention",))
    with pytest.raises(ValueError, match="targets"):
        apply_lora(tiny_gpt(), rank=4, targets=("nada",))
    with pytest.raises(TypeError, match="targets"):
        lora_n_params(SHAPE, rank=4, targets="qkv")
    with pytest.raises(ValueError, match="targets"):
        lora_n_params(SHAPE, rank=4, targets=())
    with pytest.raises(TypeError, match="base"):
        LoRALinear(nn.Conv1d(2, 2, 1), rank=2)
