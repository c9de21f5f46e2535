"""Pruebas del post-entrenamiento de juguete: datos (posttrain_data) y entrenamiento (posttrain)."""

import copy

import pytest
import torch

from libroia import posttrain as pt
from libroia import posttrain_data as pdata
from libroia.preference import response_mask, token_logprobs


@pytest.fixture(scope="module")
def world():
    return pdata.make_world()


@pytest.fixture(scope="module")
def small_model(world):
    """Un modelo brevemente preentrenado (pocos pasos: basta para las pruebas)."""
    model = pt.new_model(world, seed=0)
    pt.train_lm(model, pdata.pretraining_corpus(world, 200), steps=15, batch_size=16)
    return model


def test_world_vocabulary_and_round_trip(world):
    assert len(set(world.vocab)) == len(world.vocab)
    assert world.vocab[0] == pdata.PAD
    assert not set(world.demo_countries) & set(world.test_countries)
    assert len(world.demo_countries) + len(world.test_countries) == len(world.capitals)
    text = "¿ capital de perú ? capital lima ."
    assert world.decode(world.encode(text)) == text
    with pytest.raises(ValueError, match="text"):
        world.encode("capital de atlántida")


def test_pack_lengths_and_mask(world):
    data = pdata.pack(world, ["¿ capital de perú ?"], ["capital lima ."], pdata.T_MAX)
    assert data.idx.shape == (1, pdata.T_MAX + 1)
    assert data.prompt_lengths.tolist() == [6] and data.lengths.tolist() == [10]
    mask = data.mask()
    torch.testing.assert_close(mask, response_mask(data.prompt_lengths, data.lengths, 11))
    targets = [world.vocab[i] for i in data.idx[0, 1:][mask[0]].tolist()]
    assert targets == ["capital", "lima", ".", pdata.EOS]  # solo la respuesta y su fin
    with pytest.raises(ValueError, match="no cabe"):
        pdata.pack(world, ["¿ capital de perú ?"] * 1, ["capital lima . " * 3], pdata.T_MAX)


def test_pretraining_corpus_is_seeded_and_covers_every_country(world):
    a, b = (
        pdata.pretraining_corpus(world, 300, seed=3),
        pdata.pretraining_corpus(world, 300, seed=3),
    )
    assert torch.equal(a.idx, b.idx)
    assert (a.prompt_lengths == 1).all() and (a.lengths <= pdata.T_MAX + 1).all()
    words = {world.vocab[i] for i in a.idx.flatten().tolist()}
    assert set(world.capitals) <= words and set(world.capitals.values()) <= words
    only_faq = pdata.pretraining_corpus(world, 20, faq=1.0)
    text = world.decode(only_faq.idx[0].tolist())
    assert text.startswith("<bos> ¿ capital de") and " ? capital " in text


def test_sft_dataset_fractions_and_replay(world):
    helpful = pdata.sft_dataset(world, copies=2, unhelpful=0.0)
    lazy = pdata.sft_dataset(world, copies=2, unhelpful=1.0)
    n = 2 * len(world.demo_countries)
    assert len(helpful) == len(lazy) == n
    first = world.vocab.index("capital"), world.vocab.index("no")
    assert (helpful.idx[torch.arange(n), helpful.prompt_lengths] == first[0]).all()
    assert (lazy.idx[torch.arange(n), lazy.prompt_lengths] == first[1]).all()
    corpus = pdata.pretraining_corpus(world, 200)
    mixed = pdata.sft_dataset(world, copies=2, replay=corpus)
    assert len(mixed) == 2 * n
    assert (mixed.prompt_lengths[n:] == 1).all()  # las entradas de enciclopedia cuentan enteras
    assert (mixed.idx[n:, 2] == world.vocab.index(":")).all()
    with pytest.raises(ValueError, match="replay"):
        pdata.sft_dataset(world, copies=50, replay=corpus)


def test_preference_pairs(world):
    pairs = pdata.preference_pairs(world)
    n = len(world.demo_countries)
    assert len(pairs.chosen) == len(pairs.rejected) == n
    assert torch.equal(pairs.chosen.prompt_lengths, pairs.rejected.prompt_lengths)
    text = world.decode(pairs.chosen.idx[0].tolist())
    assert text == f"<bos> ¿ capital de francia ? capital parís . {pdata.EOS}"
    assert world.decode(pairs.rejected.idx[0].tolist()).endswith("no lo sé . <eos>")
    both = pdata.preference_pairs(world, ["perú"], wrong_capitals=True)
    wrong = world.decode(both.rejected.idx[1].tolist())
    assert wrong.startswith("<bos> ¿ capital de perú ? capital") and "lima" not in wrong


def test_sequence_logprobs_and_lm_loss_by_hand(world, small_model):
    data = pdata.preference_pairs(world).chosen
    logits = small_model(data.idx[:, :-1])
    lp = token_logprobs(logits, data.idx[:, 1:])
    expected = torch.stack([lp[n][data.mask()[n]].sum() for n in range(len(data))])
    torch.testing.assert_close(pt.sequence_logprobs(small_model, data), expected)
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


def test_sample_pads_after_the_end(world, small_model):
    asked, data = pt.sample(small_model, world, ["perú", "chile"], 3, seed=2)
    assert asked == ["perú"] * 3 + ["chile"] * 3
    assert data.idx.shape == (6, 6 + 6)
    eos = world.vocab.index(pdata.EOS)
    for row, length in zip(data.idx, data.lengths.tolist(), strict=True):
        assert (row[length:] == 0).all()
        if length < row.shape[0]:
            assert row[length - 1] == eos
    _, again = pt.sample(small_model, world, ["perú", "chile"], 3, seed=2)
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
    assert pt.best_of_n(small_model, rm, world, 1, trials=5, seed=4) == plain


def test_categories_by_hand(world):
    assert pt._categorise(world, "perú", "capital lima .") == "correct"
    assert pt._categorise(world, "perú", "capital quito .") == "wrong"
    assert pt._categorise(world, "perú", "no lo sé .") == "refusal"
    assert pt._categorise(world, "perú", "¿ capital de chile ?") == "question"
    assert pt._categorise(world, "perú", "lima") == "other"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda w: pdata.make_world(0), "n_demo"),
        (lambda w: pdata.pretraining_corpus(w, 0), "n_docs"),
        (lambda w: pdata.pretraining_corpus(w, 10, faq=1.5), "faq"),
        (lambda w: pdata.sft_dataset(w, unhelpful=-0.1), "unhelpful"),
        (lambda w: pdata.sft_dataset(w, copies=0), "copies"),
        (lambda w: pt.train_lm(pt.new_model(w), pdata.sft_dataset(w), steps=0), "steps"),
        (lambda w: pt.best_of_n(None, None, w, 0), "n"),
        (lambda w: pt.sample(None, w, ["perú"], 0), "n_samples"),
    ],
)
def test_bad_values_raise(world, call, match):
    with pytest.raises(ValueError, match=match):
        call(world)
