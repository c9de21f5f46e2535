"""Pruebas de libroia.preference: SFT con máscara, Bradley–Terry, RLHF (REINFORCE) y DPO.

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


# --- RLHF con gradiente de política (REINFORCE) sobre un «bandido» de 4 acciones ---
# La política es un vector de logits θ (4,), π = softmax(θ); cada acción a tiene una
# recompensa fija r(a). Es RLHF con respuestas de un solo token y sin prompt.

BANDIT_REWARD = torch.tensor([1.0, 0.5, 0.0, -0.5], dtype=torch.float64)
BANDIT_REF = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)


def bandit_objective(theta, beta):
    """E_π[r] − β·KL(π ‖ π_ref), exacto (sumando sobre las 4 acciones)."""
    logp = torch.log_softmax(theta, dim=0)
    p = logp.exp()
    return (p * BANDIT_REWARD).sum() - beta * (p * (logp - BANDIT_REF.log())).sum()


def bandit_loss(theta, beta, n, group_size, g):
    """rlhf_loss sobre n acciones muestreadas de π (en grupos de group_size)."""
    logp_all = torch.log_softmax(theta, dim=0)
    actions = torch.multinomial(logp_all.detach().exp(), n, replacement=True, generator=g)
    return pref.rlhf_loss(
        logp_all[actions], BANDIT_REF.log()[actions], BANDIT_REWARD[actions],
        beta=beta, group_size=group_size,
    )  # fmt: skip


def test_reinforce_estimate_matches_the_exact_gradient():
    """Promediado sobre muchas muestras, −∇ rlhf_loss es ∇(E[r] − β·KL) exacto (autograd)."""
    beta, k, n = 0.5, 2, 200_000
    theta = torch.tensor([0.3, -0.2, 0.5, 0.0], dtype=torch.float64, requires_grad=True)
    exact = torch.autograd.grad(bandit_objective(theta, beta), theta)[0]
    g = torch.Generator().manual_seed(0)
    # El mismo estimador, muestra a muestra, para conocer su error típico.
    logp_all = torch.log_softmax(theta, dim=0).detach()
    actions = torch.multinomial(logp_all.exp(), n, replacement=True, generator=g)
    penalised = pref.kl_penalised_reward(
        BANDIT_REWARD[actions], logp_all[actions], BANDIT_REF.log()[actions], beta
    )
    adv = pref.leave_one_out_advantages(penalised, k)  # (n,)
    score = torch.eye(4, dtype=torch.float64)[actions] - logp_all.exp()  # ∇_θ log π(a), (n, 4)
    per_sample = adv[:, None] * score  # (n, 4)
    estimate = per_sample.mean(dim=0)
    stderr = per_sample.std(dim=0) / math.sqrt(n)
    # La pérdida de libroia da ese mismo estimador (con el signo cambiado).
    g = torch.Generator().manual_seed(0)
    (grad,) = torch.autograd.grad(bandit_loss(theta, beta, n, k, g), theta)
    torch.testing.assert_close(-grad, estimate)
    assert ((estimate - exact).abs() < 5 * stderr).all(), (estimate, exact, stderr)
    # La prueba distingue el sesgo de la línea de base ingenua (media del grupo con la
    # propia muestra), que encoge el gradiente a (k − 1)/k = la mitad: esta no pasaría.
    naive = estimate * (k - 1) / k
    assert ((naive - exact).abs() > 5 * stderr).any()


def test_reinforce_without_baseline_is_unbiased_but_noisier():
    """Sin línea de base el estimador también acierta en media, pero con recompensas
    desplazadas (+5, algo que no cambia el problema) su varianza se dispara; con la
    línea de base «deja uno fuera» no cambia."""
    beta, n = 0.5, 100_000
    theta = torch.tensor([0.3, -0.2, 0.5, 0.0], dtype=torch.float64, requires_grad=True)
    exact = torch.autograd.grad(bandit_objective(theta, beta), theta)[0]
    p = torch.softmax(theta.detach(), dim=0)
    g = torch.Generator().manual_seed(1)
    actions = torch.multinomial(p, n, replacement=True, generator=g)
    penalised = pref.kl_penalised_reward(
        BANDIT_REWARD[actions] + 5.0, p.log()[actions], BANDIT_REF.log()[actions], beta
    )
    score = torch.eye(4, dtype=torch.float64)[actions] - p  # ∇_θ log π(a), (n, 4)
    plain = penalised[:, None] * score  # (n, 4)
    loo = pref.leave_one_out_advantages(penalised, 4)[:, None] * score  # (n, 4)
    for est in (plain, loo):
        stderr = est.std(dim=0) / math.sqrt(n)
        assert ((est.mean(dim=0) - exact).abs() < 5 * stderr).all()
    assert plain.var(dim=0).sum() > 10 * loo.var(dim=0).sum()


@pytest.mark.parametrize("beta", [0.5, 1.0])
def test_rlhf_loop_converges_to_the_kl_regularised_optimum(beta):
    """Con Adam sobre rlhf_loss, π tiende a π* ∝ π_ref·exp(r/β) (Rafailov et al., 2023, §4)."""
    target = BANDIT_REF * torch.exp(BANDIT_REWARD / beta)
    target = target / target.sum()
    theta = BANDIT_REF.log().clone().requires_grad_(True)  # empieza en π = π_ref
    opt = torch.optim.Adam([theta], lr=0.02)
    g = torch.Generator().manual_seed(0)
    for step in range(1500):
        if step == 1000:
            opt.param_groups[0]["lr"] = 0.005  # pasos más cortos al final: menos ruido
        loss = bandit_loss(theta, beta, 256, 4, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    got = torch.softmax(theta.detach(), dim=0)
    assert (got - target).abs().max() < 0.03, (got, target)
    # π* no es ni la referencia ni la acción de más recompensa: la prueba podría fallar.
    assert (target - BANDIT_REF).abs().max() > 0.1 and target.max() < 0.9


def test_kl_penalised_reward_by_hand():
    r, lp, ref = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, -4.0]), torch.tensor([-2.0, -1.0])
    torch.testing.assert_close(pref.kl_penalised_reward(r, lp, ref, 0.5), torch.tensor([1.5, 1.5]))
    torch.testing.assert_close(pref.kl_penalised_reward(r, lp, ref, 0), r)


@settings(max_examples=40, deadline=None)
@given(
    groups=st.integers(1, 4),
    k=st.integers(2, 5),
    seed=st.integers(0, 1000),
)
def test_leave_one_out_advantages_properties(groups, k, seed):
    """Suman cero en cada grupo, son k/(k − 1)·(r − media) y coinciden con un bucle."""
    g = torch.Generator().manual_seed(seed)
    r = torch.randn(groups * k, generator=g, dtype=torch.float64)
    adv = pref.leave_one_out_advantages(r, k)
    by_group = adv.view(groups, k)
    torch.testing.assert_close(by_group.sum(dim=1), torch.zeros(groups, dtype=torch.float64))
    centred = r.view(groups, k) - r.view(groups, k).mean(dim=1, keepdim=True)
    torch.testing.assert_close(by_group, centred * k / (k - 1))
    for i in range(groups * k):
        start = i // k * k
        others = [r[j] for j in range(start, start + k) if j != i]
        assert adv[i].item() == pytest.approx((r[i] - sum(others) / (k - 1)).item())


def test_policy_gradient_loss_gradient_and_no_gradient_through_advantages():
    logp = torch.tensor([-1.0, -2.0, -0.5], requires_grad=True)
    adv = torch.tensor([2.0, -1.0, 0.0], requires_grad=True)
    pref.policy_gradient_loss(logp, adv).backward()
    torch.testing.assert_close(logp.grad, -adv.detach() / 3)
    assert adv.grad is None


def test_rlhf_loss_ignores_a_reward_shift():
    """Sumar una constante a todas las recompensas de un grupo no cambia el gradiente."""
    g = torch.Generator().manual_seed(7)
    lp = torch.randn(6, generator=g, dtype=torch.float64, requires_grad=True)
    ref, r = torch.randn(6, generator=g).double(), torch.randn(6, generator=g).double()
    grads = []
    for shift in (0.0, 100.0):
        lp.grad = None
        pref.rlhf_loss(lp, ref, r + shift, beta=0.3, group_size=3).backward()
        grads.append(lp.grad.clone())
    torch.testing.assert_close(grads[0], grads[1])


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
        (lambda: pref.kl_penalised_reward(*(torch.zeros(2),) * 3, beta=-0.1), "beta"),
        (lambda: pref.kl_penalised_reward(torch.zeros(2), torch.zeros(3), torch.zeros(2), 0.1),
         "logp"),
        (lambda: pref.leave_one_out_advantages(torch.zeros(5), 2), "rewards"),
        (lambda: pref.leave_one_out_advantages(torch.zeros(4), 1), "group_size"),
        (lambda: pref.leave_one_out_advantages(torch.zeros(2, 2), 2), "rewards"),
        (lambda: pref.policy_gradient_loss(torch.zeros(2), torch.zeros(3)), "advantages"),
        (lambda: pref.rlhf_loss(*(torch.zeros(4),) * 3, beta=0.1, group_size=3), "rewards"),
        (lambda: pref.rlhf_loss(torch.zeros(4), torch.zeros(4), torch.zeros(2), beta=0.1,
                                group_size=2), "rewards"),
        (lambda: pref.rlhf_loss(*(torch.zeros(4),) * 3, beta=float("nan"), group_size=2),
         "beta"),
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
        (lambda: pref.policy_gradient_loss([0.0], torch.zeros(1)), "logp"),
        (lambda: pref.rlhf_loss(torch.zeros(2), torch.zeros(2), torch.zeros(2), beta=0.1,
                                group_size=2.0), "group_size"),
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
