"""Pruebas de libroia.gpt_train: paso de entrenamiento, caché de pesos y su clave."""

from __future__ import annotations

import itertools
import math
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import libroia
from libroia import gpt_train
from libroia.gpt import GPTConfig
from libroia.gpt_train import (
    complete,
    encode_prompt,
    lr_at,
    make_optimizer,
    train_or_load,
    train_step,
    training_modules,
    warmup_steps,
)
from tests.package.tiny_gpt import random_ids, tiny_model


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




# --- la tasa de aprendizaje: calentamiento lineal y coseno ------------------------------------


def torch_schedule(config: GPTConfig) -> list[float]:
    """Tasas de los pasos 0…S con los planificadores de PyTorch: LinearLR y luego coseno."""
    warmup = warmup_steps(config)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=config.lr)
    warm = torch.optim.lr_scheduler.LinearLR(
        opt, start_factor=1 / warmup, end_factor=1.0, total_iters=warmup - 1
    )
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, T_max=max(1, config.steps - warmup), eta_min=gpt_train.MIN_LR_FRACTION * config.lr
    )
    schedule = torch.optim.lr_scheduler.SequentialLR(opt, [warm, cosine], milestones=[warmup])
    rates = []
    for _ in range(config.steps + 1):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.step()
    return rates


@pytest.mark.parametrize("steps", [1, 2, 9, 10, 57, 300])
@pytest.mark.parametrize("lr", [1e-2, 3e-4])
def test_lr_at_matches_torch_schedulers(steps, lr):
    config = GPTConfig(steps=steps, lr=lr)
    ours = [lr_at(step, config) for step in range(steps + 1)]
    assert ours == pytest.approx(torch_schedule(config), rel=1e-9)


def test_lr_at_shape_of_the_schedule():
    config = GPTConfig()  # el del libro
    rates = [lr_at(s, config) for s in range(config.steps + 1)]
    warmup = warmup_steps(config)
    assert warmup == config.steps // 10
    # la tasa máxima se alcanza al final del calentamiento y el coseno arranca desde ella
    assert max(rates) == pytest.approx(config.lr)
    assert rates[warmup - 1] == pytest.approx(config.lr) == rates[warmup]
    assert all(a < b for a, b in itertools.pairwise(rates[:warmup]))
    assert all(a >= b for a, b in itertools.pairwise(rates[warmup:]))
    assert rates[-1] == pytest.approx(gpt_train.MIN_LR_FRACTION * config.lr)


def test_training_uses_lr_at_at_every_step(monkeypatch):
    seen = []
    original = gpt_train.train_step

    def spy(model, optimizer, x, y):
        seen.append({group["lr"] for group in optimizer.param_groups})
        return original(model, optimizer, x, y)

    monkeypatch.setattr(gpt_train, "train_step", spy)
    train_or_load(SMALL, text=SYNTHETIC, progress=False, use_cache=False)
    assert seen == [{lr} for lr in torch_schedule(SMALL)[: SMALL.steps]]


def test_lr_at_rejects_bad_arguments():
    config = GPTConfig(steps=10)
    with pytest.raises(ValueError, match=r"`step`.*≤ 10.*11"):
        lr_at(11, config)
    with pytest.raises(ValueError, match=r"`step`.*-1"):
        lr_at(-1, config)
    with pytest.raises(TypeError, match="`step`"):
        lr_at(1.5, config)
    with pytest.raises(TypeError, match=r"`config`.*dict"):
        lr_at(0, {"steps": 10})
    with pytest.raises(TypeError, match="`config`"):
        warmup_steps(None)



# --- el modelo vuelve listo para usar (fallo 1) --------------------------------------------------

DROPOUT = GPTConfig(**{**SMALL.__dict__, "dropout": 0.1, "steps": 5})


@pytest.mark.parametrize("use_cache", [False, True])
def test_trained_model_comes_back_in_eval_mode(tmp_path, monkeypatch, use_cache):
    monkeypatch.setenv("LIBROIA_CACHE", str(tmp_path))
    fresh = train_or_load(DROPOUT, text=SYNTHETIC, progress=False, use_cache=use_cache)
    assert not fresh.from_cache and not fresh.model.training
    assert not any(m.training for m in fresh.model.modules())
    idx = encode_prompt(fresh.tokenizer, "El gato")
    with torch.no_grad():  # con dropout activo, dos pasadas darían logits distintos
        assert torch.equal(fresh.model(idx), fresh.model(idx))
    if use_cache:
        cached = train_or_load(DROPOUT, text=SYNTHETIC, progress=False)
        assert cached.from_cache and not cached.model.training


@pytest.mark.parametrize("mode", [True, False])
def test_measuring_the_loss_keeps_the_mode(mode):
    model = tiny_model(dropout=0.1).train(mode)
    chunk = random_ids(2, 9, seed=1)
    loss = gpt_train._loss(model, chunk[:, :-1], chunk[:, 1:])
    assert model.training is mode
    assert loss == pytest.approx(math.log(50), abs=0.2)


# --- la clave de la caché (fallo 2) ------------------------------------------------------------


def test_cache_key_covers_what_training_executes():
    modules = training_modules()
    for name in ("gpt.py", "gpt_train.py", "attention.py", "masks.py", "_checks.py",
                 "_attention_checks.py", "functional.py", "positions.py", "activations.py",
                 "tokenizer.py", "corpus.py", "__init__.py"):
        assert name in modules, name
    assert "gpt_analysis.py" not in modules  # solo mira el modelo: no cambia los pesos
    assert not any(m.startswith(("plots/", "sphinx")) for m in modules)


def test_training_modules_follow_the_import_graph(tmp_path):
    root = tmp_path / "libroia"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "gpt_train.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from libroia.a import f\n"
        "if TYPE_CHECKING:\n    from libroia.solo_tipos import T\n"
        "def g():\n    import libroia.b\n"
    )
    (root / "a.py").write_text("from libroia import c\n")
    for name in ("b", "c", "solo_tipos", "ajeno"):
        (root / f"{name}.py").write_text("x = 1\n")
    assert training_modules(root) == ["__init__.py", "a.py", "b.py", "c.py", "gpt_train.py"]


def test_editing_any_training_module_changes_the_key(tmp_path):
    root = tmp_path / "libroia"
    shutil.copytree(Path(libroia.__file__).parent, root,
                    ignore=shutil.ignore_patterns("__pycache__"))
    before = gpt_train._sources_digest(root)
    assert gpt_train._sources_digest(root) == before
    for name in ("masks.py", "functional.py", "_checks.py", "attention.py"):
        path = root / name
        original = path.read_text()
        path.write_text(original + "\n# cambio\n")
        assert gpt_train._sources_digest(root) != before, name
        path.write_text(original)
    (root / "gpt_analysis.py").write_text("# otra cosa\n")
    assert gpt_train._sources_digest(root) == before


def test_encode_prompt_rejects_bad_text():
    with pytest.raises(ValueError, match=r"`text`.*no vacío"):
        encode_prompt(None, "")
    with pytest.raises(TypeError, match="`text`"):
        encode_prompt(None, 3)
