"""Pruebas de libroia.posttrain: entrenamiento y medidas del post-entrenamiento de juguete.

Los datos (libroia.posttrain_data) se prueban en ``test_posttrain_data.py``.
"""

import copy
import math

import pytest
import torch

from libroia import posttrain as pt
from libroia import posttrain_data as pdata
from libroia.decoding import sequence_log_prob, token_log_probs


@pytest.fixture(scope="module")
def world():
    return pdata.make_world()


@pytest.fixture(scope="module")
def small_model(world):
    """Un modelo brevemente preentrenado (pocos pasos: basta para las pruebas)."""
    model = pt.new_model(world, seed=0)
    pt.train_lm(model, pdata.pretraining_corpus(world, 200), steps=15, batch_size=16)
    return model


def test_response_log_prob_and_lm_loss_by_hand(world, small_model):
    data = pdata.preference_pairs(world).chosen
    logits = small_model(data.idx[:, :-1])
    lp = token_log_probs(logits, data.idx[:, 1:])
    expected = torch.stack([lp[n][data.mask()[n]].sum() for n in range(len(data))])
    torch.testing.assert_close(pt._response_log_prob(small_model, data), expected)
    got = sequence_log_prob(logits, data.idx[:, 1:], data.mask())
    torch.testing.assert_close(got, expected)
    mean = -(lp * data.mask()).sum() / data.mask().sum()
    assert pt.lm_loss(small_model, data) == pytest.approx(mean.item(), rel=1e-5)


def test_train_lm_lowers_the_loss_and_is_deterministic(world):
    corpus = pdata.pretraining_corpus(world, 200)
    runs = []
    for _ in range(2):
        model = pt.new_model(world, seed=1)
        runs.append(pt.train_lm(model, corpus, steps=20, batch_size=16, lr=5e-3))
    assert runs[0] == runs[1]
    assert sum(runs[0][-5:]) < sum(runs[0][:5])


def test_dpo_moves_the_policy_and_leaves_the_reference(world, small_model):
    pairs = pdata.preference_pairs(world)
    policy, reference = copy.deepcopy(small_model), copy.deepcopy(small_model)
    before = [p.clone() for p in reference.parameters()]
    history = pt.train_dpo(policy, reference, pairs, beta=0.1, lr=1e-3, steps=15)
    assert history["loss"][0] == pytest.approx(0.6931, abs=1e-3)  # π = π_ref al empezar
    assert history["loss"][-1] < history["loss"][0]
    assert history["accuracy"][-1] == 1.0 and history["margin"][-1] > 0
    for p, q in zip(reference.parameters(), before, strict=True):
        assert torch.equal(p, q)


def test_reward_model_learns_the_preference(world, small_model):
    pairs = pdata.preference_pairs(world)
    rm = pt.RewardModel(small_model)
    assert rm(pairs.chosen).shape == (len(pairs.chosen),)
    losses = pt.train_reward_model(rm, pairs, steps=15, lr=1e-3)
    assert losses[-1] < losses[0]
    with torch.no_grad():
        assert (rm(pairs.chosen) > rm(pairs.rejected)).all()
    # la copia no toca el modelo original
    pairs_of_params = zip(rm.backbone.parameters(), small_model.parameters(), strict=True)
    assert not any(p is q for p, q in pairs_of_params)


def test_sample_answers_pads_after_the_end(world, small_model):
    asked, data = pt.sample_answers(small_model, world, ["perú", "chile"], 3, seed=2)
    assert asked == ["perú"] * 3 + ["chile"] * 3
    assert data.idx.shape == (6, 6 + 6)
    eos = world.vocab.index(pdata.EOS)
    for row, length in zip(data.idx, data.lengths.tolist(), strict=True):
        assert (row[length:] == 0).all()
        if length < row.shape[0]:
            assert row[length - 1] == eos
    _, again = pt.sample_answers(small_model, world, ["perú", "chile"], 3, seed=2)
    assert torch.equal(data.idx, again.idx)


def test_behaviour_and_probabilities_are_consistent(world, small_model):
    rates = pt.behaviour(small_model, world, n_samples=4)
    assert set(rates) == set(pdata.CATEGORIES)
    assert sum(rates.values()) == pytest.approx(1.0)
    probs = pt.answer_probabilities(small_model, world)
    assert 0 <= probs["correct"] <= probs["answer"] <= 1
    assert 0 <= probs["refusal"] <= probs["refuse"] <= 1
    assert probs["answer"] + probs["refuse"] + probs["question"] <= 1 + 1e-6


def test_best_of_one_is_plain_sampling(world, small_model):
    rm = pt.RewardModel(small_model)
    plain = pt.behaviour(small_model, world, n_samples=5, seed=4)
    assert pt.best_of_n_behaviour(small_model, rm, world, 1, trials=5, seed=4) == plain


