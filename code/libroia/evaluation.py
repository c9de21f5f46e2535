"""Evaluar un modelo de lenguaje: entropía cruzada, perplejidad, bits por carácter, calibración.

* :func:`cross_entropy`: nats por token de las predicciones frente a lo que de
  verdad vino después; :func:`perplexity` y :func:`bits_per_character` son la
  misma cantidad en otras unidades.
* :func:`calibration_bins` y :func:`expected_calibration_error`: ¿acierta el
  modelo el 70 % de las veces que dice estar seguro al 70 %? (Guo et al., 2017).
* :func:`score_text` y :func:`sample_completions` llevan esas medidas y el
  muestreo repetido al GPT del libro; :func:`unigram_cross_entropy` es la línea
  base sin contexto; :func:`cloze_consistency` mide si el acuerdo entre muestras
  predice el acierto; :func:`distinct_ngrams` mide la repetición de un texto.
* :func:`fact_probe`: ¿acierta, inventa o se abstiene un modelo del mundo de juguete
  del capítulo 8 ante «¿ capital de X ?»? :func:`without_countries` quita del corpus
  los países que el modelo no debe conocer.
* :func:`bootstrap_interval`: la incertidumbre de una nota medida con pocas preguntas.

Las funciones numéricas están escritas una vez sobre el *array API* (NumPy o
PyTorch). Capítulo: «Alucinaciones y evaluación» (``book/10_alucinaciones.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from libroia._checks import (
    array_namespace,
    check_array,
    check_class_ids,
    check_float,
    check_int,
    check_token_ids,
    describe_shape,
)
from libroia.functional import log_softmax

__all__ = [
    "CalibrationBins",
    "ClozeResult",
    "FactProbe",
    "Interval",
    "TextScore",
    "bits_per_character",
    "bootstrap_interval",
    "calibration_bins",
    "cloze_consistency",
    "cross_entropy",
    "distinct_ngrams",
    "expected_calibration_error",
    "fact_probe",
    "first_word",
    "mean_log_prob",
    "perplexity",
    "sample_completions",
    "score_text",
    "token_predictions",
    "unigram_cross_entropy",
    "without_countries",
]


def _check_targets(logits: Any, targets: Any) -> tuple[Any, Any, Any]:
    return check_class_ids("logits", logits, "targets", targets)


def cross_entropy(logits: Any, targets: Any) -> float:
    r"""Entropía cruzada media, en nats por token.

    .. math:: H = -\frac{1}{n} \sum_{t=1}^{n} \log p_\theta(x_t \mid x_{<t})

    Parámetros: ``logits`` ``(..., V)`` y ``targets`` enteros ``(...)`` (el token que
    de verdad vino). Coincide con ``torch.nn.functional.cross_entropy``.
    Si el modelo da probabilidad 1/4 a cada token acertado, ``H = ln 4 ≈ 1.386``:

    >>> import numpy as np
    >>> round(cross_entropy(np.zeros((3, 4)), np.array([0, 2, 3])), 3)
    1.386
    """
    logits, targets, xp = _check_targets(logits, targets)
    if math.prod(targets.shape) == 0:
        raise ValueError("`targets` está vacío: no hay tokens que evaluar")
    log_p = log_softmax(logits, axis=-1)  # (..., V)
    picked = xp.take_along_axis(log_p, targets[..., None], axis=-1)  # (..., 1)
    return float(-xp.mean(picked))


def perplexity(nats_per_token: float) -> float:
    r"""Perplejidad: ``e`` elevado a la entropía cruzada en nats.

    .. math:: \mathrm{PPL} = e^{H}

    Es el número de opciones equiprobables entre las que el modelo «duda» en
    promedio: un modelo que reparte por igual entre 512 tokens tiene perplejidad 512.

    >>> round(perplexity(math.log(512)), 6)
    512.0
    """
    h = check_float("nats_per_token", nats_per_token, min_value=0.0)
    return math.exp(h)


def bits_per_character(total_nats: float, n_characters: int) -> float:
    r"""Bits por carácter: la pérdida total pasada a bits y repartida entre los caracteres.

    .. math:: \mathrm{bpc} = \frac{\sum_t -\log p(x_t \mid x_{<t})}{N_{\text{car}} \cdot \ln 2}

    A diferencia de la perplejidad por token, no depende del tokenizador: sirve
    para comparar modelos con vocabularios distintos. 100 nats sobre 50
    caracteres son ``100 / (50 · ln 2) ≈ 2.885`` bits por carácter:

    >>> round(bits_per_character(100.0, 50), 3)
    2.885
    """
    total = check_float("total_nats", total_nats, min_value=0.0)
    n = check_int("n_characters", n_characters, min_value=1)
    return total / (n * math.log(2))


@dataclass(frozen=True)
class CalibrationBins:
    """Tramos de confianza de un diagrama de fiabilidad, de forma ``(K,)`` cada uno.

    ``lower``/``upper``: bordes del tramo ``(lower, upper]`` (el primero incluye el 0:
    ``[0, upper]``); ``confidence``: confianza
    media de las predicciones del tramo; ``accuracy``: fracción de aciertos;
    ``count``: cuántas predicciones caen en él (los tramos vacíos tienen ``nan``).
    """

    lower: Any
    upper: Any
    confidence: Any
    accuracy: Any
    count: Any


def _check_calibration(confidence: Any, correct: Any, n_bins: int) -> tuple[Any, Any, Any, int]:
    """Valida y devuelve ``(confidence, correct como 0/1 float64, xp, n_bins)``.

    ``confidence`` conserva su precisión (float32 o float64) para comparar con los
    bordes en esa misma precisión; los enteros pasan a float64.
    """
    n_bins = check_int("n_bins", n_bins, min_value=1)
    confidence = check_array("confidence", confidence)
    xp = array_namespace(confidence)
    if isinstance(correct, (list, tuple)):
        correct = xp.asarray(correct)
    if not hasattr(correct, "shape") or not hasattr(correct, "dtype"):
        raise TypeError(
            "`correct` debe ser un vector de booleanos o de 0 y 1 (lista, arreglo o tensor), "
            f"pero es de tipo {type(correct).__name__}"
        )
    xp = array_namespace(confidence, correct)
    if confidence.ndim != 1 or tuple(correct.shape) != tuple(confidence.shape):
        raise ValueError(
            "`confidence` y `correct` deben ser vectores (n,) de la misma forma, pero tienen "
            f"formas {describe_shape(confidence.shape)} y {describe_shape(correct.shape)}"
        )
    if confidence.shape[0] == 0:
        raise ValueError("`confidence` está vacío: no hay predicciones que agrupar")
    if not xp.isdtype(confidence.dtype, "real floating"):
        confidence = xp.astype(confidence, xp.float64)
    if bool(xp.any(xp.isnan(confidence))) or bool(
        xp.any((confidence < 0) | (confidence > 1))
    ):
        raise ValueError(
            "`confidence` debe contener probabilidades en [0, 1], pero va de "
            f"{float(xp.min(confidence)):g} a {float(xp.max(confidence)):g}"
        )
    if not xp.isdtype(correct.dtype, "bool"):
        if not xp.isdtype(correct.dtype, ("integral", "real floating")):
            raise TypeError(
                f"`correct` debe contener booleanos o 0 y 1, pero su tipo es {correct.dtype}"
            )
        bad = ~((correct == 0) | (correct == 1))  # también los nan
        if bool(xp.any(bad)):
            first = xp.take(correct, xp.nonzero(bad)[0][:1])
            raise ValueError(
                "`correct` debe contener solo 0 y 1 (o True y False), pero contiene "
                f"{float(first[0]):g}"
            )
    return confidence, xp.astype(correct, xp.float64), xp, n_bins


def calibration_bins(confidence: Any, correct: Any, n_bins: int = 10) -> CalibrationBins:
    r"""Agrupa las predicciones por confianza en ``n_bins`` tramos iguales de [0, 1].

    Parámetros: ``confidence`` ``(n,)``, la probabilidad que el modelo dio a su
    token favorito; ``correct`` ``(n,)`` (booleano o 0/1), si ese favorito era el
    token que vino. Con ``K = n_bins``, el tramo ``b`` (de 1 a ``K``) es
    :math:`((b-1)/K,\ b/K]`: cerrado por arriba, así que una confianza que cae
    justo en un borde va al tramo que ese borde cierra; el primero incluye además
    la confianza 0. Un modelo bien calibrado tiene ``accuracy ≈ confidence`` en
    cada tramo (Guo et al., 2017; capítulo «Alucinaciones y evaluación»).

    Los bordes son los números ``b / K`` redondeados a la precisión de
    ``confidence`` (float32 o float64) y se comparan directamente con ella: nunca se
    calcula ``confidence · K``, cuyo redondeo movería de tramo los valores exactos
    de los bordes (con ``K = 25``, ``0.28 · 25`` da 7.000000000000001).

    >>> bins = calibration_bins([0.9, 0.9, 0.2], [True, False, False], 2)
    >>> bins.upper.tolist(), bins.confidence.tolist(), bins.accuracy.tolist()
    ([0.5, 1.0], [0.2, 0.9], [0.0, 0.5])
    >>> calibration_bins([0.28], [1], 25).count.tolist().index(1)  # el tramo (0.24, 0.28]
    6
    """
    conf, corr, xp, n_bins = _check_calibration(confidence, correct, n_bins)
    edges = xp.arange(n_bins + 1, dtype=xp.float64) / n_bins  # (K + 1,)
    inner = xp.astype(edges[1:-1], conf.dtype)  # (K - 1,) en la precisión de `confidence`
    index = xp.sum(xp.astype(conf[:, None] > inner[None, :], xp.int64), axis=1)  # (n,)
    one_hot = xp.astype(index[:, None] == xp.arange(n_bins)[None, :], xp.float64)  # (n, K)
    count = xp.sum(one_hot, axis=0)  # (K,)
    safe = xp.where(count > 0, count, 1.0)
    nan = float("nan")
    conf64 = xp.astype(conf, xp.float64)
    return CalibrationBins(
        lower=edges[:-1],
        upper=edges[1:],
        confidence=xp.where(count > 0, xp.sum(one_hot * conf64[:, None], axis=0) / safe, nan),
        accuracy=xp.where(count > 0, xp.sum(one_hot * corr[:, None], axis=0) / safe, nan),
        count=xp.astype(count, xp.int64),
    )


def expected_calibration_error(confidence: Any, correct: Any, n_bins: int = 10) -> float:
    r"""Error de calibración esperado (ECE): distancia media entre confianza y acierto.

    .. math::
        \mathrm{ECE} = \sum_{b=1}^{K} \frac{n_b}{n}
        \lvert \mathrm{acc}_b - \mathrm{conf}_b \rvert

    0 es calibración perfecta. Con el ejemplo de :func:`calibration_bins`,
    ``(1/3)·0.2 + (2/3)·0.4 = 1/3``:

    >>> round(expected_calibration_error([0.9, 0.9, 0.2], [1, 0, 0], 2), 4)
    0.3333
    """
    bins = calibration_bins(confidence, correct, n_bins)
    xp = array_namespace(bins.count)
    weight = xp.astype(bins.count, xp.float64) / float(xp.sum(bins.count))
    gap = xp.where(bins.count > 0, xp.abs(bins.accuracy - bins.confidence), 0.0)
    return float(xp.sum(weight * gap))


# ---------------------------------------------------------------------------
# El GPT del libro (PyTorch)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TextScore:
    """Lo bien que un modelo predice un texto (ver :func:`score_text`)."""

    nats_per_token: float
    perplexity: float
    bits_per_token: float
    bits_per_character: float
    n_tokens: int
    n_characters: int


def token_predictions(model: Any, ids: Any, *, temperature: float = 1.0, batch: int = 64):
    """Predice cada token de ``ids`` ``(n,)`` con ventanas consecutivas de ``context`` tokens.

    Como en el entrenamiento, el texto se parte en ventanas de ``T = context`` que
    no se solapan; en cada una el modelo predice el token siguiente de cada
    posición. Devuelve un diccionario de tensores ``(n',)`` (los tokens que caben en
    ventanas completas): ``nll`` (nats), ``confidence`` (probabilidad del favorito),
    ``correct`` (si el favorito acertó) y ``target``.
    """
    import torch

    t = check_float("temperature", temperature, min_value=0.0, min_inclusive=False)
    T = model.config.context
    ids = torch.as_tensor(ids, dtype=torch.long)
    if ids.ndim != 1 or ids.shape[0] < T + 1:
        raise ValueError(
            f"`ids` debe ser un vector (n,) con n ≥ context + 1 = {T + 1}, pero tiene forma "
            f"{describe_shape(ids.shape)}"
        )
    W = (ids.shape[0] - 1) // T  # ventanas completas
    x = ids[: W * T].view(W, T)  # (W, T)
    y = ids[1 : W * T + 1].view(W, T)  # (W, T), desplazada un token
    outs = []
    with torch.no_grad():
        for i in range(0, W, batch):
            log_p = log_softmax(model(x[i : i + batch]).double() / t, axis=-1)  # (N, T, V)
            target = y[i : i + batch]
            nll = -log_p.gather(-1, target[..., None])[..., 0]  # (N, T)
            top = log_p.max(dim=-1)  # (N, T)
            outs.append((nll, top.values.exp(), top.indices == target, target))
    return {
        name: torch.cat([o[j].reshape(-1) for o in outs])
        for j, name in enumerate(("nll", "confidence", "correct", "target"))
    }


def score_text(model: Any, tokenizer: Any, text: str) -> TextScore:
    """Entropía cruzada, perplejidad y bits por token y por carácter de ``model`` sobre ``text``.

    Los caracteres se cuentan en el texto que decodifican los tokens evaluados
    (los de ventanas completas, ver :func:`token_predictions`).
    """
    if not isinstance(text, str) or not text:
        raise ValueError(f"`text` debe ser un texto no vacío, pero es {text!r}")
    preds = token_predictions(model, tokenizer.encode(text))
    total = float(preds["nll"].sum())
    n_tokens = int(preds["nll"].numel())
    n_chars = len(tokenizer.decode(preds["target"].tolist()))
    nats = total / n_tokens
    return TextScore(
        nats_per_token=nats,
        perplexity=perplexity(nats),
        bits_per_token=nats / math.log(2),
        bits_per_character=bits_per_character(total, n_chars),
        n_tokens=n_tokens,
        n_characters=n_chars,
    )


def mean_log_prob(model: Any, tokenizer: Any, text: str) -> float:
    """Log-probabilidad media por token de ``text`` según ``model`` (nats; más alto = más probable).

    Se puntúan todos los tokens menos el primero, que hace de prefijo. La media,
    y no la suma, permite comparar frases de distinta longitud. Una frase cuyas
    tokens reciben todos probabilidad 1/2 da ``ln 0.5 ≈ -0.693``:

    >>> import torch
    >>> class Coin(torch.nn.Module):  # reparte por igual entre V = 2 tokens
    ...     config = type("Config", (), {"context": 8})
    ...     def forward(self, idx):
    ...         return torch.zeros(*idx.shape, 2)
    >>> class Bits:
    ...     def encode(self, text):
    ...         return [int(c) for c in text]
    >>> round(mean_log_prob(Coin(), Bits(), "0110"), 4)
    -0.6931
    """
    from libroia.decoding import continuation_log_probs

    if not isinstance(text, str):
        raise TypeError(f"`text` debe ser un str, pero es de tipo {type(text).__name__}")
    ids = tokenizer.encode(text)
    if len(ids) < 2:
        raise ValueError(f"`text` debe tener al menos dos tokens, pero {text!r} tiene {len(ids)}")
    ids = ids[-(model.config.context + 1) :]
    return float(continuation_log_probs(model, ids[:1], [ids[1:]]).mean())


def sample_completions(
    model: Any,
    tokenizer: Any,
    prompt: str,
    n: int,
    max_new_tokens: int,
    *,
    seed: int = 0,
    **sampling: Any,
) -> list[str]:
    """``n`` continuaciones de ``prompt`` muestreadas en un solo lote (sin el prompt).

    ``sampling`` pasa ``temperature``, ``top_k``, ``top_p`` o ``min_p`` a
    :func:`libroia.sampling.sampler`; ``seed`` fija el generador, así que la misma
    llamada da las mismas muestras.
    """
    import torch

    from libroia.sampling import sampler

    n = check_int("n", n, min_value=1)
    max_new_tokens = check_int("max_new_tokens", max_new_tokens, min_value=1)
    idx = torch.tensor([tokenizer.encode(prompt)], dtype=torch.long).repeat(n, 1)  # (n, T0)
    pick = sampler(generator=torch.Generator().manual_seed(seed), **sampling)
    out = model.generate(idx, max_new_tokens, next_token=pick)  # (n, T0 + nuevos)
    return [tokenizer.decode(row) for row in out[:, idx.shape[1] :].tolist()]


def distinct_ngrams(ids: Any, n: int = 2) -> float:
    """Fracción de n-gramas distintos en una secuencia (1 = ninguno se repite).

    Mide la repetición de un texto generado: la decodificación voraz suele caer
    en bucles y da valores bajos. ``ids`` es una secuencia de ids enteros ``(T,)``
    (lista, arreglo o tensor). ``[1, 2, 1, 2, 1]`` tiene los bigramas (1,2), (2,1),
    (1,2), (2,1): 2 distintos de 4, es decir 0.5.

    >>> distinct_ngrams([1, 2, 1, 2, 1], 2)
    0.5
    """
    n = check_int("n", n, min_value=1)
    seq = check_token_ids("ids", ids)
    grams = [tuple(seq[i : i + n]) for i in range(len(seq) - n + 1)]
    if not grams:
        raise ValueError(f"`ids` debe tener al menos n = {n} elementos, pero tiene {len(seq)}")
    return len(set(grams)) / len(grams)


def unigram_cross_entropy(train_ids: Any, val_ids: Any, vocab_size: int) -> float:
    r"""Entropía cruzada (nats/token) en ``val_ids`` de un modelo que ignora el contexto.

    Cada token recibe su frecuencia en ``train_ids`` con suavizado de Laplace:

    .. math:: p(v) = \frac{c_v + 1}{n + V}

    donde :math:`c_v` es cuántas veces aparece ``v`` en los ``n`` tokens de ``train_ids``.
    Es la línea base que un modelo de lenguaje debe mejorar: sabe qué tokens son
    frecuentes, pero no cuál toca ahora. ``train_ids`` y ``val_ids`` son secuencias
    de ids enteros en ``[0, vocab_size)`` (listas, arreglos o tensores de una
    dimensión). Con cada token igual de frecuente, la línea base es ``ln V``:

    >>> round(unigram_cross_entropy([0, 1, 2, 3] * 5, [3, 2, 1], 4), 4)  # ln 4
    1.3863
    """
    import numpy as np

    V = check_int("vocab_size", vocab_size, min_value=1)
    train = np.asarray(check_token_ids("train_ids", train_ids, vocab_size=V), dtype=np.int64)
    val = np.asarray(check_token_ids("val_ids", val_ids, vocab_size=V), dtype=np.int64)
    for name, ids in (("train_ids", train), ("val_ids", val)):
        if ids.size == 0:
            raise ValueError(f"`{name}` debe contener al menos un id, pero está vacío")
    counts = np.bincount(train, minlength=V) + 1.0  # (V,)
    log_p = np.log(counts / counts.sum())  # (V,)
    return float(-log_p[val].mean())


def first_word(text: str) -> str:
    """La primera palabra de ``text`` (letras o cifras), en minúsculas; ``""`` si no hay.

    >>> first_word("  ¿Atención, por favor?"), first_word("...")
    ('atención', '')
    """
    import regex

    match = regex.search(r"[\p{L}\p{N}]+", text)
    return match.group(0).lower() if match else ""


@dataclass(frozen=True)
class ClozeResult:
    """Resultado de :func:`cloze_consistency`, una entrada por pregunta ``(Q,)``.

    ``truth``: la palabra que de verdad seguía; ``answer``: la más votada entre las
    muestras; ``agreement``: fracción de muestras que la eligieron; ``correct``: si
    acertó; ``samples``: las palabras de cada muestra.
    """

    truth: list[str]
    answer: list[str]
    agreement: Any
    correct: Any
    samples: list[list[str]]


def cloze_consistency(
    model: Any,
    tokenizer: Any,
    text: str,
    *,
    n_questions: int = 100,
    n_samples: int = 10,
    context_tokens: int = 32,
    max_new_tokens: int = 6,
    seed: int = 0,
    **sampling: Any,
) -> ClozeResult:
    """Rellenar huecos muestreando varias veces: ¿el acuerdo entre muestras predice el acierto?

    Se eligen ``n_questions`` posiciones de ``text`` donde empieza una palabra
    (repartidas por igual). Para cada una, el modelo ve los ``context_tokens``
    anteriores y escribe ``n_samples`` continuaciones (``sampling`` va a
    :func:`libroia.sampling.sampler`); se vota su primera palabra con
    :func:`libroia.decoding.self_consistency` y se compara con la verdadera. Todo
    en un solo lote ``(Q · n_samples, context_tokens)``.
    """
    import numpy as np
    import torch

    from libroia.decoding import self_consistency
    from libroia.sampling import sampler

    n_questions = check_int("n_questions", n_questions, min_value=1)
    n_samples = check_int("n_samples", n_samples, min_value=1)
    C = check_int("context_tokens", context_tokens, min_value=1, max_value=model.config.context)
    max_new_tokens = check_int("max_new_tokens", max_new_tokens, min_value=1)
    ids = tokenizer.encode(text)
    pieces = [tokenizer.decode([i]) for i in ids]
    # inicios de palabra: tokens que empiezan por un espacio seguido de letras o cifras
    starts = [i for i in range(C, len(ids) - 8) if pieces[i][:1] == " " and first_word(pieces[i])]
    if len(starts) < n_questions:
        raise ValueError(
            f"`text` solo tiene {len(starts)} inicios de palabra utilizables, "
            f"pero `n_questions` vale {n_questions}"
        )
    chosen = [starts[round(j * (len(starts) - 1) / max(1, n_questions - 1))]
              for j in range(n_questions)]
    prompts = torch.tensor([ids[i - C : i] for i in chosen], dtype=torch.long)  # (Q, C)
    batch = prompts.repeat_interleave(n_samples, dim=0)  # (Q · n_samples, C)
    pick = sampler(generator=torch.Generator().manual_seed(seed), **sampling)
    out = model.generate(batch, max_new_tokens, next_token=pick)[:, C:]  # (Q · n_s, nuevos)
    words = [first_word(tokenizer.decode(row)) for row in out.tolist()]
    samples = [words[q * n_samples : (q + 1) * n_samples] for q in range(n_questions)]
    truth = [first_word(tokenizer.decode(ids[i : i + 8])) for i in chosen]
    votes = [self_consistency(s) for s in samples]
    return ClozeResult(
        truth=truth,
        answer=[str(v.answer) for v in votes],
        agreement=np.array([v.agreement for v in votes]),
        correct=np.array([str(v.answer) == t for v, t in zip(votes, truth, strict=True)]),
        samples=samples,
    )


# ---------------------------------------------------------------------------
# Hechos del mundo de juguete (capítulo 8): saber, inventar o abstenerse
# ---------------------------------------------------------------------------


def _check_world_countries(world: Any, countries: Any, name: str = "countries") -> list[str]:
    """Valida ``world`` (un :class:`~libroia.posttrain_data.ToyWorld`) y una lista de países."""
    from libroia.posttrain_data import ToyWorld

    if not isinstance(world, ToyWorld):
        raise TypeError(
            "`world` debe ser el mundo de juguete de libroia.posttrain_data.make_world, "
            f"pero es de tipo {type(world).__name__}"
        )
    if isinstance(countries, str) or not isinstance(countries, (list, tuple)):
        raise TypeError(
            f"`{name}` debe ser una lista de países (textos), pero es {countries!r:.80}"
        )
    if not countries:
        raise ValueError(f"`{name}` está vacía: no hay países por los que preguntar")
    unknown = [c for c in countries if not isinstance(c, str) or c not in world.capitals]
    if unknown:
        raise ValueError(
            f"`{name}` contiene países que no están en el mundo de juguete: {unknown!r:.120}"
        )
    return list(countries)


def without_countries(world: Any, corpus: Any, countries: Any) -> Any:
    """El corpus de preentrenamiento sin ninguna página que nombre ``countries`` ni sus capitales.

    ``corpus`` son las secuencias ``(N, T+1)`` de
    :func:`libroia.posttrain_data.pretraining_corpus`; se devuelven las filas que no
    contienen ninguno de esos países ni de sus capitales. Un modelo entrenado con
    el resultado no ha leído nada sobre ellos: sirve para medir qué contesta
    cuando le preguntan por algo que no puede saber (capítulo «Alucinaciones y
    evaluación»).

    >>> from libroia.posttrain_data import make_world, pretraining_corpus
    >>> world = make_world()
    >>> corpus = pretraining_corpus(world, 200, seed=0)
    >>> smaller = without_countries(world, corpus, ["kenia"])
    >>> any("kenia" in world.decode(row) for row in smaller.idx.tolist()), len(smaller) < 200
    (False, True)
    """
    import torch

    countries = _check_world_countries(world, countries)
    if not hasattr(corpus, "idx") or not hasattr(corpus, "subset"):
        raise TypeError(
            "`corpus` debe ser un corpus de libroia.posttrain_data.pretraining_corpus, "
            f"pero es de tipo {type(corpus).__name__}"
        )
    words = [*countries, *(world.capitals[c] for c in countries)]
    banned = torch.tensor([world.vocab.index(w) for w in words])  # (2k,)
    keep = ~torch.isin(corpus.idx, banned).any(dim=1)  # (N,)
    return corpus.subset(torch.nonzero(keep)[:, 0])


@dataclass(frozen=True)
class FactProbe:
    """Resultado de :func:`fact_probe`, una entrada por pregunta: vectores ``(n,)``.

    Probabilidades exactas de cada clase de respuesta a «¿ capital de X ?»:
    ``p_correct`` (la capital correcta), ``p_wrong`` (una capital equivocada, dicha
    con el mismo aplomo: una alucinación), ``p_refusal`` («no lo sé .») y
    ``p_other`` (cualquier otra cosa, como seguir con otra pregunta). Suman 1.

    Si se obliga al modelo a contestar con una capital: ``answer`` es la que elige
    (la más probable), ``confidence`` la probabilidad que le da entre las
    capitales y ``correct`` si acierta. Son la confianza y el acierto de
    :func:`calibration_bins`.
    """

    countries: tuple[str, ...]
    truth: tuple[str, ...]
    answer: tuple[str, ...]
    confidence: Any
    correct: Any
    p_correct: Any
    p_wrong: Any
    p_refusal: Any
    p_other: Any

    def rates(self) -> dict[str, float]:
        """Fracción esperada de respuestas de cada clase al muestrear (media sobre preguntas)."""
        return {
            "correct": float(self.p_correct.mean()),
            "wrong": float(self.p_wrong.mean()),
            "refusal": float(self.p_refusal.mean()),
            "other": float(self.p_other.mean()),
        }


def fact_probe(model: Any, world: Any, countries: Any) -> FactProbe:
    r"""Pregunta «¿ capital de X ?» por cada país de ``countries`` y mide qué contesta ``model``.

    Sin muestrear: para cada pregunta se calcula la probabilidad exacta de las
    ``V_c + 1`` respuestas completas posibles, «capital Y .» para cada una de las
    ``V_c`` capitales del mundo y «no lo sé .», cada una seguida de ``<eos>``, con
    :func:`libroia.decoding.sequence_log_prob` sobre la máscara de la respuesta. Lo
    que no es ninguna de ellas es ``p_other``. Todo en un lote ``(n · (V_c + 1), T)``.

    La confianza es la probabilidad de la capital favorita :math:`\hat y` entre las
    capitales, :math:`P(\hat y) / \sum_y P(y)`: lo que el modelo apuesta por su
    respuesta cuando contesta, como en una pregunta de opción múltiple.

    Con un modelo sin entrenar, las cuatro clases suman 1 y la confianza es al
    menos ``1 / 24``, la de elegir al azar entre las 24 capitales:

    >>> from libroia.posttrain import new_model
    >>> from libroia.posttrain_data import make_world
    >>> world = make_world()
    >>> probe = fact_probe(new_model(world), world, ["kenia", "perú"])
    >>> probe.truth, round(sum(probe.rates().values()), 6), bool(probe.confidence.min() >= 1 / 24)
    (('nairobi', 'lima'), 1.0, True)
    """
    import numpy as np
    import torch

    from libroia.decoding import sequence_log_prob
    from libroia.posttrain_data import ANSWER, QUESTION, REFUSAL, T_MAX, pack

    countries = _check_world_countries(world, countries)
    vocab_size = getattr(getattr(model, "config", None), "vocab_size", None)
    if vocab_size != len(world.vocab):
        raise ValueError(
            f"`model` debe tener el vocabulario del mundo (V = {len(world.vocab)}), "
            f"pero su vocab_size es {vocab_size}"
        )
    capitals = list(dict.fromkeys(world.capitals.values()))  # (V_c,)
    n, k = len(countries), len(capitals)
    prompts = [QUESTION.format(c=c) for c in countries for _ in range(k + 1)]
    responses = [r for c in countries
                 for r in [*(ANSWER.format(k=y) for y in capitals), REFUSAL]]
    data = pack(world, prompts, responses, T_MAX)  # idx (n · (V_c + 1), T + 1)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits = model(data.idx[:, :-1])  # (n · (V_c + 1), T, V)
        log_p = sequence_log_prob(logits.double(), data.idx[:, 1:], data.mask())
    model.train(was_training)
    p = log_p.exp().view(n, k + 1).numpy()  # (n, V_c + 1)
    p_capital = p[:, :k]  # (n, V_c)
    truth = [world.capitals[c] for c in countries]
    right = np.array([capitals.index(t) for t in truth])  # (n,)
    p_correct = p_capital[np.arange(n), right]
    p_answer = p_capital.sum(axis=1)  # (n,)
    best = p_capital.argmax(axis=1)  # (n,)
    return FactProbe(
        countries=tuple(countries),
        truth=tuple(truth),
        answer=tuple(capitals[i] for i in best),
        confidence=p_capital[np.arange(n), best] / p_answer,
        correct=best == right,
        p_correct=p_correct,
        p_wrong=p_answer - p_correct,
        p_refusal=p[:, k],
        p_other=np.clip(1.0 - p_answer - p[:, k], 0.0, 1.0),
    )


# ---------------------------------------------------------------------------
# Incertidumbre de una nota: intervalo bootstrap
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """Una media con su intervalo de confianza: ``estimate`` en ``[low, high]``."""

    estimate: float
    low: float
    high: float


def bootstrap_interval(
    scores: Any, *, confidence: float = 0.95, n_resamples: int = 10_000, seed: int = 0
) -> Interval:
    r"""Media de ``scores`` ``(n,)`` con su intervalo bootstrap de percentiles.

    Se sacan ``n_resamples`` muestras de ``n`` preguntas con reemplazo, se calcula la
    media de cada una y el intervalo va del percentil :math:`(1 - c)/2` al
    :math:`(1 + c)/2` de esas medias, con :math:`c` = ``confidence`` (Efron y
    Tibshirani, 1993). Mide cuánto cambiaría la nota con otras ``n`` preguntas del
    mismo tipo. Para comparar dos modelos en las mismas preguntas se pasa la
    diferencia pregunta a pregunta (bootstrap emparejado). Coincide con
    ``scipy.stats.bootstrap(..., method="percentile")``.

    >>> iv = bootstrap_interval([1, 1, 1, 0] * 5, n_resamples=2000)
    >>> iv.estimate, 0.5 < iv.low < 0.75 < iv.high < 0.95
    (0.75, True)
    """
    import numpy as np

    c = check_float("confidence", confidence, min_value=0.0, max_value=1.0,
                    min_inclusive=False, max_inclusive=False)
    n_resamples = check_int("n_resamples", n_resamples, min_value=1)
    seed = check_int("seed", seed, min_value=0)
    if isinstance(scores, (list, tuple)):
        scores = np.asarray(scores, dtype=np.float64)
    if hasattr(scores, "detach"):
        scores = scores.detach().cpu().numpy()
    scores = check_array("scores", scores)
    if scores.ndim != 1 or scores.shape[0] == 0:
        raise ValueError(
            "`scores` debe ser un vector (n,) con al menos una nota, pero tiene forma "
            f"{describe_shape(scores.shape)}"
        )
    scores = np.asarray(scores, dtype=np.float64)
    if not np.isfinite(scores).all():
        raise ValueError("`scores` debe contener números finitos, pero contiene nan o infinitos")
    rng = np.random.default_rng(seed)
    n = scores.shape[0]
    means = scores[rng.integers(0, n, size=(n_resamples, n))].mean(axis=1)  # (n_resamples,)
    low, high = np.quantile(means, [(1 - c) / 2, (1 + c) / 2])
    return Interval(float(scores.mean()), float(low), float(high))
