"""Pérdidas del posentrenamiento: afinado supervisado, modelo de recompensa, RLHF y DPO.

Las piezas con las que un modelo preentrenado se convierte en un asistente:

* :func:`sft_loss`: entropía cruzada sobre los tokens de la **respuesta**, con
  los del *prompt* enmascarados (afinado supervisado, *supervised fine-tuning*).
  La log-probabilidad de cada token y de cada respuesta entera son
  :func:`libroia.decoding.token_log_probs` y :func:`libroia.decoding.sequence_log_prob`
  (con ``mask``): una sola implementación para todo el libro.
* :func:`bradley_terry_loss`: la pérdida por parejas de Bradley y Terry (1952)
  con la que se entrena un modelo de recompensa a partir de preferencias.
* :func:`dpo_loss`: la optimización directa de preferencias (*Direct Preference
  Optimization*) de Rafailov et al. (2023), que ajusta el modelo con las
  preferencias sin entrenar un modelo de recompensa aparte.
* :func:`rlhf_loss`: la pérdida de gradiente de política (REINFORCE, Williams, 1992)
  con la que RLHF maximiza la recompensa penalizada con la divergencia KL; sus
  piezas son :func:`kl_penalised_reward`, :func:`leave_one_out_advantages` y
  :func:`policy_gradient_loss`.

Convención de formas: una secuencia de ``T + 1`` tokens se parte en la entrada
``idx[:, :-1]`` y los objetivos ``targets = idx[:, 1:]``, ambos ``(N, T)``; los
``logits`` del modelo son ``(N, T, V)`` y ``logits[n, t]`` predice ``targets[n, t]``.
Una máscara ``(N, T)`` booleana dice qué objetivos cuentan (``True`` = cuenta).

Todo se explica en el capítulo 8, «Posentrenamiento».
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from libroia._checks import check_float, check_int, describe_shape
from libroia.decoding import sequence_log_prob

__all__ = [
    "bradley_terry_loss",
    "dpo_implicit_rewards",
    "dpo_loss",
    "kl_penalised_reward",
    "leave_one_out_advantages",
    "policy_gradient_loss",
    "preference_probability",
    "response_mask",
    "rlhf_loss",
    "sft_loss",
]


def _tensor(name: str, x, *, ndim: int, layout: str, floating: bool = True) -> torch.Tensor:
    """Exige un tensor de PyTorch con ``ndim`` dimensiones (y de coma flotante si se pide)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"`{name}` debe ser un tensor de PyTorch, pero es {type(x).__name__}")
    if x.ndim != ndim:
        raise ValueError(
            f"`{name}` debe tener forma {layout}, pero tiene forma {describe_shape(x.shape)}"
        )
    if floating and not x.is_floating_point():
        raise TypeError(f"`{name}` debe ser de coma flotante, pero su tipo es {x.dtype}")
    return x


def _check_lm(logits, targets, mask=None) -> None:
    """Valida ``logits`` ``(N, T, V)``, ``targets`` ``(N, T)`` y ``mask`` ``(N, T)``."""
    _tensor("logits", logits, ndim=3, layout="(N, T, V)")
    _tensor("targets", targets, ndim=2, layout="(N, T)", floating=False)
    if targets.dtype != torch.long:
        raise TypeError(f"`targets` debe ser de tipo torch.long, pero es {targets.dtype}")
    if tuple(targets.shape) != tuple(logits.shape[:2]):
        raise ValueError(
            "`targets` debe tener forma (N, T) igual a las dos primeras dimensiones de "
            f"`logits`, pero `logits` tiene forma {describe_shape(logits.shape)} y `targets` "
            f"tiene forma {describe_shape(targets.shape)}"
        )
    V = logits.shape[-1]
    if targets.numel() and (targets.min() < 0 or targets.max() >= V):
        raise ValueError(
            f"`targets` debe contener ids en [0, {V}), pero va de {int(targets.min())} "
            f"a {int(targets.max())}"
        )
    if mask is not None:
        _tensor("mask", mask, ndim=2, layout="(N, T)", floating=False)
        if mask.dtype != torch.bool:
            raise TypeError(f"`mask` debe ser booleana (True = cuenta), pero es {mask.dtype}")
        if mask.shape != targets.shape:
            raise ValueError(
                f"`mask` debe tener la forma de `targets` {describe_shape(targets.shape)}, "
                f"pero tiene forma {describe_shape(mask.shape)}"
            )


