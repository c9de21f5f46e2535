"""Pruebas de libroia.preference: SFT con máscara, Bradley–Terry y DPO.

La log-probabilidad de las respuestas es la de :mod:`libroia.decoding`
(``token_log_probs`` y ``sequence_log_prob``), que se prueba también aquí en su uso
con gradiente.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from libroia import preference as pref
from libroia.decoding import sequence_log_prob, token_log_probs


def lm_inputs(N=3, T=5, V=7, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(N, T, V, generator=g, dtype=dtype)
    targets = torch.randint(0, V, (N, T), generator=g)
    lengths = torch.tensor([6, 4, 5])[:N].clamp(max=T + 1)
    mask = pref.response_mask(torch.tensor([1, 2, 3])[:N], lengths, T)
    return logits, targets, mask


def test_response_mask_example_and_loop():
    m = pref.response_mask([2], [5], 5)
    assert m.tolist() == [[False, True, True, True, False]]
    prompt, lengths, T = torch.tensor([1, 3, 2]), torch.tensor([4, 7, 2]), 6
    m = pref.response_mask(prompt, lengths, T)
    for n in range(3):
        for t in range(T):
            assert m[n, t] == (prompt[n] <= t + 1 < lengths[n])


def test_token_log_probs_by_hand():
    logits, targets, _ = lm_inputs()
    expected = torch.empty(targets.shape, dtype=torch.float64)
    for n in range(3):
        for t in range(5):
            row = logits[n, t]
            expected[n, t] = row[targets[n, t]] - torch.log(torch.exp(row).sum())
    torch.testing.assert_close(token_log_probs(logits, targets), expected)


def test_sft_loss_equals_cross_entropy_with_ignore_index():
    logits, targets, mask = lm_inputs()
    ignored = targets.masked_fill(~mask, -100)
    reference = F.cross_entropy(logits.reshape(-1, 7), ignored.reshape(-1), ignore_index=-100)
    torch.testing.assert_close(pref.sft_loss(logits, targets, mask), reference)
    everything = torch.ones_like(mask)
    torch.testing.assert_close(
        pref.sft_loss(logits, targets, everything),
        F.cross_entropy(logits.reshape(-1, 7), targets.reshape(-1)),
    )


def test_sft_loss_with_minus_inf_in_a_masked_position():
    """Un objetivo enmascarado con log-probabilidad -inf no cuenta (antes daba nan)."""
    logits, targets, mask = lm_inputs()
    n, t = (~mask).nonzero()[0].tolist()
    logits[n, t, targets[n, t]] = -math.inf
    ignored = targets.masked_fill(~mask, -100)
    reference = F.cross_entropy(logits.reshape(-1, 7), ignored.reshape(-1), ignore_index=-100)
    assert torch.isfinite(reference)
    torch.testing.assert_close(pref.sft_loss(logits, targets, mask), reference)
    leaf = logits.clone().requires_grad_(True)
    pref.sft_loss(leaf, targets, mask).backward()
    assert torch.isfinite(leaf.grad).all()
    assert torch.isfinite(sequence_log_prob(logits, targets, mask)).all()
    everything = torch.ones_like(mask)
    assert pref.sft_loss(logits, targets, everything) == math.inf  # sin máscara sí cuenta


def test_sft_loss_ignores_prompt_logits():
    """Cambiar los logits de las posiciones del prompt no cambia la pérdida ni su gradiente."""
    logits, targets, mask = lm_inputs()
    changed = logits.clone()
    changed[~mask] += 100 * torch.randn_like(changed[~mask])
    torch.testing.assert_close(
        pref.sft_loss(changed, targets, mask), pref.sft_loss(logits, targets, mask)
    )
    leaf = logits.clone().requires_grad_(True)
    pref.sft_loss(leaf, targets, mask).backward()
    assert torch.count_nonzero(leaf.grad[~mask]) == 0


def test_sft_and_sequence_log_prob_gradcheck():
    logits, targets, mask = lm_inputs(N=2, T=4, V=5)
    leaf = logits.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z: pref.sft_loss(z, targets, mask), (leaf,))
    assert torch.autograd.gradcheck(lambda z: sequence_log_prob(z, targets, mask), (leaf,))


def test_sequence_log_prob_is_masked_sum():
    logits, targets, mask = lm_inputs()
    lp = token_log_probs(logits, targets)
    expected = torch.stack([lp[n][mask[n]].sum() for n in range(3)])
    torch.testing.assert_close(sequence_log_prob(logits, targets, mask), expected)


def test_bradley_terry_against_formula_and_bce():
    g = torch.Generator().manual_seed(1)
    rc, rr = torch.randn(6, generator=g, dtype=torch.float64), torch.randn(6, generator=g)
    rr = rr.double()
    direct = -torch.log(1 / (1 + torch.exp(-(rc - rr)))).mean()
    torch.testing.assert_close(pref.bradley_terry_loss(rc, rr), direct)
    bce = F.binary_cross_entropy_with_logits(rc - rr, torch.ones(6, dtype=torch.float64))
    torch.testing.assert_close(pref.bradley_terry_loss(rc, rr), bce)
    zero = torch.zeros(3)
    assert pref.bradley_terry_loss(zero, zero).item() == pytest.approx(math.log(2))
    big = pref.bradley_terry_loss(torch.tensor([-1000.0]), torch.tensor([0.0]))
    assert big.item() == pytest.approx(1000.0)  # estable: nada de inf


def test_preference_probability_examples():
    p = pref.preference_probability(torch.tensor([0.0, math.log(3)]), torch.zeros(2))
    torch.testing.assert_close(p, torch.tensor([0.5, 0.75]))


def test_bradley_terry_gradcheck():
    g = torch.Generator().manual_seed(2)
    rc = torch.randn(4, generator=g, dtype=torch.float64, requires_grad=True)
    rr = torch.randn(4, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(pref.bradley_terry_loss, (rc, rr))


def dpo_direct(pc, pr, rc, rr, beta):
    z = beta * ((pc - rc) - (pr - rr))
    return (-torch.log(1 / (1 + torch.exp(-z)))).mean()


def test_dpo_against_formula_and_gradcheck():
    g = torch.Generator().manual_seed(3)
    pc, pr, rc, rr = (torch.randn(5, generator=g, dtype=torch.float64) * 3 for _ in range(4))
    for beta in (0.1, 0.5, 2.0):
        torch.testing.assert_close(
            pref.dpo_loss(pc, pr, rc, rr, beta), dpo_direct(pc, pr, rc, rr, beta)
        )
    leaves = [t.clone().requires_grad_(True) for t in (pc, pr, rc, rr)]
    assert torch.autograd.gradcheck(lambda *a: pref.dpo_loss(*a, beta=0.3), tuple(leaves))


def test_dpo_is_bradley_terry_on_implicit_rewards_and_log2_at_reference():
    g = torch.Generator().manual_seed(4)
    pc, pr, rc, rr = (torch.randn(5, generator=g, dtype=torch.float64) for _ in range(4))
    chosen, rejected = pref.dpo_implicit_rewards(pc, pr, rc, rr, beta=0.2)
    torch.testing.assert_close(chosen, 0.2 * (pc - rc))
    torch.testing.assert_close(
        pref.dpo_loss(pc, pr, rc, rr, 0.2), pref.bradley_terry_loss(chosen, rejected)
    )
    assert pref.dpo_loss(pc, pr, pc, pr).item() == pytest.approx(math.log(2))


def test_dpo_gradient_raises_chosen_and_lowers_rejected():
    pc = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    pr = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    pref.dpo_loss(pc, pr, torch.zeros(3).double(), torch.zeros(3).double()).backward()
    assert (pc.grad < 0).all() and (pr.grad > 0).all()  # descender sube log π(y_w)


@settings(max_examples=40, deadline=None)
@given(
    margin=st.floats(-20, 20),
    shift=st.floats(-50, 50),
    beta=st.floats(0.01, 5.0),
)
def test_dpo_depends_only_on_the_margin(margin, shift, beta):
    """Sumar lo mismo a la política y a la referencia de una respuesta no cambia la pérdida."""
    pc, pr = torch.tensor([margin], dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    ref = torch.zeros(1, dtype=torch.float64)
    base = pref.dpo_loss(pc, pr, ref, ref, beta)
    moved = pref.dpo_loss(pc + shift, pr, ref + shift, ref, beta)
    torch.testing.assert_close(base, moved)
    expected = math.log1p(math.exp(-beta * margin))
    assert base.item() == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_dpo_through_the_logits_gradcheck():
    """DPO encadenado con sequence_log_prob: el gradiente llega bien hasta los logits."""
    logits, targets, mask = lm_inputs(N=2, T=4, V=5, seed=5)
    ref = sequence_log_prob(logits, targets, mask).detach()

    def loss(z):
        lp = sequence_log_prob(z, targets, mask)  # (2,)
        return pref.dpo_loss(lp[:1], lp[1:], ref[:1] - 0.5, ref[1:], beta=0.7)

    assert torch.autograd.gradcheck(loss, (logits.clone().requires_grad_(True),))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: pref.sft_loss(torch.zeros(2, 3), torch.zeros(2, 3).long(), None), "logits"),
        (lambda: pref.sft_loss(torch.zeros(2, 3, 4), torch.zeros(2, 2).long(),
                               torch.ones(2, 2, dtype=torch.bool)), "targets"),
        (lambda: pref.sft_loss(torch.zeros(2, 3, 4), torch.full((2, 3), 4),
                               torch.ones(2, 3, dtype=torch.bool)), "targets"),
        (lambda: pref.sft_loss(torch.zeros(2, 3, 4), torch.zeros(2, 3).long(),
                               torch.ones(2, 2, dtype=torch.bool)), "mask"),
        (lambda: pref.sft_loss(torch.zeros(2, 3, 4), torch.zeros(2, 3).long(),
                               torch.zeros(2, 3, dtype=torch.bool)), "mask"),
        (lambda: pref.bradley_terry_loss(torch.zeros(3), torch.zeros(4)), "r_rejected"),
        (lambda: pref.bradley_terry_loss(torch.zeros(3, 1), torch.zeros(3, 1)), "r_chosen"),
        (lambda: pref.dpo_loss(*(torch.zeros(2),) * 4, beta=0.0), "beta"),
        (lambda: pref.dpo_loss(torch.zeros(2), torch.zeros(2), torch.zeros(3), torch.zeros(2)),
         "ref_chosen"),
        (lambda: pref.response_mask([3], [2], 5), "lengths"),
        (lambda: pref.response_mask([1], [9], 5), "lengths"),
        (lambda: pref.response_mask([1, 2], [3], 5), "lengths"),
        (lambda: pref.response_mask([1], [2], 0), "T"),
    ],
)  # fmt: skip
def test_bad_values_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: pref.sft_loss([[0.0]], torch.zeros(1, 1).long(), None), "logits"),
        (lambda: pref.sft_loss(torch.zeros(1, 2, 3), torch.zeros(1, 2),
                               torch.ones(1, 2, dtype=torch.bool)), "targets"),
        (lambda: pref.sft_loss(torch.zeros(1, 2, 3), torch.zeros(1, 2).long(),
                               torch.ones(1, 2)), "mask"),
        (lambda: pref.bradley_terry_loss(torch.zeros(2).long(), torch.zeros(2)), "r_chosen"),
    ],
)  # fmt: skip
def test_bad_types_raise(call, match):
    with pytest.raises(TypeError, match=match):
        call()


def test_inputs_are_not_modified():
    logits, targets, mask = lm_inputs()
    before = logits.clone()
    pref.sft_loss(logits, targets, mask)
    sequence_log_prob(logits, targets, mask)
    torch.testing.assert_close(logits, before)
