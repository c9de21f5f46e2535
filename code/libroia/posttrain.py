"""Un posentrenamiento completo en miniatura: preentrenar, afinar, preferir, medir.

Sobre el mundo de juguete de :mod:`libroia.posttrain_data` y con el GPT del libro
(:class:`libroia.gpt.GPT`) en tamaño mínimo:

* :func:`train_lm` entrena con :func:`libroia.preference.sft_loss`: sirve para el
  preentrenamiento (cuentan todos los tokens) y para el afinado supervisado (solo
  los de la respuesta).
* :func:`train_dpo` aplica DPO con :func:`libroia.preference.dpo_loss`.
* :class:`RewardModel` y :func:`train_reward_model` entrenan un modelo de
  recompensa con la pérdida de Bradley–Terry; :func:`best_of_n_behaviour` lo usa
  para quedarse con la mejor de n respuestas (con :func:`libroia.decoding.best_of_n`).
* :func:`train_rlhf` optimiza la recompensa de ese modelo con una penalización KL
  por gradiente de política (REINFORCE), con :func:`libroia.preference.rlhf_loss`.
* :func:`answer_probabilities` (exacta) y :func:`behaviour` (muestreando respuestas
  con :func:`sample_answers`) miden qué hace el modelo ante preguntas sobre países
  que no vio en las demostraciones.

La log-probabilidad de una respuesta es :func:`libroia.decoding.sequence_log_prob`
con la máscara de la respuesta, y las probabilidades salen de
:func:`libroia.functional.softmax`: nada de eso se reescribe aquí.

Todo es determinista en CPU. Capítulo 8, «Posentrenamiento».
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from libroia._checks import check_float, check_int
from libroia.decoding import best_of_n, sequence_log_prob
from libroia.functional import softmax
from libroia.gpt import GPT, GPTConfig
from libroia.posttrain_data import (
    ANSWER,
    BOS,
    CATEGORIES,
    EOS,
    QUESTION,
    REFUSAL,
    T_MAX,
    PreferencePairs,
    Sequences,
    ToyWorld,
    pack,
)
from libroia.preference import bradley_terry_loss, dpo_loss, rlhf_loss, sft_loss

__all__ = [
    "RewardModel",
    "answer_probabilities",
    "behaviour",
    "best_of_n_behaviour",
    "completions",
    "fact_accuracy",
    "lm_loss",
    "new_model",
    "sample_answers",
    "train_dpo",
    "train_lm",
    "train_reward_model",
    "train_rlhf",
]


def new_model(world: ToyWorld, *, seed: int = 0) -> GPT:
    """Un GPT del libro en tamaño mínimo (2 capas, 4 cabezas, d = 48) para el mundo de juguete.

    >>> from libroia.posttrain_data import make_world
    >>> model = new_model(make_world())
    >>> model.config.n_layers, model.config.d_model, model.config.context
    (2, 48, 11)
    """
    torch.manual_seed(check_int("seed", seed, min_value=0))
    config = GPTConfig(
        vocab_size=len(world.vocab), context=T_MAX, d_model=48, n_layers=2, n_heads=4, seed=seed
    )
    return GPT(config)


def _response_log_prob(model: nn.Module, data: Sequences) -> torch.Tensor:
    """Log-probabilidad ``(N,)`` que ``model`` da a la respuesta de cada secuencia.

    Es :func:`libroia.decoding.sequence_log_prob` sobre los tokens de la respuesta.
    """
    logits = model(data.idx[:, :-1])  # (N, T, V)
    return sequence_log_prob(logits, data.idx[:, 1:], data.mask())  # (N,)


@torch.no_grad()
def lm_loss(model: nn.Module, data: Sequences) -> float:
    """Pérdida media (nats por token de respuesta) de ``model`` sobre ``data``; no lo modifica."""
    return sft_loss(model(data.idx[:, :-1]), data.idx[:, 1:], data.mask()).item()


@torch.no_grad()
def answer_probabilities(model: nn.Module, world: ToyWorld, countries=None) -> dict[str, float]:
    """Probabilidades exactas (sin muestrear), promediadas sobre las preguntas.

    ``correct``: P(«capital Y .» correcta y fin); ``refusal``: P(«no lo sé .» y fin);
    ``answer``, ``refuse`` y ``question``: probabilidad de que la respuesta empiece
    por «capital», por «no» o por «¿» (otra pregunta, como en el preentrenamiento).
    Por defecto pregunta por ``world.test_countries``.
    """
    countries = list(world.test_countries if countries is None else countries)
    prompts = [QUESTION.format(c=c) for c in countries]
    good = [ANSWER.format(c=c, k=world.capitals[c]) for c in countries]
    correct = pack(world, prompts, good, T_MAX)
    refusal = pack(world, prompts, [REFUSAL] * len(countries), T_MAX)
    p0 = int(correct.prompt_lengths[0])
    first = softmax(model(correct.idx[:, :p0])[:, -1], axis=-1).mean(dim=0)  # (V,)
    return {
        "correct": _response_log_prob(model, correct).exp().mean().item(),
        "refusal": _response_log_prob(model, refusal).exp().mean().item(),
        "answer": first[world.vocab.index("capital")].item(),
        "refuse": first[world.vocab.index("no")].item(),
        "question": first[world.vocab.index("¿")].item(),
    }


@torch.no_grad()
def fact_accuracy(model: nn.Module, world: ToyWorld, countries=None) -> float:
    """Fracción de países cuya capital es la continuación más probable de «<bos> X : capital».

    Mide si el dato está en el modelo, preguntado en el formato de las entradas de enciclopedia del
    preentrenamiento. Por defecto, sobre ``world.test_countries``.
    """
    countries = list(world.test_countries if countries is None else countries)
    prompts = torch.tensor([world.encode(f"{BOS} {c} : capital") for c in countries])
    best = model(prompts)[:, -1].argmax(dim=-1)  # (n,)
    truth = torch.tensor([world.vocab.index(world.capitals[c]) for c in countries])
    return (best == truth).float().mean().item()


def train_lm(
    model: nn.Module,
    data: Sequences,
    *,
    steps: int,
    lr: float = 3e-3,
    batch_size: int = 64,
    seed: int = 0,
) -> list[float]:
    """Entrena con :func:`sft_loss` (solo cuentan los tokens de la respuesta).

    Sirve para el preentrenamiento (``prompt_lengths`` = 1) y para el afinado
    supervisado. Devuelve la pérdida de cada paso.
    """
    batch_size = check_int("batch_size", batch_size, min_value=1)
    g = torch.Generator().manual_seed(check_int("seed", seed, min_value=0))

    def loss() -> torch.Tensor:
        batch = data.subset(torch.randint(0, len(data), (batch_size,), generator=g))
        return sft_loss(model(batch.idx[:, :-1]), batch.idx[:, 1:], batch.mask())

    return _optimise(model, loss, steps=steps, lr=lr)


def _optimise(
    model: nn.Module, loss: Callable[[], torch.Tensor], *, steps: int, lr: float
) -> list[float]:
    """``steps`` pasos de AdamW sobre ``loss()``; devuelve la pérdida de cada paso.

    El bucle común del preentrenamiento, el afinado, el modelo de recompensa y DPO:
    solo cambia la pérdida. Deja ``model`` en modo evaluación.
    """
    steps = check_int("steps", steps, min_value=1)
    opt = torch.optim.AdamW(model.parameters(), lr=check_float("lr", lr, min_value=0.0))
    model.train()
    history = []
    for _ in range(steps):
        value = loss()
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
        history.append(value.item())
    model.eval()
    return history


def train_dpo(
    policy: nn.Module,
    reference: nn.Module,
    pairs: PreferencePairs,
    *,
    beta: float = 0.1,
    steps: int = 30,
    lr: float = 1e-4,
) -> dict[str, list[float]]:
    """Ajusta ``policy`` con :func:`dpo_loss`; ``reference`` queda congelada.

    Devuelve, por paso, la pérdida, el margen medio de recompensa implícita y la
    fracción de parejas en que la elegida tiene más recompensa implícita.
    """
    steps = check_int("steps", steps, min_value=1)
    with torch.no_grad():
        ref_c, ref_r = (
            _response_log_prob(reference, pairs.chosen),
            _response_log_prob(reference, pairs.rejected),
        )
    history: dict[str, list[float]] = {"loss": [], "margin": [], "accuracy": []}

    def loss() -> torch.Tensor:
        pol_c = _response_log_prob(policy, pairs.chosen)  # (N,)
        pol_r = _response_log_prob(policy, pairs.rejected)  # (N,)
        margin = beta * ((pol_c - ref_c) - (pol_r - ref_r)).detach()  # (N,)
        history["margin"].append(margin.mean().item())
        history["accuracy"].append((margin > 0).float().mean().item())
        return dpo_loss(pol_c, pol_r, ref_c, ref_r, beta)

    history["loss"] = _optimise(policy, loss, steps=steps, lr=lr)
    return history


class RewardModel(nn.Module):
    """Modelo de recompensa: un GPT (copiado del afinado) y una cabeza lineal escalar.

    La recompensa de una secuencia es ``head(logits del último token real)``,
    ``(N, T+1) → (N,)``. Como los logits son lineales en el estado oculto, es una
    cabeza lineal sobre la representación del último token, como en InstructGPT.
    """

    def __init__(self, backbone: GPT):
        super().__init__()
        self.backbone = copy.deepcopy(backbone)
        self.head = nn.Linear(backbone.config.vocab_size, 1)

    def forward(self, data: Sequences) -> torch.Tensor:
        logits = self.backbone(data.idx[:, :-1])  # (N, T, V)
        last = logits[torch.arange(len(data)), data.lengths - 2]  # (N, V) predice <eos>
        return self.head(last).squeeze(-1)  # (N,)


def train_reward_model(
    model: RewardModel, pairs: PreferencePairs, *, steps: int = 40, lr: float = 1e-3
) -> list[float]:
    """Entrena ``model`` con :func:`bradley_terry_loss`; devuelve la pérdida de cada paso."""
    return _optimise(
        model,
        lambda: bradley_terry_loss(model(pairs.chosen), model(pairs.rejected)),
        steps=steps,
        lr=lr,
    )


@torch.no_grad()
def sample_answers(
    model: GPT,
    world: ToyWorld,
    countries,
    n_samples: int,
    *,
    seed: int = 0,
    max_new_tokens: int = 6,
) -> tuple[list[str], Sequences]:
    """Muestrea (temperatura 1) ``n_samples`` respuestas a «¿ capital de X ?» por país.

    Devuelve los países repetidos y las secuencias completas (lo que sigue a
    ``<eos>`` se convierte en relleno). Cada token se sortea con las
    probabilidades de :func:`libroia.functional.softmax` y un generador con semilla
    ``seed``: la misma llamada da las mismas respuestas.

    >>> from libroia.posttrain_data import make_world
    >>> world = make_world()
    >>> asked, data = sample_answers(new_model(world), world, ["perú", "chile"], 2)
    >>> asked, tuple(data.idx.shape)
    (['perú', 'perú', 'chile', 'chile'], (4, 12))
    """
    n_samples = check_int("n_samples", n_samples, min_value=1)
    g = torch.Generator().manual_seed(check_int("seed", seed, min_value=0))
    asked = [c for c in countries for _ in range(n_samples)]
    prompts = torch.tensor([world.encode(f"{BOS} " + QUESTION.format(c=c)) for c in asked])

    def pick(logits: torch.Tensor) -> torch.Tensor:  # (N, V) -> (N,), temperatura 1
        return torch.multinomial(softmax(logits, axis=-1), 1, generator=g)[:, 0]

    out = model.generate(prompts, max_new_tokens, next_token=pick)  # (N, T0 + new)
    is_eos = out == world.vocab.index(EOS)  # (N, T0 + new)
    is_eos[:, : prompts.shape[1]] = False
    seen = is_eos.cumsum(dim=1)
    after = (seen - is_eos.long()) > 0  # posiciones posteriores al primer <eos>
    out = out.masked_fill(after, 0)
    ended = seen[:, -1] > 0
    lengths = torch.where(ended, (~after).sum(dim=1), torch.tensor(out.shape[1]))
    p_len = torch.full((len(asked),), prompts.shape[1])
    return asked, Sequences(out, p_len, lengths)


def train_rlhf(
    policy: GPT,
    reference: GPT,
    reward_model: nn.Module,
    world: ToyWorld,
    *,
    beta: float = 1.0,
    steps: int = 40,
    batch_size: int = 8,
    group_size: int = 4,
    lr: float = 5e-4,
    seed: int = 0,
    countries=None,
) -> dict[str, list[float]]:
    """RLHF en miniatura: sube la recompensa de ``policy`` sin alejarla de ``reference``.

    Maximiza el objetivo de la ecuación ``eq-post-rlhf`` del capítulo 8 con el
    gradiente de política (REINFORCE, ecuación ``eq-post-reinforce``) de
    :func:`libroia.preference.rlhf_loss`. En cada paso:

    1. elige ``batch_size`` países de ``countries`` (por defecto
       ``world.demo_countries``; nunca los de prueba) y muestrea con
       :func:`sample_answers` ``group_size`` respuestas de ``policy`` a cada pregunta;
    2. ``reward_model`` puntúa cada respuesta y ``reference`` (congelada) da su
       log-probabilidad;
    3. la recompensa se penaliza con β·(log π − log π_ref), se le resta la media de
       las otras respuestas a la misma pregunta (línea de base «deja uno fuera») y
       un paso de AdamW sobre la pérdida de gradiente de política mueve ``policy``.

    Devuelve, por paso, ``reward`` (recompensa media del modelo de recompensa),
    ``kl`` (media de log π − log π_ref de las respuestas muestreadas: estima
    KL(π ‖ π_ref), en nats), ``loss`` y ``correct`` (fracción de respuestas
    muestreadas que dan la capital correcta: lo que de verdad queríamos, y que el
    modelo de recompensa solo aproxima). Determinista con ``seed``, en CPU. Los
    valores por defecto son los del capítulo (unos segundos en un núcleo).

    >>> from libroia.posttrain_data import make_world
    >>> world = make_world()
    >>> policy, reference = new_model(world, seed=1), new_model(world, seed=1)
    >>> class Short(nn.Module):  # recompensa de juguete: mejor cuanto más corta
    ...     def forward(self, data):
    ...         return -data.lengths.float()
    >>> history = train_rlhf(policy, reference, Short(), world, steps=2, batch_size=2)
    >>> sorted(history), len(history["kl"]), abs(history["kl"][0]) < 1e-5  # al empezar, π = π_ref
    (['correct', 'kl', 'loss', 'reward'], 2, True)
    """
    beta = check_float("beta", beta, min_value=0.0)
    batch_size = check_int("batch_size", batch_size, min_value=1)
    group_size = check_int("group_size", group_size, min_value=2)
    countries = list(world.demo_countries if countries is None else countries)
    if not countries:
        raise ValueError("`countries` debe contener al menos un país, pero está vacía")
    g = torch.Generator().manual_seed(check_int("seed", seed, min_value=0))
    history: dict[str, list[float]] = {"reward": [], "kl": [], "correct": []}

    def loss() -> torch.Tensor:
        rows = torch.randint(0, len(countries), (batch_size,), generator=g).tolist()
        step_seed = int(torch.randint(0, 2**31 - 1, (), generator=g))
        asked, data = sample_answers(
            policy, world, [countries[i] for i in rows], group_size, seed=step_seed
        )  # batch_size · group_size respuestas, agrupadas por pregunta
        logp = _response_log_prob(policy, data)  # (N,) con gradiente
        with torch.no_grad():
            ref_logp = _response_log_prob(reference, data)  # (N,)
            rewards = reward_model(data)  # (N,)
        cats = _categories(world, asked, data)
        history["reward"].append(rewards.mean().item())
        history["kl"].append((logp - ref_logp).mean().item())
        history["correct"].append(cats.count("correct") / len(cats))
        return rlhf_loss(logp, ref_logp, rewards, beta=beta, group_size=group_size)

    history["loss"] = _optimise(policy, loss, steps=steps, lr=lr)
    return history


def _categorise(world: ToyWorld, country: str, response: str) -> str:
    if response == ANSWER.format(c=country, k=world.capitals[country]):
        return "correct"
    if response.startswith("capital"):
        return "wrong"
    if response == REFUSAL:
        return "refusal"
    if response.startswith("¿"):
        return "question"
    return "other"


def _responses(world: ToyWorld, data: Sequences) -> list[str]:
    eos = world.vocab.index(EOS)
    return [
        world.decode([i for i in row[p:].tolist() if i != eos])
        for row, p in zip(data.idx, data.prompt_lengths.tolist(), strict=True)
    ]


def _categories(world: ToyWorld, asked: list[str], data: Sequences) -> list[str]:
    """Categoría de cada respuesta de ``data`` a la pregunta por el país ``asked[n]``."""
    return [_categorise(world, c, r) for c, r in zip(asked, _responses(world, data), strict=True)]


def completions(
    model: GPT, world: ToyWorld, country: str, n: int = 4, *, seed: int = 0
) -> list[str]:
    """``n`` respuestas muestreadas a «¿ capital de ``country`` ?», como texto."""
    _, data = sample_answers(model, world, [country], n, seed=seed)
    return _responses(world, data)


def behaviour(
    model: GPT, world: ToyWorld, countries=None, *, n_samples: int = 16, seed: int = 0
) -> dict[str, float]:
    """Fracción de respuestas muestreadas de cada categoría de :data:`CATEGORIES`.

    ``correct``: «capital Y .» con la Y correcta; ``wrong``: empieza igual pero
    equivoca la capital; ``refusal``: «no lo sé .»; ``question``:
    sigue con otra pregunta (lo que hacía en el preentrenamiento); ``other``: el
    resto. Por defecto pregunta por ``world.test_countries``.
    """
    countries = world.test_countries if countries is None else countries
    asked, data = sample_answers(model, world, countries, n_samples, seed=seed)
    cats = _categories(world, asked, data)
    return {k: cats.count(k) / len(cats) for k in CATEGORIES}


@torch.no_grad()
def best_of_n_behaviour(
    policy: GPT,
    reward_model: RewardModel,
    world: ToyWorld,
    n: int,
    countries=None,
    *,
    trials: int = 16,
    seed: int = 0,
) -> dict[str, float]:
    """Lo mismo que :func:`behaviour`, pero quedándose con la mejor de ``n`` respuestas.

    Para cada pregunta (repetida ``trials`` veces) se muestrean ``n`` respuestas, el
    modelo de recompensa puntúa cada una y :func:`libroia.decoding.best_of_n` se
    queda con la de mayor recompensa (en un empate, la primera). Con ``n = 1`` es
    :func:`behaviour` con ``n_samples = trials``.
    """
    n = check_int("n", n, min_value=1)
    countries = world.test_countries if countries is None else countries
    asked, data = sample_answers(policy, world, countries, trials * n, seed=seed)
    rewards = reward_model(data).view(-1, n)  # (preguntas · trials, n)
    rows = torch.arange(rewards.shape[0] * n).view(-1, n)  # (preguntas · trials, n)
    best = torch.tensor([best_of_n(r.tolist(), s)[0] for r, s in zip(rows, rewards, strict=True)])
    responses = _responses(world, data.subset(best))
    cats = [_categorise(world, asked[i], r) for i, r in zip(best.tolist(), responses, strict=True)]
    return {k: cats.count(k) / len(cats) for k in CATEGORIES}
