"""Pruebas de libroia.decoding: log-probabilidad de secuencias, búsqueda en haz, mejor de N.

La búsqueda en haz se compara con ``generate(num_beams=…)`` de Hugging Face
``transformers`` sobre un GPT-2 diminuto inicializado al azar, y con la
enumeración exhaustiva de todas las secuencias en modelos de bigramas pequeños.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from libroia.decoding import (
    beam_search,
    best_of_n,
    continuation_log_probs,
    log_prob_step,
    next_token_logits,
    self_consistency,
    sequence_log_prob,
    token_log_probs,
    top_tokens,
)
from libroia.sampling import greedy
from tests.package.tiny_gpt import TINY_TEXT, tiny_language_model


def bigram_step(table):
    """Función de paso de un modelo de bigramas: log P(siguiente | último token)."""
    with np.errstate(divide="ignore"):
        log_table = np.log(table)

    def step(prefixes):
        return log_table[prefixes[:, -1]]

    return step


# --------------------------------------------------------------------------- log-probabilidades


def test_token_and_sequence_log_prob_against_torch():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 7, generator=g, dtype=torch.float64)
    ids = torch.randint(0, 7, (2, 5), generator=g)
    expected = -F.cross_entropy(logits.reshape(-1, 7), ids.reshape(-1), reduction="none")
    expected = expected.reshape(2, 5)
    torch.testing.assert_close(token_log_probs(logits, ids), expected)
    torch.testing.assert_close(sequence_log_prob(logits, ids), expected.sum(-1))
    # log-probabilidades ya normalizadas dan lo mismo que los logits
    torch.testing.assert_close(token_log_probs(torch.log_softmax(logits, -1), ids), expected)
    np.testing.assert_allclose(token_log_probs(logits.numpy(), ids.numpy()), expected.numpy())


def test_sequence_log_prob_by_hand_and_with_mask():
    hand = np.log(np.array([[0.5, 0.5], [0.75, 0.25]]))
    np.testing.assert_allclose(sequence_log_prob(hand, np.array([0, 1])), math.log(0.125))
    only_second = sequence_log_prob(hand, np.array([0, 1]), np.array([False, True]))
    np.testing.assert_allclose(only_second, math.log(0.25))
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 4, 6, generator=g, dtype=torch.float64)
    ids = torch.randint(0, 6, (3, 4), generator=g)
    mask = torch.rand(3, 4, generator=g) < 0.5
    lp = token_log_probs(logits, ids)
    expected = torch.stack([lp[n][mask[n]].sum() for n in range(3)])
    torch.testing.assert_close(sequence_log_prob(logits, ids, mask), expected)


def test_masked_minus_inf_gives_no_nan():
    # Una posición enmascarada cuyo objetivo tiene probabilidad cero: log p = -inf.
    # Con `lp * mask` saldría -inf · 0 = nan; enmascarada, no debe contar.
    logits = torch.zeros(1, 3, 4, dtype=torch.float64)
    logits[0, 0, 2] = -math.inf
    ids = torch.tensor([[2, 1, 3]])
    mask = torch.tensor([[False, True, True]])
    leaf = logits.clone().requires_grad_(True)
    total = sequence_log_prob(leaf, ids, mask)
    torch.testing.assert_close(total, torch.tensor([2 * math.log(0.25)], dtype=torch.float64))
    total.sum().backward()
    assert torch.isfinite(leaf.grad).all()
    assert sequence_log_prob(logits, ids)[0] == -math.inf  # sin máscara sí cuenta


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), N=st.integers(1, 3), T=st.integers(1, 5), V=st.integers(2, 6))
def test_sequence_log_prob_equals_cross_entropy_with_ignore_index(seed, N, T, V):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(N, T, V, generator=g, dtype=torch.float64) * 3
    ids = torch.randint(0, V, (N, T), generator=g)
    mask = torch.rand(N, T, generator=g) < 0.6
    ignored = ids.masked_fill(~mask, -100)
    reference = -F.cross_entropy(
        logits.reshape(-1, V), ignored.reshape(-1), ignore_index=-100, reduction="sum"
    )
    torch.testing.assert_close(sequence_log_prob(logits, ids, mask).sum(), reference)


def test_bad_log_prob_inputs():
    lp = np.log(np.full((3, 4), 0.25))
    with pytest.raises(ValueError, match="ids"):
        token_log_probs(lp, np.array([0, 1]))
    with pytest.raises(ValueError, match="ids"):
        token_log_probs(lp, np.array([0, 1, 4]))
    with pytest.raises(TypeError, match="ids"):
        token_log_probs(lp, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="logits"):
        token_log_probs(np.zeros(4), np.array(1))
    with pytest.raises(ValueError, match="mask"):
        sequence_log_prob(lp, np.array([0, 1, 2]), np.array([True, False]))
    with pytest.raises(TypeError, match="mask"):
        sequence_log_prob(lp, np.array([0, 1, 2]), np.array([1, 0, 1]))
    with pytest.raises(TypeError, match="NumPy"):
        sequence_log_prob(lp, np.array([0, 1, 2]), torch.tensor([True, False, True]))


# --------------------------------------------------------------------------- búsqueda en haz

HAND = np.array(
    [
        [0.0, 0.6, 0.4, 0.0],
        [0.33, 0.33, 0.0, 0.34],
        [0.05, 0.0, 0.05, 0.9],
        [0.25, 0.25, 0.25, 0.25],
    ]
)


def test_beam_search_beats_greedy_on_hand_example():
    # Tras 0: A=1 (0.6) o B=2 (0.4). Tras A todo es plano (máx 0.34); tras B, 0.9.
    # Es el ejemplo del ejercicio del capítulo «Muestreo».
    step = bigram_step(HAND)
    greedy_seq = beam_search(step, np.array([0]), beam_width=1, max_new_tokens=2)
    wide = beam_search(step, np.array([0]), beam_width=2, max_new_tokens=2)
    assert greedy_seq.sequences.tolist() == [[0, 1, 3]]
    np.testing.assert_allclose(greedy_seq.scores, [math.log(0.6 * 0.34)])
    assert wide.sequences.tolist() == [[0, 2, 3], [0, 1, 3]]
    np.testing.assert_allclose(wide.scores, [math.log(0.4 * 0.9), math.log(0.6 * 0.34)])
    assert wide.finished.tolist() == [False, False]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), V=st.integers(2, 12), n=st.integers(1, 6))
def test_beam_width_one_equals_greedy(seed, V, n):
    table = np.random.default_rng(seed).dirichlet(np.ones(V), size=V)
    ids = [0]
    for _ in range(n):
        ids.append(int(greedy(np.log(table[ids[-1]]))))
    out = beam_search(bigram_step(table), np.array([0]), beam_width=1, max_new_tokens=n)
    assert out.sequences.tolist() == [ids]
    np.testing.assert_allclose(out.scores, [np.log(table[ids[:-1], ids[1:]]).sum()])


def test_wide_beam_drops_impossible_and_never_continues_after_eos():
    # V = 2 (0 = eos), haz de 4 > V. Antes se conservaba «1, eos, 1» con puntuación
    # -inf y marcada como terminada, con una ficha tras el eos.
    table = np.array([[1.0, 0.0], [0.5, 0.5]])
    out = beam_search(bigram_step(table), np.array([1]), beam_width=4, max_new_tokens=2, eos_id=0)
    assert out.sequences.tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    np.testing.assert_allclose(out.scores, [math.log(0.5), math.log(0.25), math.log(0.25)])
    assert out.finished.tolist() == [True, True, False]


def exhaustive(table, start, n, eos_id):
    """Todas las hipótesis completas con probabilidad > 0: (puntuación, fichas, terminada)."""
    V = table.shape[0]
    out = []
    for length in range(1, n + 1):
        for seq in itertools.product(range(V), repeat=length):
            if eos_id is not None and eos_id in seq[:-1]:
                continue
            ends = eos_id is not None and seq[-1] == eos_id
            if length < n and not ends:
                continue
            path = [start, *seq]
            p = math.prod(table[a, b] for a, b in itertools.pairwise(path))
            if p > 0:
                out.append((math.log(p), list(seq), ends))
    return sorted(out, key=lambda h: -h[0])


@st.composite
def bigram_tables(draw):
    V = draw(st.integers(2, 4))
    rng = np.random.default_rng(draw(st.integers(0, 10_000)))
    table = rng.dirichlet(np.ones(V), size=V)
    table[rng.uniform(size=(V, V)) < 0.3] = 0.0  # probabilidades cero: log -inf
    table[np.arange(V), rng.integers(0, V, size=V)] += 0.1  # cada fila con alguna > 0
    return table / table.sum(axis=1, keepdims=True)


@settings(max_examples=60, deadline=None)
@given(
    table=bigram_tables(),
    n=st.integers(1, 4),
    eos=st.one_of(st.none(), st.integers(0, 3)),
    extra=st.integers(0, 3),
    as_torch=st.booleans(),
)
def test_wide_beam_equals_exhaustive_search(table, n, eos, extra, as_torch):
    """Con un haz tan ancho como todas las hipótesis, la búsqueda es exhaustiva."""
    V = table.shape[0]
    eos = None if eos is None else eos % V
    reference = exhaustive(table, 0, n, eos)
    step = bigram_step(table)
    prompt = np.array([0])
    if as_torch:
        step_np = step
        step = lambda p: torch.from_numpy(step_np(p.numpy()))  # noqa: E731
        prompt = torch.tensor([0])
    out = beam_search(step, prompt, beam_width=len(reference) + extra, max_new_tokens=n,
                      eos_id=eos)
    scores = np.asarray(out.scores)
    np.testing.assert_allclose(scores, [h[0] for h in reference], rtol=1e-12, atol=1e-12)
    got = set()
    for row, done in zip(np.asarray(out.sequences).tolist(), np.asarray(out.finished), strict=True):
        new = row[1:]
        if done:
            first = new.index(eos)
            assert all(t == eos for t in new[first:])  # tras el eos, solo relleno
            new = new[: first + 1]
        else:
            assert len(new) == n and (eos is None or eos not in new)
        got.add((tuple(new), bool(done)))
    assert got == {(tuple(h[1]), h[2]) for h in reference}


@settings(max_examples=60, deadline=None)
@given(
    table=bigram_tables(),
    n=st.integers(1, 5),
    eos=st.one_of(st.none(), st.integers(0, 3)),
    width=st.integers(1, 7),
)
def test_beam_hypotheses_are_consistent(table, n, eos, width):
    """Cualquier anchura: puntuaciones finitas, ordenadas, iguales a la suma de sus fichas."""
    V = table.shape[0]
    eos = None if eos is None else eos % V
    out = beam_search(bigram_step(table), np.array([0]), beam_width=width, max_new_tokens=n,
                      eos_id=eos)
    assert 1 <= len(out.scores) <= width
    assert np.isfinite(out.scores).all() and (np.diff(out.scores) <= 0).all()
    best = exhaustive(table, 0, n, eos)[0][0]
    assert out.scores[0] <= best + 1e-12
    for row, score, done in zip(out.sequences.tolist(), out.scores, out.finished, strict=True):
        new = row[1:]
        if done:
            new = new[: new.index(eos) + 1]
            assert all(t == eos for t in row[1 + len(new) :])
        else:
            assert len(new) == n and (eos is None or eos not in new)
        path = [0, *new]
        expected = sum(math.log(table[a, b]) for a, b in itertools.pairwise(path))
        assert score == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_beam_search_with_torch_stops_when_nothing_can_improve():
    # Tras 2 el eos (0) tiene 0.8: las dos mejores terminan pronto y ninguna viva las supera.
    table = torch.tensor([[1.0, 0.0, 0.0], [0.7, 0.2, 0.1], [0.8, 0.1, 0.1]])
    calls = []

    def step(prefixes):
        calls.append(prefixes.shape[1])
        return torch.log(table[prefixes[:, -1]])

    out = beam_search(step, torch.tensor([2]), beam_width=2, max_new_tokens=10, eos_id=0)
    assert isinstance(out.sequences, torch.Tensor) and out.sequences.dtype == torch.int64
    # «2 eos» (0.8) y «2 2 eos» (0.1 · 0.8) terminan; la mejor viva, «2 1 1», vale 0.02.
    assert out.sequences.tolist() == [[2, 0, 0], [2, 2, 0]]
    torch.testing.assert_close(out.scores, torch.log(torch.tensor([0.8, 0.1 * 0.8])).double())
    assert out.finished.tolist() == [True, True]
    assert len(calls) == 2  # paró al segundo paso, no al décimo


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize(("V", "beams", "n", "eos"), [(8, 3, 10, 2), (10, 2, 10, 7),
                                                       (16, 3, 6, None), (20, 4, 8, 0)])
def test_beam_search_matches_transformers(seed, V, beams, n, eos):
    """Mismas secuencias y puntuaciones que ``generate(num_beams=…)`` con la búsqueda canónica.

    ``length_penalty=0.0`` puntúa con la suma de log-probabilidades (sin dividir por la
    longitud) y ``early_stopping="never"`` solo para cuando ninguna hipótesis viva puede
    superar a las terminadas: las dos reglas de :func:`beam_search`. transformers suma
    en float32; aquí se suma en float64, de ahí la tolerancia en las puntuaciones.
    """
    transformers = pytest.importorskip("transformers")
    transformers.logging.set_verbosity_error()
    torch.manual_seed(seed)
    config = transformers.GPT2Config(
        vocab_size=V, n_positions=32, n_embd=16, n_layer=2, n_head=2,
        bos_token_id=0, eos_token_id=eos, pad_token_id=eos,
    )  # fmt: skip
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        model.transformer.wte.weight.mul_(8.0)  # distribuciones menos planas, eos más probable
    prompt = torch.tensor([1, 2, 3])

    def step(prefixes):
        with torch.no_grad():
            return torch.log_softmax(model(prefixes).logits[:, -1].float(), dim=-1)

    ours = beam_search(step, prompt, beam_width=beams, max_new_tokens=n, eos_id=eos)
    with torch.no_grad():
        ref = model.generate(
            prompt[None], attention_mask=torch.ones(1, 3, dtype=torch.long), do_sample=False,
            num_beams=beams, num_return_sequences=beams, max_new_tokens=n,
            length_penalty=0.0, early_stopping="never", eos_token_id=eos, pad_token_id=eos,
            output_scores=True, return_dict_in_generate=True,
        )  # fmt: skip
    assert ours.sequences.tolist() == ref.sequences.tolist()
    torch.testing.assert_close(ours.scores, ref.sequences_scores.double(), rtol=0, atol=1e-5)
    if eos is not None:
        ends = (ref.sequences[:, 3:] == eos).any(dim=1)
        assert ours.finished.tolist() == ends.tolist()


def test_transformers_cases_exercise_eos():
    """Los casos de arriba incluyen hipótesis terminadas antes del final (no solo cortadas)."""
    pytest.importorskip("transformers")
    import transformers

    transformers.logging.set_verbosity_error()
    early = 0
    for seed in range(8):
        torch.manual_seed(seed)
        config = transformers.GPT2Config(vocab_size=8, n_positions=32, n_embd=16, n_layer=2,
                                         n_head=2, bos_token_id=0, eos_token_id=2)
        model = transformers.GPT2LMHeadModel(config).eval()
        with torch.no_grad():
            model.transformer.wte.weight.mul_(8.0)

            def step(p, model=model):
                return torch.log_softmax(model(p).logits[:, -1].float(), -1)

            out = beam_search(step, torch.tensor([1, 2, 3]), beam_width=3, max_new_tokens=10,
                              eos_id=2)
        early += int(out.finished.sum())
    assert early >= 3


@pytest.mark.parametrize(
    ("returned", "match"),
    [
        (np.array([[0.0, np.nan, -1.0]]), "nan"),
        (np.array([[0.5, -1.0, -2.0]]), r"≤ 0.*log_softmax"),  # logits, no log-probabilidades
        (np.array([[np.inf, -1.0, -2.0]]), r"≤ 0"),
        (np.zeros((2, 3)), r"\(B, V\) con B = 1"),
        (np.zeros(3), "forma"),
        (np.full((1, 3), -np.inf), "probabilidad mayor que cero"),
    ],
)
def test_bad_step_outputs(returned, match):
    with pytest.raises(ValueError, match=match):
        beam_search(lambda b: returned, np.array([0]), beam_width=2, max_new_tokens=2)


def test_step_must_keep_vocabulary_size_and_type():
    sizes = iter([3, 4])
    with pytest.raises(ValueError, match="V = 3"):
        beam_search(lambda b: np.log(np.full((len(b), (v := next(sizes))), 1 / v)),
                    np.array([0]), beam_width=1, max_new_tokens=2)
    with pytest.raises(TypeError, match="step"):
        beam_search(lambda b: "hola", np.array([0]), beam_width=1, max_new_tokens=2)
    with pytest.raises(TypeError, match="NumPy"):
        beam_search(lambda b: torch.zeros(1, 3), np.array([0]), beam_width=1, max_new_tokens=1)


def test_bad_beam_search_inputs():
    step = bigram_step(np.full((3, 3), 1 / 3))
    with pytest.raises(ValueError, match="beam_width"):
        beam_search(step, np.array([0]), beam_width=0, max_new_tokens=2)
    with pytest.raises(ValueError, match="max_new_tokens"):
        beam_search(step, np.array([0]), beam_width=1, max_new_tokens=0)
    with pytest.raises(ValueError, match="prompt"):
        beam_search(step, np.array([[0]]), beam_width=1, max_new_tokens=2)
    with pytest.raises(ValueError, match="prompt"):
        beam_search(step, np.array([0.0]), beam_width=1, max_new_tokens=2)
    with pytest.raises(ValueError, match="prompt"):
        beam_search(step, np.array([-1]), beam_width=1, max_new_tokens=2)
    with pytest.raises(ValueError, match="eos_id"):
        beam_search(step, np.array([0]), beam_width=1, max_new_tokens=2, eos_id=3)
    with pytest.raises(TypeError, match="eos_id"):
        beam_search(step, np.array([0]), beam_width=1, max_new_tokens=2, eos_id=1.0)


# --------------------------------------------------------------------------- mejor de N, votos


def test_best_of_n_and_self_consistency():
    assert best_of_n(["a", "b", "c"], [0.1, 0.7, 0.7]) == ("b", 1)
    assert best_of_n(["x", "y"], torch.tensor([2.0, -1.0])) == ("x", 0)
    vote = self_consistency(["4", "5", "4", "6"])
    assert (vote.answer, vote.count, vote.total, vote.agreement) == ("4", 2, 4, 0.5)
    assert self_consistency(["b", "a", "a", "b"]).answer == "b"  # empate: la primera
    assert list(self_consistency(["b", "a", "a"]).counts) == ["a", "b"]


def test_bad_best_of_n_and_votes():
    with pytest.raises(ValueError, match="scores"):
        best_of_n(["a"], [1.0, 2.0])
    with pytest.raises(ValueError, match="scores"):
        best_of_n([], [])
    with pytest.raises(ValueError, match="scores"):
        best_of_n(["a", "b"], [1.0, float("nan")])
    with pytest.raises(ValueError, match="answers"):
        self_consistency([])


# --------------------------------------------------------------------------- con un GPT diminuto

@pytest.fixture(scope="module")
def tiny():
    return tiny_language_model(TINY_TEXT)


def test_beam_width_one_equals_model_generate(tiny):
    model, tok = tiny
    prompt = torch.tensor(tok.encode("El modelo"))
    beams = beam_search(log_prob_step(model), prompt, beam_width=1, max_new_tokens=15)
    expected = model.generate(prompt[None], 15)  # voraz, con caché y ventana deslizante
    assert torch.equal(beams.sequences[0], expected[0])
    wide = beam_search(log_prob_step(model), prompt, beam_width=3, max_new_tokens=15)
    assert wide.sequences.shape == (3, len(prompt) + 15)
    assert wide.scores[0] >= beams.scores[0]
    # cada puntuación es la suma de las log-probabilidades de sus fichas (todo en el contexto)
    n = 12 - len(prompt)
    wide = beam_search(log_prob_step(model), prompt, beam_width=3, max_new_tokens=n)
    new = wide.sequences[:, len(prompt) :]
    torch.testing.assert_close(continuation_log_probs(model, prompt, new).sum(-1), wide.scores)


def test_continuation_log_probs_and_next_logits(tiny):
    model, tok = tiny
    prompt = torch.tensor(tok.encode("El modelo elige"))
    conts = torch.randint(0, 280, (4, 3), generator=torch.Generator().manual_seed(0))
    got = continuation_log_probs(model, prompt, conts)  # (4, 3)
    full = torch.cat([prompt.expand(4, -1), conts], dim=1)
    with torch.no_grad():
        log_p = torch.log_softmax(model(full).double(), -1)
    T0 = len(prompt)
    expected = log_p[:, T0 - 1 : -1].gather(-1, conts[..., None])[..., 0]
    torch.testing.assert_close(got, expected)
    logits = next_token_logits(model, tok, "El modelo elige")
    torch.testing.assert_close(logits, model(prompt[None])[0, -1].detach())
    first = top_tokens(logits, tok, 3)
    probs = torch.softmax(logits.double(), -1)
    best = torch.argsort(probs, descending=True, stable=True)[:3]
    assert first == [(tok.token_str(int(i)), round(float(probs[i]), 4)) for i in best]
    with pytest.raises(ValueError, match="prompt"):
        next_token_logits(model, tok, "")
    with pytest.raises(ValueError, match="continuations"):
        continuation_log_probs(model, prompt, conts[0])
    with pytest.raises(ValueError, match="continuations"):
        continuation_log_probs(model, prompt, torch.zeros(1, 13, dtype=torch.long))
    with pytest.raises(ValueError, match="logits"):
        top_tokens(logits[None], tok)
