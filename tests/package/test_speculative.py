"""Pruebas de libroia.speculative: decodificación especulativa.

La propiedad central es la exactitud: lo que sale sigue la distribución del
modelo objetivo, sea cual sea el borrador. Se comprueba con pruebas χ² (semillas
fijas, resultado determinista) frente a la distribución exacta y frente al
muestreo normal; las decisiones de aceptación se comparan con
``_speculative_sampling`` de Hugging Face ``transformers``.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chi2_contingency, chisquare

from libroia.gpt import GPT, GPTConfig
from libroia.speculative import (
    acceptance_rate,
    autoregressive_sample,
    expected_speedup,
    expected_tokens_per_step,
    model_probs,
    speculative_sample,
    verify_draft,
)

pytestmark = pytest.mark.usefixtures("one_thread")


V = 4
# Dos «modelos» de Markov de orden 1 sobre 4 tokens: la fila del último token da la
# distribución del siguiente. El borrador se parece al objetivo, pero no es igual.
TARGET = torch.tensor([[0.40, 0.30, 0.20, 0.10],
                       [0.10, 0.20, 0.30, 0.40],
                       [0.25, 0.25, 0.25, 0.25],
                       [0.60, 0.10, 0.10, 0.20]], dtype=torch.float64)
DRAFT = torch.tensor([[0.25, 0.25, 0.25, 0.25],
                      [0.05, 0.15, 0.40, 0.40],
                      [0.40, 0.30, 0.20, 0.10],
                      [0.30, 0.30, 0.20, 0.20]], dtype=torch.float64)


def markov(table: torch.Tensor):
    """Función de probabilidades: fila t = tabla[ids[t]]."""
    return lambda ids: table[torch.tensor(list(ids))]  # (T, V)


def exact_distribution(table: torch.Tensor, prompt: list[int], n: int) -> dict[tuple, float]:
    """Probabilidad exacta de cada secuencia de ``n`` tokens tras ``prompt``."""
    out = {}
    for seq in itertools.product(range(V), repeat=n):
        prob, last = 1.0, prompt[-1]
        for token in seq:
            prob *= float(table[last, token])
            last = token
        out[seq] = prob
    return out


def memoized(fn):
    """La misma función de probabilidades, recordando cada prefijo ya visto (son pocos)."""
    seen = {}

    def probs(ids):
        key = tuple(ids)
        if key not in seen:
            seen[key] = fn(ids)
        return seen[key]

    return probs


def sequence_counts(sampler, runs: int, seed: int) -> Counter:
    gen = torch.Generator().manual_seed(seed)
    return Counter(tuple(sampler(gen).tokens) for _ in range(runs))


N_NEW, RUNS = 3, 4000


@pytest.fixture(scope="module")
def speculative_counts():
    return sequence_counts(
        lambda g: speculative_sample(markov(TARGET), markov(DRAFT), [0], N_NEW, gamma=2,
                                     generator=g),
        RUNS, seed=1,
    )


@pytest.fixture(scope="module")
def plain_counts():
    return sequence_counts(lambda g: autoregressive_sample(markov(TARGET), [0], N_NEW,
                                                           generator=g), RUNS, seed=2)


def chi_square_fit(counts: Counter, probs: dict[tuple, float]) -> float:
    keys = sorted(probs)
    observed = [counts.get(k, 0) for k in keys]
    expected = [probs[k] * sum(observed) for k in keys]
    return float(chisquare(observed, expected).pvalue)


# --------------------------------------------------------------------------- exactitud


def test_speculative_sequences_follow_the_target_distribution(speculative_counts):
    """χ² de bondad de ajuste: 64 secuencias posibles de 3 tokens, 4000 muestras."""
    assert chi_square_fit(speculative_counts, exact_distribution(TARGET, [0], N_NEW)) > 0.01


def test_speculative_and_plain_sampling_are_indistinguishable(speculative_counts, plain_counts):
    """χ² de homogeneidad entre la decodificación especulativa y el muestreo normal."""
    keys = sorted(set(speculative_counts) | set(plain_counts))
    table = [[speculative_counts.get(k, 0) for k in keys], [plain_counts.get(k, 0) for k in keys]]
    assert chi2_contingency(table).pvalue > 0.01


def test_the_chi_square_test_detects_the_draft_distribution(speculative_counts):
    """La prueba puede fallar: las mismas muestras no se parecen a la distribución del borrador."""
    assert chi_square_fit(speculative_counts, exact_distribution(DRAFT, [0], N_NEW)) < 1e-6


def test_accepting_every_proposal_would_be_detected():
    """Un verificador que acepta siempre devuelve la distribución del borrador: la prueba lo ve."""
    gen = torch.Generator().manual_seed(3)
    counts = Counter(
        tuple(speculative_sample(markov(DRAFT), markov(DRAFT), [0], N_NEW, gamma=2,
                                 generator=gen).tokens)
        for _ in range(RUNS)
    )
    assert chi_square_fit(counts, exact_distribution(TARGET, [0], N_NEW)) < 1e-6


def test_greedy_speculative_decoding_equals_greedy_decoding_of_the_target():
    """Con temperatura 0 no hay azar: la salida es la voraz del objetivo, token a token."""
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=48, context=32, d_model=32, n_heads=4, n_layers=2)
    target = GPT(config).eval()
    draft = GPT(GPTConfig(vocab_size=48, context=32, d_model=16, n_heads=2, n_layers=1)).eval()
    prompt = [3, 1, 4, 1, 5]
    out = speculative_sample(model_probs(target, temperature=0), model_probs(draft, temperature=0),
                             prompt, 20, gamma=3)
    greedy = target.generate(torch.tensor([prompt]), 20, use_cache=False)[0, len(prompt):]
    assert out.tokens == greedy.tolist()
    assert out.target_calls < 20 or out.acceptance == 0.0


def test_gpt_speculative_first_two_tokens_follow_the_target():
    """Con dos GPT al azar de vocabulario 8: χ² frente a las 64 parejas posibles."""
    torch.manual_seed(1)
    target = GPT(GPTConfig(vocab_size=8, context=8, d_model=16, n_heads=2, n_layers=1)).eval()
    draft = GPT(GPTConfig(vocab_size=8, context=8, d_model=8, n_heads=2, n_layers=1)).eval()
    # Logits más grandes: distribuciones menos planas y distintas entre los dos modelos.
    with torch.no_grad():
        target.head.weight.mul_(40)
        draft.head.weight.mul_(40)
    f_target, f_draft = memoized(model_probs(target)), memoized(model_probs(draft))
    prompt = [2, 5]
    first = f_target(prompt)[-1]  # (V,)
    probs = {(a, b): float(first[a] * f_target([*prompt, a])[-1, b])
             for a in range(8) for b in range(8)}
    gen = torch.Generator().manual_seed(4)
    counts = Counter(tuple(speculative_sample(f_target, f_draft, prompt, 2, gamma=1,
                                              generator=gen).tokens) for _ in range(3000))
    keep = {k: p for k, p in probs.items() if p * 3000 >= 5}  # celdas con esperanza ≥ 5
    rest = 1.0 - sum(keep.values())
    observed = [counts.get(k, 0) for k in keep] + [3000 - sum(counts.get(k, 0) for k in keep)]
    expected = [p * 3000 for p in keep.values()] + [rest * 3000]
    assert len(keep) >= 10
    assert acceptance_rate(first, f_draft(prompt)[-1]) < 0.9  # el borrador no es el objetivo
    assert chisquare(observed, expected).pvalue > 0.01


# --------------------------------------------------------------------------- contra transformers


def test_accept_decisions_match_transformers():
    """Con la misma semilla, las mismas propuestas aceptadas que Hugging Face."""
    hf = pytest.importorskip("transformers.generation.utils")
    gamma, vocab = 3, 6
    for seed in range(120):
        g = torch.Generator().manual_seed(1000 + seed)
        q_logits = torch.randn(1, gamma, vocab, generator=g, dtype=torch.float64)
        extra = torch.randn(1, gamma + 1, vocab, generator=g, dtype=torch.float64)
        p_logits = 0.5 * torch.cat([q_logits, q_logits[:, -1:]], dim=1) + 0.7 * extra
        q, p = torch.softmax(q_logits, -1)[0], torch.softmax(p_logits, -1)[0]
        draft = [int(torch.multinomial(q[j], 1, generator=g)) for j in range(gamma)]
        torch.manual_seed(seed)
        hf_tokens, hf_n = hf._speculative_sampling(torch.tensor([[0, *draft]]), q_logits, gamma,
                                                   p_logits)
        tokens, n = verify_draft(draft, q, p, generator=torch.Generator().manual_seed(seed))
        assert n == int(hf_n)
        assert tokens[:n] == hf_tokens[0, :n].tolist()


def test_residual_token_distribution_matches_transformers():
    """Tras un rechazo, el token sale de max(0, p − q) normalizada, como en transformers."""
    hf = pytest.importorskip("transformers.generation.utils")
    q = torch.tensor([[0.7, 0.1, 0.1, 0.1]], dtype=torch.float64)
    p = torch.tensor([[0.1, 0.4, 0.3, 0.2], [0.25, 0.25, 0.25, 0.25]], dtype=torch.float64)
    mine, theirs = Counter(), Counter()
    for seed in range(1000):
        tokens, n = verify_draft([0], q, p, generator=torch.Generator().manual_seed(seed))
        mine[tokens[-1]] += n == 0
        torch.manual_seed(seed)
        hf_tokens, hf_n = hf._speculative_sampling(torch.tensor([[0, 0]]), q.log()[None], 1,
                                                   p.log()[None])
        theirs[int(hf_tokens[0, -1])] += int(hf_n) == 0
    assert mine[0] == theirs[0] == 0  # el token propuesto nunca sale de la residual
    residual = torch.clamp(p[0] - q[0], min=0)
    residual /= residual.sum()
    table = [[mine[t] for t in (1, 2, 3)], [theirs[t] for t in (1, 2, 3)]]
    assert chi2_contingency(table).pvalue > 0.01
    expected = [float(residual[t]) * sum(table[0]) for t in (1, 2, 3)]
    assert chisquare(table[0], expected).pvalue > 0.01


# --------------------------------------------------------------------------- fórmulas


def test_measured_acceptance_matches_the_formula():
    """Con p y q fijas, la fracción aceptada tiende a Σ min(p, q) y los tokens por paso
    a (1 − α^(γ+1)) / (1 − α)."""
    p, q = TARGET[0], DRAFT[0]
    iid_p = lambda ids: p.expand(len(ids), V)  # noqa: E731
    iid_q = lambda ids: q.expand(len(ids), V)  # noqa: E731
    gen = torch.Generator().manual_seed(5)
    out = speculative_sample(iid_p, iid_q, [0], 6000, gamma=3, generator=gen)
    alpha = float(acceptance_rate(p, q))
    steps = len(out.accepted)
    examined = sum(n + (n < g) for n, g in zip(out.accepted, out.drafted, strict=True))
    assert out.alpha == pytest.approx(alpha, abs=4 * math.sqrt(alpha * (1 - alpha) / examined))
    assert out.acceptance < out.alpha  # tras un rechazo se tiran propuestas sin mirarlas
    assert len(out.tokens) / steps == pytest.approx(expected_tokens_per_step(alpha, 3), rel=0.04)
    assert out.target_calls == steps and out.draft_calls == sum(out.drafted)


def test_identical_models_accept_everything():
    gen = torch.Generator().manual_seed(6)
    out = speculative_sample(markov(TARGET), markov(TARGET), [1], 40, gamma=4, generator=gen)
    assert out.acceptance == 1.0
    assert out.target_calls == 8 and out.tokens_per_target_call == 5.0


def test_plain_sampling_makes_one_target_call_per_token():
    out = autoregressive_sample(markov(TARGET), [0], 12, generator=torch.Generator())
    assert out.target_calls == 12 and len(out.tokens) == 12 and out.draft_calls == 0


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), vocab=st.integers(1, 12))
def test_acceptance_rate_is_one_minus_total_variation(seed, vocab):
    g = torch.Generator().manual_seed(seed)
    p = torch.softmax(torch.randn(vocab, generator=g, dtype=torch.float64), -1)
    q = torch.softmax(torch.randn(vocab, generator=g, dtype=torch.float64), -1)
    beta = float(acceptance_rate(p, q))
    assert beta == pytest.approx(1 - 0.5 * float((p - q).abs().sum()))
    assert beta == pytest.approx(float(acceptance_rate(q, p)))
    assert 0.0 <= beta <= 1.0 + 1e-12
    assert float(acceptance_rate(p, p)) == pytest.approx(1.0)


@settings(max_examples=50, deadline=None)
@given(alpha=st.floats(0.0, 1.0), gamma=st.integers(0, 12))
def test_expected_tokens_between_one_and_gamma_plus_one(alpha, gamma):
    tokens = expected_tokens_per_step(alpha, gamma)
    assert 1.0 - 1e-9 <= tokens <= gamma + 1 + 1e-9
    assert expected_tokens_per_step(alpha, gamma + 1) >= tokens - 1e-9
    assert expected_speedup(alpha, gamma, 0.0) == pytest.approx(tokens)


def test_formula_edge_cases():
    assert expected_tokens_per_step(0.0, 5) == 1.0
    assert expected_tokens_per_step(1.0, 5) == 6.0
    assert expected_speedup(1.0, 4, 0.25) == pytest.approx(2.5)


# --------------------------------------------------------------------------- errores


def test_errors_name_the_argument():
    f = markov(TARGET)
    with pytest.raises(ValueError, match="gamma"):
        speculative_sample(f, f, [0], 3, gamma=-1)
    with pytest.raises(ValueError, match="prompt"):
        speculative_sample(f, f, [], 3)
    with pytest.raises(TypeError, match="prompt"):
        autoregressive_sample(f, [0.5], 3)
    with pytest.raises(ValueError, match="max_new_tokens"):
        autoregressive_sample(f, [0], -1)
    with pytest.raises(ValueError, match="target"):
        autoregressive_sample(lambda ids: torch.ones(1, V) / V, [0, 1], 2)
    with pytest.raises(ValueError, match="draft"):
        speculative_sample(f, lambda ids: torch.ones(V) / V, [0], 3)
    with pytest.raises(ValueError, match="alpha"):
        expected_tokens_per_step(1.5, 2)
    with pytest.raises(ValueError, match="cost_ratio"):
        expected_speedup(0.5, 2, -0.1)
    with pytest.raises(ValueError, match="`p` y `q`"):
        acceptance_rate(torch.ones(3) / 3, torch.ones(4) / 4)
    with pytest.raises(TypeError, match="`q`"):
        acceptance_rate(torch.ones(3) / 3, [1 / 3] * 3)


def test_verify_draft_errors():
    q, p = DRAFT[:2], TARGET[:3]
    with pytest.raises(ValueError, match="`p`"):
        verify_draft([0, 1], q, TARGET[:2])
    with pytest.raises(ValueError, match="`q`"):
        verify_draft([0, 1], DRAFT[:1], p)
    with pytest.raises(ValueError, match="draft_ids"):
        verify_draft([0, 9], q, p)
    with pytest.raises(ValueError, match="`p`"):
        verify_draft([0, 1], q, -p)
    with pytest.raises(TypeError, match="`q`"):
        verify_draft([0, 1], q.numpy(), p)
    with pytest.raises(ValueError, match="vocabulario"):
        verify_draft([0, 1], q[:, :3], p)


def test_model_probs_rejects_sequences_longer_than_the_context():
    model = GPT(GPTConfig(vocab_size=16, context=4, d_model=8, n_heads=2, n_layers=1)).eval()
    f = model_probs(model, temperature=0.5)
    assert f([1, 2, 3, 4]).shape == (4, 16)
    with pytest.raises(ValueError, match="contexto"):
        f([1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match="temperature"):
        model_probs(model, temperature=-1)