def test_best_of_n_keeps_the_highest_reward(world, small_model):
    """Contra un bucle directo: en cada grupo de n muestras gana la de más recompensa."""

    class LikesShort(torch.nn.Module):  # recompensa: menos fichas es mejor; hay empates
        def forward(self, data):
            return -data.lengths.double()  # (N,)

    rm, n, trials = LikesShort(), 4, 3
    got = pt.best_of_n_behaviour(small_model, rm, world, n, trials=trials, seed=1)
    asked, data = pt.sample_answers(small_model, world, world.test_countries, trials * n, seed=1)
    responses = pt._responses(world, data)
    rewards = rm(data).tolist()
    cats = []
    for start in range(0, len(asked), n):
        group = range(start, start + n)
        best = max(group, key=lambda i: (rewards[i], -i))  # en un empate, la primera
        assert all(rewards[best] >= rewards[i] for i in group)
        cats.append(pt._categorise(world, asked[best], responses[best]))
    assert got == {k: cats.count(k) / len(cats) for k in pdata.CATEGORIES}


class AnswersWell(torch.nn.Module):
    """Recompensa de reglas: 1 a «capital Y .» correcta, 0.5 a otra capital, 0 al resto."""

    def __init__(self, world):
        super().__init__()
        self.world = world

    def forward(self, data):
        asked = [self.world.vocab[i] for i in data.idx[:, 4].tolist()]  # <bos> ¿ capital de X ?
        scores = {"correct": 1.0, "wrong": 0.5}
        return torch.tensor([scores.get(c, 0.0) for c in pt._categories(self.world, asked, data)])


def test_rlhf_raises_the_reward_keeps_kl_finite_and_the_reference(world, small_model):
    rm = AnswersWell(world)
    policy, reference = copy.deepcopy(small_model), copy.deepcopy(small_model)
    before = [p.clone() for p in reference.parameters()]
    kwargs = {"beta": 0.05, "batch_size": 4, "group_size": 4, "lr": 3e-3, "seed": 0}
    history = pt.train_rlhf(policy, reference, rm, world, steps=15, **kwargs)
    assert set(history) == {"reward", "kl", "loss", "correct"}
    assert all(len(v) == 15 for v in history.values())
    assert history["kl"][0] == pytest.approx(0.0, abs=1e-5)  # al empezar, π = π_ref
    assert all(math.isfinite(x) for v in history.values() for x in v)

    def mean_reward(model):  # con muestras nuevas, en países que no se usaron al entrenar
        _, data = pt.sample_answers(model, world, world.test_countries, 8, seed=123)
        return rm(data).mean().item()

    assert mean_reward(policy) > mean_reward(reference) + 0.1
    assert sum(history["reward"][-5:]) > sum(history["reward"][:5])
    for p, q in zip(reference.parameters(), before, strict=True):
        assert torch.equal(p, q)
    # Determinista: la misma llamada da la misma historia (aquí, sus 3 primeros pasos).
    again = pt.train_rlhf(copy.deepcopy(small_model), reference, rm, world, steps=3, **kwargs)
    assert again == {k: v[:3] for k, v in history.items()}


def test_rlhf_with_a_flat_reward_has_nothing_to_learn(world, small_model):
    """Recompensa constante y β = 0: todas las ventajas son 0, y la pérdida también."""

    class Flat(torch.nn.Module):
        def forward(self, data):
            return torch.full((len(data),), 3.0)

    policy = copy.deepcopy(small_model)
    history = pt.train_rlhf(policy, small_model, Flat(), world, beta=0.0, steps=3, batch_size=2)
    assert history["loss"] == [0.0, 0.0, 0.0] and history["reward"] == [3.0, 3.0, 3.0]


def test_categories_by_hand(world):
    assert pt._categorise(world, "perú", "capital lima .") == "correct"
    assert pt._categorise(world, "perú", "capital quito .") == "wrong"
    assert pt._categorise(world, "perú", "no lo sé .") == "refusal"
    assert pt._categorise(world, "perú", "¿ capital de chile ?") == "question"
    assert pt._categorise(world, "perú", "lima") == "other"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda w: pt.train_lm(pt.new_model(w), pdata.sft_dataset(w), steps=0), "steps"),
        (lambda w: pt.train_lm(pt.new_model(w), pdata.sft_dataset(w), steps=1, batch_size=0),
         "batch_size"),
        (lambda w: pt.new_model(w, seed=-1), "seed"),
        (lambda w: pt.best_of_n_behaviour(None, None, w, 0), "n"),
        (lambda w: pt.sample_answers(None, w, ["perú"], 0), "n_samples"),
        (lambda w: pt.train_rlhf(None, None, None, w, beta=-1.0), "beta"),
        (lambda w: pt.train_rlhf(None, None, None, w, batch_size=0), "batch_size"),
        (lambda w: pt.train_rlhf(None, None, None, w, group_size=1), "group_size"),
        (lambda w: pt.train_rlhf(None, None, None, w, countries=[]), "countries"),
        (lambda w: pt.train_rlhf(None, None, None, w, seed=-1), "seed"),
        (lambda w: pt.train_rlhf(pt.new_model(w), pt.new_model(w), None, w, steps=0), "steps"),
        (lambda w: pt.train_rlhf(pt.new_model(w), pt.new_model(w), None, w, lr=-1.0), "lr"),
    ],
)
def test_bad_values_raise(world, call, match):
    with pytest.raises(ValueError, match=match):
        call(world)