def response_mask(prompt_lengths, lengths, T: int) -> torch.Tensor:
    """Máscara ``(N, T)`` de los objetivos que pertenecen a la respuesta.

    Cada secuencia ``n`` tiene ``lengths[n]`` tokens reales (el resto es relleno),
    de los que los ``prompt_lengths[n]`` primeros son el *prompt*. El objetivo ``t``
    es el token ``t + 1`` de la secuencia, así que cuenta si
    ``prompt_lengths[n] ≤ t + 1 < lengths[n]``.

    Con un prompt de 2 tokens, 5 tokens reales y ``T = 5`` se predicen los tokens
    2, 3 y 4:

    >>> response_mask([2], [5], 5).tolist()
    [[False, True, True, True, False]]
    """
    prompt_lengths = torch.as_tensor(prompt_lengths)
    lengths = torch.as_tensor(lengths)
    T = check_int("T", T, min_value=1)
    if prompt_lengths.ndim != 1 or lengths.shape != prompt_lengths.shape:
        raise ValueError(
            "`prompt_lengths` y `lengths` deben ser vectores (N,) de la misma forma, pero "
            f"tienen formas {describe_shape(prompt_lengths.shape)} y "
            f"{describe_shape(lengths.shape)}"
        )
    if (prompt_lengths < 1).any() or (lengths < prompt_lengths).any() or (lengths > T + 1).any():
        raise ValueError(
            "`lengths` debe cumplir 1 ≤ prompt_lengths ≤ lengths ≤ T + 1 = "
            f"{T + 1}, pero prompt_lengths = {prompt_lengths.tolist()} y "
            f"lengths = {lengths.tolist()}"
        )
    position = torch.arange(1, T + 1)  # (T,) posición del token que se predice
    return (position >= prompt_lengths[:, None]) & (position < lengths[:, None])  # (N, T)


