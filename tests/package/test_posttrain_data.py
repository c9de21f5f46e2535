"""Pruebas de libroia.posttrain_data: el mundo de juguete y los datos de cada etapa."""

import pytest
import torch

from libroia import posttrain_data as pdata
from libroia.preference import response_mask


@pytest.fixture(scope="module")
def world():
    return pdata.make_world()


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


def test_decode_rejects_ids_outside_the_vocabulary(world):
    # antes, -1 devolvía la última palabra del vocabulario por indexación negativa
    V = len(world.vocab)
    with pytest.raises(ValueError, match="ids"):
        world.decode([-1])
    with pytest.raises(ValueError, match=f"< {V}"):
        world.decode([1, V])
    with pytest.raises(TypeError, match="ids"):
        world.decode([1.0, 2.0])
    with pytest.raises(TypeError, match="ids"):
        world.decode(torch.tensor([1.0]))
    assert world.decode(torch.tensor([1, 0, 0])) == pdata.BOS  # tensores enteros, sí
    assert world.decode([]) == ""


def test_encyclopedia_entries_are_only_entries(world):
    corpus = pdata.pretraining_corpus(world, 300, seed=2)
    entries = pdata.encyclopedia_entries(world, corpus)
    assert 0 < len(entries) < len(corpus)
    for row in entries.idx.tolist():
        words = world.decode(row).split()
        assert words[0] == pdata.BOS and words[1] in world.capitals and words[2] == ":"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda w: pdata.make_world(0), "n_demo"),
        (lambda w: pdata.make_world(24), "n_demo"),
        (lambda w: pdata.pretraining_corpus(w, 0), "n_docs"),
        (lambda w: pdata.pretraining_corpus(w, 10, faq=1.5), "faq"),
        (lambda w: pdata.sft_dataset(w, unhelpful=-0.1), "unhelpful"),
        (lambda w: pdata.sft_dataset(w, copies=0), "copies"),
        (lambda w: w.encode("capital de atlántida"), "text"),
    ],
)
def test_bad_values_raise(world, call, match):
    with pytest.raises(ValueError, match=match):
        call(world)
