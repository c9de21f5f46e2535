"""Pruebas de libroia.evaluation: entropía cruzada, perplejidad, bits por carácter, calibración."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from libroia.evaluation import (
    bits_per_character,
    calibration_bins,
    cloze_consistency,
    cross_entropy,
    distinct_ngrams,
    expected_calibration_error,
    first_word,
    mean_log_prob,
    perplexity,
    sample_completions,
    score_text,
    token_predictions,
    unigram_cross_entropy,
)
from tests.package.tiny_gpt import tiny_language_model


def reference_ece(conf, correct, n_bins):
    """ECE de Guo et al. (2017) escrita de la forma más directa: un bucle por tramo."""
    conf, correct = np.asarray(conf, float), np.asarray(correct, float)
    total = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        inside = (conf > lo) & (conf <= hi) if b else (conf >= 0) & (conf <= hi)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - conf[inside].mean())
    return total


# --------------------------------------------------------------------------- entropía cruzada


def test_cross_entropy_matches_torch():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 7, 11, generator=g, dtype=torch.float64)
    targets = torch.randint(0, 11, (3, 7), generator=g)
    expected = F.cross_entropy(logits.reshape(-1, 11), targets.reshape(-1)).item()
    assert cross_entropy(logits, targets) == pytest.approx(expected, rel=1e-12)
    assert cross_entropy(logits.numpy(), targets.numpy()) == pytest.approx(expected, rel=1e-12)


def test_hand_values():
    # Cuatro tokens equiprobables: H = ln 4, perplejidad 4, 2 bits por token.
    h = cross_entropy(np.zeros((5, 4)), np.array([0, 1, 2, 3, 0]))
    assert h == pytest.approx(math.log(4))
    assert perplexity(h) == pytest.approx(4.0)
    assert bits_per_character(100.0, 50) == pytest.approx(100 / (50 * math.log(2)))
    assert bits_per_character(5 * h, 10) == pytest.approx(1.0)  # 10 bits en 10 caracteres


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), V=st.integers(2, 50))
def test_perplexity_bounds(seed, V):
    rng = np.random.default_rng(seed)
    logits, targets = rng.normal(size=(20, V)) * 3, rng.integers(0, V, size=20)
    h = cross_entropy(logits, targets)
    assert h >= 0 and perplexity(h) >= 1
    assert perplexity(cross_entropy(np.zeros((20, V)), targets)) == pytest.approx(V)


# --------------------------------------------------------------------------- calibración


def test_calibration_hand_example():
    bins = calibration_bins([0.9, 0.9, 0.2], [True, False, False], n_bins=2)
    np.testing.assert_allclose(bins.lower, [0.0, 0.5])
    np.testing.assert_allclose(bins.upper, [0.5, 1.0])
    np.testing.assert_allclose(bins.confidence, [0.2, 0.9])
    np.testing.assert_allclose(bins.accuracy, [0.0, 0.5])
    np.testing.assert_array_equal(bins.count, [1, 2])
    assert expected_calibration_error([0.9, 0.9, 0.2], [1, 0, 0], 2) == pytest.approx(1 / 3)


def test_bin_edges_and_empty_bins():
    bins = calibration_bins(np.array([0.0, 0.1, 0.1000001, 1.0]), np.array([1, 1, 0, 1]), 10)
    np.testing.assert_array_equal(bins.count, [2, 1, 0, 0, 0, 0, 0, 0, 0, 1])
    assert np.isnan(bins.accuracy[3]) and np.isnan(bins.confidence[3])


def test_exact_edges_go_to_the_bin_they_close():
    # Con B = 25, 0.28 · 25 = 7.000000000000001 en coma flotante: ceil(conf · B) - 1 la
    # mandaba a (0.28, 0.32]. Es el borde superior de (0.24, 0.28].
    bins = calibration_bins([0.28], [1], 25)
    assert bins.count.tolist().index(1) == 6
    assert bins.lower[6] < 0.28 <= bins.upper[6]


@pytest.mark.parametrize("n_bins", [1, 2, 3, 7, 10, 25, 49, 100])
@pytest.mark.parametrize("as_torch", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_edge_and_its_neighbours(n_bins, as_torch, dtype):
    """Cada borde b/B va al tramo b (el que cierra); sus vecinos en coma flotante, a su lado."""
    np_dtype = np.dtype(dtype)
    edges = (np.arange(n_bins + 1) / n_bins).astype(np_dtype)  # como los escribiría quien llama
    conf, expected = [], []
    for b in range(n_bins + 1):
        conf.append(edges[b])
        expected.append(max(b - 1, 0))  # (b-1)/B < b/B ≤ b/B; el 0 va al primero
        if 0 < b:
            conf.append(np.nextafter(edges[b], np_dtype.type(0)))  # justo debajo: mismo tramo
            expected.append(b - 1)
        if b < n_bins:
            conf.append(np.nextafter(edges[b], np_dtype.type(1)))  # justo encima: el siguiente
            expected.append(b)
    conf = np.array(conf, dtype=np_dtype)
    correct = np.ones(len(conf), dtype=bool)
    arr = (torch.tensor(conf), torch.tensor(correct)) if as_torch else (conf, correct)
    bins = calibration_bins(*arr, n_bins=n_bins)
    np.testing.assert_array_equal(
        np.asarray(bins.count), np.bincount(expected, minlength=n_bins)
    )
    # y lo que dice cada tramo cumple su propia definición (lower, upper]
    for b in range(n_bins):
        inside = [c for c, e in zip(conf.tolist(), expected, strict=True) if e == b]
        lower, upper = float(bins.lower[b]), float(bins.upper[b])
        assert all((lower < c or b == 0) and c <= np_dtype.type(upper) for c in inside)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), M=st.integers(1, 200), n_bins=st.integers(1, 20))
def test_ece_matches_reference_and_torch(seed, M, n_bins):
    rng = np.random.default_rng(seed)
    conf = rng.uniform(size=M)
    correct = rng.uniform(size=M) < conf
    expected = reference_ece(conf, correct, n_bins)
    assert expected_calibration_error(conf, correct, n_bins) == pytest.approx(expected, abs=1e-12)
    got = expected_calibration_error(torch.tensor(conf), torch.tensor(correct), n_bins)
    assert got == pytest.approx(expected, abs=1e-12)
    bins = calibration_bins(conf, correct, n_bins)
    assert int(bins.count.sum()) == M


def test_calibrated_and_overconfident_models():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.2, 1.0, size=50_000)
    honest = rng.uniform(size=conf.size) < conf  # acierta con la probabilidad que dice
    assert expected_calibration_error(conf, honest) < 0.01
    boastful = rng.uniform(size=conf.size) < conf - 0.15  # acierta 15 puntos menos
    assert expected_calibration_error(conf, boastful) == pytest.approx(0.15, abs=0.02)


# --------------------------------------------------------------------------- con un GPT diminuto

TEXT = (
    "El modelo aprende qué palabras suelen ir juntas. La verdad no aparece en el texto: "
    "solo la costumbre. Por eso un modelo de lenguaje puede sonar seguro y equivocarse. "
) * 8


@pytest.fixture(scope="module")
def tiny():
    return tiny_language_model(TEXT, context=16)


def test_token_predictions_match_cross_entropy(tiny):
    model, tok = tiny
    ids = torch.tensor(tok.encode(TEXT))
    preds = token_predictions(model, ids)
    T = 16
    M = (len(ids) - 1) // T
    x, y = ids[: M * T].view(M, T), ids[1 : M * T + 1].view(M, T)
    with torch.no_grad():
        logits = model(x).double()
    V = logits.shape[-1]
    expected = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1), reduction="none")
    torch.testing.assert_close(preds["nll"], expected)
    probs = logits.softmax(-1).reshape(-1, logits.shape[-1])
    torch.testing.assert_close(preds["confidence"], probs.max(-1).values)
    assert torch.equal(preds["correct"], probs.argmax(-1) == y.reshape(-1))


def test_score_text_units_agree(tiny):
    model, tok = tiny
    s = score_text(model, tok, TEXT)
    assert s.perplexity == pytest.approx(math.exp(s.nats_per_token))
    assert s.bits_per_token == pytest.approx(s.nats_per_token / math.log(2))
    total_bits = s.bits_per_token * s.n_tokens
    assert s.bits_per_character == pytest.approx(total_bits / s.n_characters)
    assert 0 < s.n_characters <= len(TEXT)


def test_sample_completions_reproducible(tiny):
    model, tok = tiny
    a = sample_completions(model, tok, "El modelo", 5, 4, seed=3, temperature=1.0, top_p=0.9)
    b = sample_completions(model, tok, "El modelo", 5, 4, seed=3, temperature=1.0, top_p=0.9)
    assert a == b and len(a) == 5
    greedy = sample_completions(model, tok, "El modelo", 3, 4, temperature=0)
    assert len(set(greedy)) == 1  # sin azar, siempre lo mismo


def test_cloze_consistency(tiny):
    model, tok = tiny
    out = cloze_consistency(model, tok, TEXT, n_questions=6, n_samples=4, context_tokens=8,
                            temperature=1.0)
    assert len(out.truth) == len(out.answer) == len(out.samples) == 6
    assert all(len(s) == 4 for s in out.samples)
    assert ((out.agreement >= 0.25) & (out.agreement <= 1)).all()
    np.testing.assert_array_equal(out.correct, [a == t for a, t in zip(out.answer, out.truth,
                                                                           strict=True)])
    for votes, answer, agreement in zip(out.samples, out.answer, out.agreement, strict=True):
        assert votes.count(answer) == max(votes.count(v) for v in votes) == agreement * 4
    again = cloze_consistency(model, tok, TEXT, n_questions=6, n_samples=4, context_tokens=8,
                              temperature=1.0)
    assert again.samples == out.samples  # misma semilla, mismas muestras


def test_mean_log_prob(tiny):
    model, tok = tiny
    text = "El modelo aprende."
    ids = torch.tensor(tok.encode(text))
    assert len(ids) <= 16
    with torch.no_grad():
        log_p = torch.log_softmax(model(ids[None, :-1]).double(), -1)[0]  # (T - 1, V)
    expected = log_p.gather(-1, ids[1:, None]).mean().item()
    assert mean_log_prob(model, tok, text) == pytest.approx(expected)
    assert mean_log_prob(model, tok, TEXT) < 0  # más largo que el contexto: se recorta
    with pytest.raises(ValueError, match="text"):
        mean_log_prob(model, tok, "E")


def test_small_helpers():
    assert distinct_ngrams([1, 2, 1, 2, 1], 2) == 0.5
    assert distinct_ngrams(torch.arange(10), 3) == 1.0
    # con el mismo número de apariciones de cada token, la línea base es ln V
    assert unigram_cross_entropy([0, 1, 2, 3] * 5, [3, 2, 1], 4) == pytest.approx(math.log(4))
    assert unigram_cross_entropy([0, 0, 0], [1], 2) == pytest.approx(-math.log(1 / 5))
    assert first_word("  ¿Atención, por favor?") == "atención"
    assert first_word("...") == ""


# --------------------------------------------------------------------------- entradas inválidas


def test_bad_inputs():
    with pytest.raises(ValueError, match="targets"):
        cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="targets"):
        cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(TypeError, match="targets"):
        cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="nats_per_token"):
        perplexity(-1.0)
    with pytest.raises(ValueError, match="n_characters"):
        bits_per_character(1.0, 0)
    with pytest.raises(TypeError, match="n_characters"):
        bits_per_character(1.0, 2.5)
    with pytest.raises(ValueError, match="confidence"):
        calibration_bins(np.array([0.5, 1.5]), np.array([1, 0]))
    with pytest.raises(ValueError, match="confidence"):
        calibration_bins(np.array([0.5, 0.5]), np.array([1, 0, 1]))
    with pytest.raises(ValueError, match="confidence"):
        calibration_bins(np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError, match="n_bins"):
        expected_calibration_error([0.5], [1], 0)
    with pytest.raises(ValueError, match="ids"):
        distinct_ngrams([1], 2)
    with pytest.raises(ValueError, match="val_ids"):
        unigram_cross_entropy([0, 1], [2], 2)
    with pytest.raises(ValueError, match="train_ids"):
        unigram_cross_entropy([], [1], 2)


@pytest.mark.parametrize(
    "bad", [[1, 0, 2], [0.5, 1.0, 0.0], [1.0, float("nan"), 0.0], [-1, 0, 1]]
)
def test_correct_must_be_zero_or_one(bad):
    with pytest.raises(ValueError, match="correct"):
        calibration_bins(np.array([0.2, 0.5, 0.9]), np.array(bad))
    with pytest.raises(ValueError, match="correct"):
        expected_calibration_error(torch.tensor([0.2, 0.5, 0.9]), torch.tensor(bad))


def test_correct_accepts_bools_and_zero_one_numbers():
    conf = np.array([0.2, 0.5, 0.9])
    as_bool = calibration_bins(conf, np.array([True, False, True]))
    for same in ([1, 0, 1], np.array([1.0, 0.0, 1.0]), np.array([1, 0, 1], dtype=np.int8)):
        np.testing.assert_array_equal(calibration_bins(conf, same).accuracy, as_bool.accuracy)
    with pytest.raises(TypeError, match="correct"):
        calibration_bins(conf, "101")
    with pytest.raises(TypeError, match="correct"):
        calibration_bins(conf, np.array(["1", "0", "1"]))


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: distinct_ngrams([1.0, 2.0, 3.0], 2), "ids"),
        (lambda: distinct_ngrams(np.array([1.5, 2.0, 3.0]), 2), "ids"),
        (lambda: distinct_ngrams(torch.tensor([1.0, 2.0]), 1), "ids"),
        (lambda: unigram_cross_entropy([0.0, 1.0], [1], 2), "train_ids"),
        (lambda: unigram_cross_entropy([0, 1], np.array([1.7]), 2), "val_ids"),
        (lambda: unigram_cross_entropy([0, 1], [True], 2), "val_ids"),
    ],
)
def test_float_ids_rejected(call, name):
    # antes se truncaban en silencio: 1.7 contaba como el token 1
    with pytest.raises(TypeError, match=name):
        call()


def test_negative_ids_rejected():
    with pytest.raises(ValueError, match="ids"):
        distinct_ngrams([1, -1, 2], 2)
    with pytest.raises(ValueError, match="val_ids"):
        unigram_cross_entropy([0, 1], [-1], 2)


def test_bad_model_inputs(tiny):
    model, tok = tiny
    with pytest.raises(ValueError, match="ids"):
        token_predictions(model, torch.arange(5))
    with pytest.raises(ValueError, match="temperature"):
        token_predictions(model, torch.arange(40), temperature=0)
    with pytest.raises(ValueError, match="text"):
        score_text(model, tok, "")
    with pytest.raises(ValueError, match="top_p"):
        sample_completions(model, tok, "El", 2, 2, top_p=2.0)
    with pytest.raises(ValueError, match="n_questions"):
        cloze_consistency(model, tok, "El modelo.", n_questions=3, context_tokens=8)
    with pytest.raises(ValueError, match="context_tokens"):
        cloze_consistency(model, tok, TEXT, context_tokens=100)


# --------------------------------------------------------------------------- hechos del mundo


from libroia import posttrain, posttrain_data  # noqa: E402
from libroia.evaluation import (  # noqa: E402
    Interval,
    bootstrap_interval,
    fact_probe,
    without_countries,
)


@pytest.fixture(scope="module")
def world():
    return posttrain_data.make_world()


class Scripted(torch.nn.Module):
    """Un «modelo» que en la posición t casi siempre predice ``script[t]`` (logit 40)."""

    def __init__(self, world, script):
        super().__init__()
        self.config = type("Config", (), {"vocab_size": len(world.vocab), "context": 11})
        self.ids = [world.vocab.index(w) for w in script]
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def forward(self, idx):
        N, T = idx.shape
        logits = torch.zeros(N, T, self.config.vocab_size)
        for t in range(T):
            logits[:, t, self.ids[min(t, len(self.ids) - 1)]] = 40.0
        return logits


# Tras «<bos> ¿ capital de X ?» (posiciones 0–5) el guion decide la respuesta.
PROMPT = ["¿", "capital", "de", "perú", "?"]


def test_without_countries_removes_exactly_those_pages(world):
    corpus = posttrain_data.pretraining_corpus(world, 400, seed=1)
    gone = ["kenia", "chile"]
    kept = without_countries(world, corpus, gone)
    banned = {"kenia", "nairobi", "chile", "santiago"}
    rows = [world.decode(r).split() for r in corpus.idx.tolist()]
    expected = [i for i, words in enumerate(rows) if not banned & set(words)]
    assert 0 < len(kept) < len(corpus)
    assert kept.idx.tolist() == corpus.idx[expected].tolist()
    assert kept.lengths.tolist() == corpus.lengths[expected].tolist()


def test_without_countries_bad_inputs(world):
    corpus = posttrain_data.pretraining_corpus(world, 20, seed=0)
    with pytest.raises(ValueError, match="countries"):
        without_countries(world, corpus, ["atlántida"])
    with pytest.raises(ValueError, match="countries"):
        without_countries(world, corpus, [])
    with pytest.raises(TypeError, match="countries"):
        without_countries(world, corpus, "kenia")
    with pytest.raises(TypeError, match="world"):
        without_countries({"kenia": "nairobi"}, corpus, ["kenia"])
    with pytest.raises(TypeError, match="corpus"):
        without_countries(world, corpus.idx, ["kenia"])


def test_fact_probe_matches_answer_probabilities(world):
    model = posttrain.new_model(world, seed=3)
    countries = ["kenia", "perú", "japón"]
    probe = fact_probe(model, world, countries)
    exact = posttrain.answer_probabilities(model, world, countries)
    assert probe.rates()["correct"] == pytest.approx(exact["correct"], rel=1e-5)
    assert probe.rates()["refusal"] == pytest.approx(exact["refusal"], rel=1e-5)
    total = probe.p_correct + probe.p_wrong + probe.p_refusal + probe.p_other
    np.testing.assert_allclose(total, 1.0, atol=1e-9)
    assert probe.truth == ("nairobi", "lima", "tokio")
    assert model.training  # un modelo recién creado está en modo entrenamiento, y así sigue


def test_fact_probe_step_by_step_reference(world):
    """P(«capital Y .» <eos>) como producto de softmax token a token: la misma cifra."""
    model = posttrain.new_model(world, seed=5)
    probe = fact_probe(model, world, ["grecia"])
    capitals = list(world.capitals.values())
    with torch.no_grad():
        def prob(response):
            ids = world.encode("<bos> ¿ capital de grecia ? " + response + " <eos>")
            p_next = torch.softmax(model(torch.tensor([ids[:-1]]))[0].double(), -1)  # (T, V)
            return math.prod(float(p_next[t - 1, ids[t]]) for t in range(6, len(ids)))
        each = np.array([prob(f"capital {k} .") for k in capitals])
        refusal = prob("no lo sé .")
    assert probe.p_correct[0] == pytest.approx(each[capitals.index("atenas")], rel=1e-4)
    assert probe.p_wrong[0] == pytest.approx(each.sum() - probe.p_correct[0], rel=1e-4)
    assert probe.p_refusal[0] == pytest.approx(refusal, rel=1e-4)
    assert probe.answer[0] == capitals[int(each.argmax())]
    assert probe.confidence[0] == pytest.approx(each.max() / each.sum(), rel=1e-4)


@pytest.mark.parametrize(
    ("script", "rates", "answer", "correct"),
    [
        (["capital", "lima", ".", "<eos>"], {"correct": 0.5, "wrong": 0.5}, "lima", [True, False]),
        (["no", "lo", "sé", ".", "<eos>"], {"refusal": 1.0}, None, None),
        (["¿", "capital", "de"], {"other": 1.0}, None, None),
    ],
)
def test_fact_probe_scripted_answers(world, script, rates, answer, correct):
    model = Scripted(world, [*PROMPT, *script])  # la posición t predice el token t + 1
    probe = fact_probe(model, world, ["perú", "kenia"])
    got = probe.rates()
    for key in ("correct", "wrong", "refusal", "other"):
        assert got[key] == pytest.approx(rates.get(key, 0.0), abs=1e-6), key
    if answer is not None:
        assert probe.answer == (answer, answer)
        assert probe.correct.tolist() == correct
        np.testing.assert_allclose(probe.confidence, 1.0, atol=1e-6)


def test_fact_probe_bad_inputs(world):
    model = posttrain.new_model(world)
    with pytest.raises(ValueError, match="countries"):
        fact_probe(model, world, ["atlántida"])
    with pytest.raises(ValueError, match="countries"):
        fact_probe(model, world, [])
    with pytest.raises(TypeError, match="world"):
        fact_probe(model, "mundo", ["perú"])
    other = posttrain_data.ToyWorld(world.vocab[:-1], world.capitals, (), ())
    with pytest.raises(ValueError, match="model"):
        fact_probe(model, other, ["perú"])


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    scores = np.random.default_rng(0).normal(size=30)
    ours = bootstrap_interval(scores, n_resamples=20_000, seed=1)
    ref = stats.bootstrap((scores,), np.mean, n_resamples=20_000, method="percentile",
                          confidence_level=0.95, random_state=np.random.default_rng(2))
    assert ours.estimate == pytest.approx(scores.mean())
    assert ours.low == pytest.approx(ref.confidence_interval.low, abs=0.02)
    assert ours.high == pytest.approx(ref.confidence_interval.high, abs=0.02)


def test_bootstrap_width_matches_normal_closed_form():
    # Con n grande, la media remuestreada es casi normal, de desviación σ/√n.
    scores = np.array([1.0] * 120 + [0.0] * 280)  # n = 400, p = 0.3
    iv = bootstrap_interval(scores, n_resamples=20_000)
    width = 2 * 1.959964 * math.sqrt(0.3 * 0.7 / 400)
    assert iv.high - iv.low == pytest.approx(width, rel=0.08)
    assert iv.low < 0.3 < iv.high


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 40))
def test_bootstrap_properties(seed, n):
    scores = np.random.default_rng(seed).uniform(size=n)
    wide = bootstrap_interval(scores, confidence=0.95, n_resamples=500, seed=seed)
    narrow = bootstrap_interval(scores, confidence=0.5, n_resamples=500, seed=seed)
    assert scores.min() - 1e-12 <= wide.low <= narrow.low <= narrow.high <= wide.high
    assert wide.high <= scores.max() + 1e-12
    assert bootstrap_interval(scores, n_resamples=500, seed=seed) == wide  # reproducible
    assert bootstrap_interval(torch.tensor(scores), n_resamples=500, seed=seed) == wide
    const = bootstrap_interval([0.25] * n, n_resamples=50)
    assert const == Interval(0.25, 0.25, 0.25)


def test_bootstrap_bad_inputs():
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_interval([1.0, 0.0], confidence=1.5)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_interval([1.0, 0.0], confidence=0)
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_interval([1.0, 0.0], n_resamples=0)
    with pytest.raises(ValueError, match="scores"):
        bootstrap_interval([])
    with pytest.raises(ValueError, match="scores"):
        bootstrap_interval(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="scores"):
        bootstrap_interval([1.0, float("nan")])


# --------------------------------------------------------------------------- figuras


def test_evaluation_figures(world):
    from libroia.plots import evaluation as plots

    rates = {"a": {"correct": 0.5, "wrong": 0.25, "refusal": 0.25, "other": 0.0},
             "b": {"correct": 0.0, "wrong": 1.0, "refusal": 0.0, "other": 0.0}}
    fig = plots.fact_probe_figure(rates)
    assert fig.layout.barmode == "stack" and len(fig.data) == 4
    assert list(fig.data[1].x) == [0.25, 1.0] and fig.data[1].name == "capital inventada"

    results = {"m": {"acierto": Interval(0.5, 0.25, 0.75)}}
    fig = plots.interval_figure(results, title="t", alt="una figura", x_title="x")
    assert list(fig.data[0].error_x.array) == [0.25]
    assert list(fig.data[0].error_x.arrayminus) == [0.25]

    bins = calibration_bins([0.9, 0.2], [1, 0], n_bins=2)
    fig = plots.reliability_diagram([("DPO", bins, 0.1)], prefix="modelo: ")
    assert fig.layout.sliders[0].currentvalue.prefix == "modelo: "