def sft_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Entropía cruzada media sobre los objetivos con ``mask`` a ``True``.

    Implementa L = −(1/|M|) Σ_{(n,t) ∈ M} log p_θ(targets[n, t] | tokens anteriores),
    donde M son las posiciones de la respuesta: el modelo no aprende a escribir el
    *prompt*, solo a contestarlo. Con ``mask`` todo a ``True`` es la pérdida del
    preentrenamiento. Es ``−sequence_log_prob(logits, targets, mask).sum() / |M|``
    (:func:`libroia.decoding.sequence_log_prob`) y equivale a ``F.cross_entropy``
    con ``ignore_index`` en las posiciones enmascaradas, también cuando una de ellas
    tiene log-probabilidad ``-inf``: las posiciones enmascaradas no cuentan (se
    eligen con ``where``; multiplicar ``-inf`` por 0 daría ``nan``).

    Parámetros: ``logits`` ``(N, T, V)``, ``targets`` ``(N, T)`` de tipo
    ``torch.long`` y ``mask`` ``(N, T)`` booleana. Devuelve un escalar (nats por
    token). Lanza ``ValueError`` si ``mask`` no selecciona ningún token.
    Capítulo 8, «Posentrenamiento».

    >>> logits = torch.log(torch.tensor([[[0.5, 0.5], [0.25, 0.75]]]))  # (1, 2, 2)
    >>> targets, mask = torch.tensor([[0, 1]]), torch.tensor([[False, True]])
    >>> round(sft_loss(logits, targets, mask).item(), 4)  # −log 0.75: solo cuenta la 2.ª
    0.2877
    """
    _check_lm(logits, targets, mask)
    count = mask.sum()
    if count == 0:
        raise ValueError("`mask` no selecciona ningún token: no hay respuesta que aprender")
    return -sequence_log_prob(logits, targets, mask).sum() / count


def _same_vectors(**tensors: torch.Tensor) -> None:
    shape = None
    for name, x in tensors.items():
        _tensor(name, x, ndim=1, layout="(N,)")
        if shape is not None and x.shape != shape:
            names = ", ".join(f"`{n}`" for n in tensors)
            raise ValueError(
                f"{names} deben tener la misma forma (N,), pero `{name}` tiene forma "
                f"{describe_shape(x.shape)} y la primera {describe_shape(shape)}"
            )
        shape = x.shape


def preference_probability(r_a: torch.Tensor, r_b: torch.Tensor) -> torch.Tensor:
    """Probabilidad de Bradley–Terry ``(N,)`` de preferir A a B: σ(r_a − r_b).

    Recompensas iguales dan 0.5; con r_a − r_b = log 3, 0.75:

    >>> import math
    >>> preference_probability(torch.tensor([0.0, math.log(3)]), torch.zeros(2)).round(decimals=4)
    tensor([0.5000, 0.7500])
    """
    _same_vectors(r_a=r_a, r_b=r_b)
    return torch.sigmoid(r_a - r_b)


def bradley_terry_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor) -> torch.Tensor:
    """Pérdida por parejas del modelo de recompensa: −mean log σ(r_elegida − r_rechazada).

    ``r_chosen`` y ``r_rejected`` ``(N,)`` son las recompensas que el modelo da a la
    respuesta preferida y a la rechazada de cada pareja. Minimizarla es maximizar la
    verosimilitud de las preferencias observadas bajo el modelo de Bradley y Terry
    (1952). Se calcula con ``logsigmoid`` para no desbordar con diferencias grandes.

    Con diferencias nulas vale log 2 ≈ 0.693:

    >>> round(bradley_terry_loss(torch.zeros(3), torch.zeros(3)).item(), 4)
    0.6931
    """
    _same_vectors(r_chosen=r_chosen, r_rejected=r_rejected)
    return -F.logsigmoid(r_chosen - r_rejected).mean()


def dpo_implicit_rewards(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Recompensas implícitas de DPO ``(N,)``: β·(log π(y|x) − log π_ref(y|x)).

    Devuelve ``(elegida, rechazada)``. DPO las trata como la recompensa que el
    modelo ajustado ha aprendido sin tener un modelo de recompensa explícito.

    >>> chosen, rejected = dpo_implicit_rewards(
    ...     torch.tensor([-1.0]), torch.tensor([-3.0]), torch.tensor([-2.0]), torch.tensor([-2.0]),
    ...     beta=0.5)
    >>> chosen.tolist(), rejected.tolist()
    ([0.5], [-0.5])
    """
    _same_vectors(
        policy_chosen=policy_chosen, policy_rejected=policy_rejected,
        ref_chosen=ref_chosen, ref_rejected=ref_rejected,
    )  # fmt: skip
    beta = check_float("beta", beta, min_value=0.0, min_inclusive=False)
    return beta * (policy_chosen - ref_chosen), beta * (policy_rejected - ref_rejected)


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float = 0.1,
) -> torch.Tensor:
    """Pérdida de DPO (Rafailov et al., 2023), media sobre ``N`` parejas.

    Con log-probabilidades de secuencia ``(N,)`` del modelo que se ajusta (π) y
    del de referencia congelado (π_ref) para la respuesta elegida y la rechazada::

        L = −mean log σ( β [ (log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l)) ] )

    Es la pérdida de Bradley–Terry con la recompensa implícita
    β·log(π/π_ref): sube la probabilidad relativa de la respuesta preferida sin
    alejarse demasiado de la referencia (β controla cuánto).

    Las log-probabilidades salen de :func:`libroia.decoding.sequence_log_prob`.
    Si π = π_ref la pérdida vale log 2 ≈ 0.693:

    >>> lp = torch.tensor([-2.0, -5.0])
    >>> round(dpo_loss(lp, lp - 1, lp, lp - 1).item(), 4)
    0.6931
    """
    chosen, rejected = dpo_implicit_rewards(
        policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta
    )
    return -F.logsigmoid(chosen - rejected).mean()


def kl_penalised_reward(
    rewards: torch.Tensor, logp: torch.Tensor, ref_logp: torch.Tensor, beta: float
) -> torch.Tensor:
    """Recompensa penalizada ``(N,)`` de cada respuesta: r − β·(log π(y|x) − log π_ref(y|x)).

    ``rewards``, ``logp`` y ``ref_logp`` son vectores ``(N,)``: la recompensa de cada
    respuesta muestreada y su log-probabilidad de secuencia según la política y según
    la referencia. Como las respuestas salen de π, la media de
    ``logp − ref_logp`` estima KL(π ‖ π_ref), así que la media de lo que devuelve
    estima el objetivo de RLHF (ecuación ``eq-post-rlhf`` del capítulo 8). ``beta``
    puede ser 0 (sin penalización).

    >>> kl_penalised_reward(torch.tensor([1.0, 1.0]), torch.tensor([-1.0, -3.0]),
    ...                     torch.tensor([-2.0, -2.0]), beta=0.5).tolist()
    [0.5, 1.5]
    """
    _same_vectors(rewards=rewards, logp=logp, ref_logp=ref_logp)
    beta = check_float("beta", beta, min_value=0.0)
    return rewards - beta * (logp - ref_logp)


