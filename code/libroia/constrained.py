"""Decodificación restringida: salidas válidas por construcción.

Para que un modelo escriba, por ejemplo, un número o un JSON con un formato
fijo, no hace falta pedírselo y cruzar los dedos: en cada paso se ponen a
``-inf`` los logits de los tokens que harían imposible completar el formato, y
solo entonces se elige el token. La salida cumple la gramática sin excepción.

Aquí la gramática es una expresión regular y la pregunta «¿puede este prefijo
convertirse todavía en una cadena válida?» la responde el paquete ``regex`` con
``fullmatch(..., partial=True)`` (coincidencia parcial). Las bibliotecas de
producción compilan la expresión a un autómata finito y precalculan, para cada
estado, qué tokens están permitidos (Willard y Louf, 2023); la idea es la misma.

Capítulo: «Muestreo» (``book/09_muestreo.md``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import regex

from libroia._checks import check_int, describe_shape
from libroia.sampling import _prepare, sample

__all__ = [
    "ConstrainedResult",
    "RegexConstraint",
    "constrained_decode",
    "model_next_logits",
    "token_strings",
]


def token_strings(tokenizer: Any) -> list[str | None]:
    """El texto de cada token, o ``None`` si sus bytes no son UTF-8 completo.

    Un token de un solo byte de «ó» (``0xC3``) no es texto por sí mismo; la
    restricción nunca lo permite, así que la salida siempre se decodifica bien.
    ``tokenizer`` necesita ``vocab_size`` y ``token_bytes(id)``.

    >>> class TwoBytes:
    ...     vocab_size = 3
    ...     def token_bytes(self, i):
    ...         return [b"a", "ó".encode()[:1], "ó".encode()][i]
    >>> token_strings(TwoBytes())
    ['a', None, 'ó']
    """
    strings: list[str | None] = []
    for i in range(tokenizer.vocab_size):
        try:
            strings.append(tokenizer.token_bytes(i).decode("utf-8"))
        except UnicodeDecodeError:
            strings.append(None)
    return strings


def model_next_logits(model: Any, prompt_ids: Sequence[int]) -> Callable[[list[int]], Any]:
    """Función ``next_logits(ids)`` para :func:`constrained_decode` a partir de un GPT.

    Devuelve los logits ``(V,)`` del siguiente token tras ``prompt_ids`` más los
    ``ids`` generados, mirando los últimos ``context`` tokens.
    """
    import torch

    prompt = [int(i) for i in prompt_ids]

    def next_logits(ids: list[int]) -> Any:
        idx = torch.tensor([prompt + ids], dtype=torch.long)[:, -model.config.context :]
        with torch.no_grad():
            return model(idx)[0, -1]  # (V,)

    return next_logits


class RegexConstraint:
    """Una expresión regular que la salida completa debe cumplir.

    Parámetros: ``pattern`` (sintaxis de ``regex``; se exige coincidencia
    completa) y ``tokens``: el texto de cada token del vocabulario, ``(V,)``;
    ``None`` o ``""`` marcan tokens que nunca se permiten.

    Ejemplo::

        >>> c = RegexConstraint(r"[0-9]+", ["1", "2", "a", "12"])
        >>> c.allowed("").tolist()
        [True, True, False, True]
        >>> c.is_complete("12"), c.is_complete("")
        (True, False)
    """

    def __init__(self, pattern: str, tokens: Sequence[str | None]) -> None:
        if not isinstance(pattern, str):
            raise TypeError(
                f"`pattern` debe ser una cadena, pero es de tipo {type(pattern).__name__}"
            )
        try:
            self._regex = regex.compile(pattern)
        except regex.error as err:
            raise ValueError(f"`pattern` no es una expresión regular válida: {err}") from err
        if len(tokens) == 0:
            raise ValueError("`tokens` debe tener un texto por token (V ≥ 1), pero está vacía")
        bad = [t for t in tokens if t is not None and not isinstance(t, str)]
        if bad:
            raise TypeError(f"`tokens` debe contener cadenas o None, pero contiene {bad[0]!r}")
        self.pattern = pattern
        self.tokens = list(tokens)
        self._cache: dict[str, np.ndarray] = {}

    @property
    def vocab_size(self) -> int:
        """Tamaño del vocabulario V."""
        return len(self.tokens)

    def is_viable(self, text: str) -> bool:
        """``True`` si ``text`` es prefijo de alguna cadena que cumple la expresión."""
        return self._regex.fullmatch(text, partial=True) is not None

    def is_complete(self, text: str) -> bool:
        """``True`` si ``text`` cumple ya la expresión completa."""
        return self._regex.fullmatch(text) is not None

    def allowed(self, text: str) -> np.ndarray:
        """Máscara booleana ``(V,)``: los tokens que mantienen ``text`` viable."""
        if text not in self._cache:
            self._cache[text] = np.array(
                [bool(t) and self.is_viable(text + t) for t in self.tokens], dtype=bool
            )
        return self._cache[text]

    def mask_logits(self, logits: Any, text: str) -> Any:
        """Copia de ``logits`` ``(V,)`` con ``-inf`` en los tokens prohibidos tras ``text``."""
        x, xp, _ = _prepare(logits)
        if tuple(x.shape) != (self.vocab_size,):
            raise ValueError(
                f"`logits` debe tener forma (V,) = ({self.vocab_size},), "
                f"pero tiene forma {describe_shape(x.shape)}"
            )
        keep = xp.asarray(self.allowed(text), device=x.device)  # (V,)
        return xp.where(keep, x, -math.inf)


@dataclass(frozen=True)
class ConstrainedResult:
    """Salida de :func:`constrained_decode`: ``ids`` generados, su ``text`` y cuántos
    tokens prohibió la restricción en cada paso (``blocked``)."""

    ids: list[int]
    text: str
    blocked: list[int]


def constrained_decode(
    next_logits: Callable[[list[int]], Any],
    constraint: RegexConstraint,
    *,
    max_new_tokens: int,
    temperature: float = 0.0,
    generator: Any = None,
) -> ConstrainedResult:
    """Genera tokens que cumplen ``constraint``, con la salida válida por construcción.

    ``next_logits(ids)`` recibe los ids generados hasta ahora (lista, sin el
    prefijo, que la función ya conoce) y devuelve logits ``(V,)``. En cada paso:

    1. si el texto aún no cumple la expresión, se eligen tokens solo entre los
       permitidos (los demás pasan a ``-inf``);
    2. si ya la cumple, se elige entre *todos* los tokens: si sale uno permitido se
       sigue escribiendo y, si sale uno prohibido, se para. Así la probabilidad de
       terminar es la masa que el modelo da a «otra cosa».

    La elección usa :func:`libroia.sampling.sample` con ``temperature`` (``0`` =
    voraz) y ``generator``. Si se agotan ``max_new_tokens`` sin completar la
    expresión, lanza ``RuntimeError``: nunca devuelve una salida inválida.
    Capítulo «Muestreo».

    Un «modelo» que prefiere siempre la letra «a» tiene que escribir un número de
    dos cifras; luego prefiere «a», que el patrón no admite, y para:

    >>> tokens = ["a", "1", "2"]
    >>> prefers_a = lambda ids: np.array([5.0, 1.0, 0.0])
    >>> constrained_decode(prefers_a, RegexConstraint(r"[0-9]{2}", tokens), max_new_tokens=5).text
    '11'
    """
    max_new_tokens = check_int("max_new_tokens", max_new_tokens, min_value=1)
    if not isinstance(constraint, RegexConstraint):
        raise TypeError(
            f"`constraint` debe ser un RegexConstraint, pero es de tipo {type(constraint).__name__}"
        )
    ids: list[int] = []
    blocked: list[int] = []
    text = ""
    for _ in range(max_new_tokens):
        logits = next_logits(list(ids))
        allowed = constraint.allowed(text)
        complete = constraint.is_complete(text)
        if not allowed.any():
            if complete:
                break
            raise RuntimeError(f"ningún token puede continuar {text!r} según `constraint`")
        if complete:
            choice = int(sample(logits, temperature=temperature, generator=generator))
            if not allowed[choice]:
                break  # el modelo prefiere algo que la gramática no admite: terminar
        else:
            masked = constraint.mask_logits(logits, text)
            choice = int(sample(masked, temperature=temperature, generator=generator))
        blocked.append(int((~allowed).sum()))
        ids.append(choice)
        text += constraint.tokens[choice]
    else:
        if not constraint.is_complete(text):
            raise RuntimeError(
                f"`max_new_tokens` = {max_new_tokens} no bastó para completar el patrón: "
                f"la salida parcial es {text!r}; aumenta `max_new_tokens`"
            )
    assert constraint.is_complete(text), text  # invariante: válida por construcción
    return ConstrainedResult(ids=ids, text=text, blocked=blocked)