def leave_one_out_advantages(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """Ventajas ``(N,)`` con la media de las demás respuestas del grupo como línea de base.

    ``rewards`` ``(N,)`` viene en grupos consecutivos de ``group_size`` respuestas al
    mismo *prompt* (``N`` múltiplo de ``group_size`` ≥ 2). La ventaja de la respuesta
    ``i`` es su recompensa menos la media de las otras ``group_size − 1`` de su grupo.
    Esa línea de base no depende de la respuesta ``i``, así que no sesga el
    estimador de REINFORCE (la media del grupo entero, que incluye a ``i``, lo
    encogería en un factor (k − 1)/k). Es lo mismo que ``k/(k − 1)`` veces la
    recompensa menos la media del grupo.

    >>> leave_one_out_advantages(torch.tensor([1.0, 0.0, 2.0, 2.0]), group_size=2).tolist()
    [1.0, -1.0, 0.0, 0.0]
    """
    _tensor("rewards", rewards, ndim=1, layout="(N,)")
    k = check_int("group_size", group_size, min_value=2)
    if rewards.shape[0] % k:
        raise ValueError(
            f"`rewards` debe tener un múltiplo de group_size = {k} elementos, pero tiene "
            f"{rewards.shape[0]}"
        )
    groups = rewards.view(-1, k)  # (N/k, k)
    others = (groups.sum(dim=1, keepdim=True) - groups) / (k - 1)  # (N/k, k)
    return (groups - others).view(-1)  # (N,)


def policy_gradient_loss(logp: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
    """Pérdida sustituta de REINFORCE: −mean(A · log π(y|x)), con A sin gradiente.

    ``logp`` ``(N,)`` son log-probabilidades de secuencia (con gradiente) de
    respuestas muestreadas de la propia política y ``advantages`` ``(N,)`` sus
    ventajas. La pérdida no mide nada por sí misma; su gradiente es menos el
    estimador de Williams (1992), (1/N) Σ A_n ∇ log π(y_n|x_n), del gradiente de la
    recompensa esperada. Las ventajas se separan del grafo (``detach``): son pesos,
    no algo que optimizar.

    >>> logp = torch.tensor([-1.0, -2.0], requires_grad=True)
    >>> policy_gradient_loss(logp, torch.tensor([1.0, -1.0])).backward()
    >>> logp.grad.tolist()  # sube la de ventaja positiva, baja la otra
    [-0.5, 0.5]
    """
    _same_vectors(logp=logp, advantages=advantages)
    return -(advantages.detach() * logp).mean()


def rlhf_loss(
    logp: torch.Tensor,
    ref_logp: torch.Tensor,
    rewards: torch.Tensor,
    *,
    beta: float,
    group_size: int,
) -> torch.Tensor:
    """Pérdida de RLHF con gradiente de política (REINFORCE con línea de base).

    Las entradas son vectores ``(N,)`` de ``N`` respuestas muestreadas de la política,
    en grupos consecutivos de ``group_size`` respuestas al mismo *prompt*: ``logp``
    (log π, con gradiente), ``ref_logp`` (log π_ref) y ``rewards`` (recompensa del
    modelo de recompensa). Se penaliza la recompensa con
    :func:`kl_penalised_reward`, se le resta la línea de base de
    :func:`leave_one_out_advantages` y se aplica :func:`policy_gradient_loss`: es la
    ecuación ``eq-post-reinforce`` del capítulo 8. Su gradiente es un estimador sin
    sesgo de menos el gradiente del objetivo ``eq-post-rlhf`` (el término
    −β ∇ log π que falta tiene media cero).

    Dos respuestas al mismo *prompt* con la misma recompensa; la segunda ya es
    mucho más probable para π que para π_ref, así que la penalización la frena y el
    gradiente (que se resta al descender) sube la primera:

    >>> lp = torch.tensor([-1.0, -1.0], requires_grad=True)
    >>> loss = rlhf_loss(lp, torch.tensor([-1.0, -3.0]), torch.tensor([1.0, 1.0]),
    ...                  beta=0.5, group_size=2)
    >>> loss.backward(); lp.grad.tolist()
    [-0.5, 0.5]
    """
    _same_vectors(logp=logp, ref_logp=ref_logp, rewards=rewards)
    with torch.no_grad():
        penalised = kl_penalised_reward(rewards, logp, ref_logp, beta)  # (N,)
        advantages = leave_one_out_advantages(penalised, group_size)  # (N,)
    return policy_gradient_loss(logp, advantages)
