"""El «impuesto del idioma»: cuántos tokens cuesta decir lo mismo en cada lengua.

Se cuentan los tokens de las mismas frases (``libroia.parallel_sentences``) en
varios idiomas y se dividen por los del inglés:

    impuesto(idioma) = tokens(frases en idioma) / tokens(frases en inglés)

Un 1.5 quiere decir que decir lo mismo cuesta un 50 % más de tokens: más
dinero si pagas por token, menos texto en la ventana de contexto y más
cómputo por frase.

Los tokenizadores reales son los de OpenAI, que el paquete ``bpe-openai``
trae dentro (sin red): ``cl100k_base`` (GPT-3.5 y GPT-4) y ``o200k_base``
(GPT-4o). Las pruebas comprueban que dan los ids publicados en la
documentación de OpenAI.

Ejemplo que puedes comprobar a mano (a nivel de bytes, sin fusiones, el
impuesto es el cociente de bytes UTF-8: «ñ» ocupa 2 bytes y «n», 1)::

    >>> language_tax(lambda s: list(s.encode()), {"en": ["n"], "es": ["ñ"]})
    {'en': 1.0, 'es': 2.0}

Capítulo 2 («Tokens y datos»).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
import warnings
from collections.abc import Callable, Mapping, Sequence

from libroia._checks import check_choice, check_int, check_text
from libroia.parallel_sentences import LANGUAGES, SENTENCES

__all__ = [
    "ENCODINGS",
    "LANGUAGES",
    "SENTENCES",
    "english_reference_text",
    "language_tax",
    "openai_encoding",
    "token_counts",
    "token_pieces",
]

# Codificaciones de OpenAI disponibles sin red y el modelo que las usa.
ENCODINGS: dict[str, str] = {"cl100k_base": "GPT-4", "o200k_base": "GPT-4o"}


def openai_encoding(name: str):
    """Codificación de OpenAI por nombre (``"cl100k_base"`` u ``"o200k_base"``).

    Devuelve un objeto con ``.encode(str) -> list[int]`` y ``.decode(ids)``,
    como los de ``tiktoken``. Necesita el paquete ``bpe-openai``, que trae
    los vocabularios dentro y no usa la red.

    Ejemplo (ids publicados por OpenAI)::

        >>> openai_encoding("cl100k_base").encode("hello world")
        [15339, 1917]
    """
    return _load_encoding(check_choice("name", name, sorted(ENCODINGS)))


@functools.cache
def _load_encoding(name: str):
    try:
        import bpe_openai
    except ImportError as err:  # pragma: no cover - depende del entorno
        raise ImportError(
            "para usar las codificaciones de OpenAI sin red instala el paquete "
            "`bpe-openai` (pip install bpe-openai==0.1.4)"
        ) from err
    return bpe_openai.get_encoding(name)


def token_pieces(encoding, text: str) -> list[str]:
    """Los tokens de ``text`` como cadenas, para ver dónde corta un tokenizador.

    ``encoding`` es un :class:`libroia.tokenizer.BPETokenizer` o una codificación
    de :func:`openai_encoding`. Los trozos que no son UTF-8 completo se
    muestran como ``\\xNN``.

    Ejemplo::

        >>> token_pieces(openai_encoding("cl100k_base"), "tiktoken is great!")
        ['t', 'ik', 'token', ' is', ' great', '!']
    """
    text = check_text("text", text)
    if hasattr(encoding, "token_bytes"):
        to_bytes = encoding.token_bytes
    elif hasattr(encoding, "decode_single_token_bytes"):
        to_bytes = encoding.decode_single_token_bytes
    else:
        raise TypeError(
            "`encoding` debe ser un BPETokenizer o una codificación de openai_encoding, "
            f"pero es de tipo {type(encoding).__name__}"
        )
    return [to_bytes(i).decode("utf-8", errors="backslashreplace") for i in encoding.encode(text)]


def _check_sentences(
    sentences: Mapping[str, Sequence[str]] | None, reference: str | None
) -> Mapping[str, Sequence[str]]:
    sentences = SENTENCES if sentences is None else sentences
    if not isinstance(sentences, Mapping) or not sentences:
        raise TypeError(
            "`sentences` debe ser un dict no vacío {idioma: [frases]}, pero es de tipo "
            f"{type(sentences).__name__}"
        )
    for lang, items in sentences.items():
        if isinstance(items, str) or not all(isinstance(s, str) for s in items):
            raise TypeError(f"`sentences[{lang!r}]` debe ser una lista de str, pero es {items!r}")
    if reference is not None:
        if reference not in sentences:
            raise ValueError(
                f"`reference` debe ser uno de los idiomas de `sentences` {sorted(sentences)}, "
                f"pero vale {reference!r}"
            )
        n_ref = len(sentences[reference])
        for lang, items in sentences.items():
            if len(items) != n_ref:
                raise ValueError(
                    f"`sentences` debe tener las mismas frases en cada idioma, pero "
                    f"{reference!r} tiene {n_ref} y {lang!r} tiene {len(items)}"
                )
    return sentences


def token_counts(
    encode: Callable[[str], Sequence[int]],
    sentences: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, int]:
    """Tokens que cuesta cada idioma: la suma sobre sus frases de ``len(encode(frase))``.

    ``sentences`` es ``{código: [frases]}``; por omisión, las de
    ``libroia.parallel_sentences``.
    """
    if not callable(encode):
        raise TypeError(f"`encode` debe ser una función, pero es de tipo {type(encode).__name__}")
    sentences = _check_sentences(sentences, None)
    return {lang: sum(len(encode(s)) for s in items) for lang, items in sentences.items()}


def language_tax(
    encode: Callable[[str], Sequence[int]],
    sentences: Mapping[str, Sequence[str]] | None = None,
    reference: str = "en",
) -> dict[str, float]:
    """Impuesto del idioma: tokens de cada idioma divididos por los de ``reference``.

    Parámetros
    ----------
    encode:
        Función de texto a ids: ``BPETokenizer.encode``, ``openai_encoding(n).encode``…
    sentences:
        ``{código: [frases]}`` con las mismas frases en cada idioma (por omisión,
        las quince lenguas de ``libroia.parallel_sentences``).
    reference:
        Idioma que vale 1.0 (por omisión, ``"en"``).
    """
    sentences = _check_sentences(sentences, reference)
    counts = token_counts(encode, sentences)
    if counts[reference] == 0:
        raise ValueError(f"`reference` ({reference!r}) no tiene ningún token: no se puede dividir")
    return {lang: counts[lang] / counts[reference] for lang in sentences}


# Módulos de la biblioteca estándar cuya documentación sirve de texto en inglés.
_STDLIB_MODULES = (
    "argparse", "asyncio", "calendar", "codecs", "collections", "concurrent.futures",
    "configparser", "contextlib", "copy", "csv", "dataclasses", "datetime", "decimal",
    "difflib", "doctest", "email", "enum", "fractions", "functools", "gettext", "heapq",
    "http.client", "imaplib", "inspect", "ipaddress", "itertools", "json", "locale",
    "logging", "mailbox", "multiprocessing", "optparse", "os", "pathlib", "pdb", "pickle",
    "queue", "random", "re", "sched", "selectors", "shutil", "smtplib", "socket", "sqlite3",
    "ssl", "statistics", "string", "struct", "subprocess", "tarfile", "tempfile",
    "textwrap", "threading", "tokenize", "traceback", "unittest",
    "urllib.request", "uuid", "warnings", "weakref", "xml.dom.minidom", "zipfile",
)  # fmt: skip


def english_reference_text(max_chars: int | None = None) -> str:
    """Prosa técnica en inglés: párrafos de la documentación de la biblioteca estándar.

    Sirve para entrenar un tokenizador «de mayoría inglesa» y compararlo con el
    entrenado con el libro. Solo se quedan párrafos que parecen prosa (al menos
    ocho palabras, terminan en punto, sin código ni símbolos). El texto depende
    de la versión de Python, pero es siempre el mismo para una misma versión.
    """
    if max_chars is not None:
        max_chars = check_int("max_chars", max_chars, min_value=1)
    paragraphs: list[str] = []
    seen: set[str] = set()
    for mod_name in _STDLIB_MODULES:
        try:
            mod = importlib.import_module(mod_name)
        except ImportError:  # pragma: no cover - módulo ausente en esta plataforma
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            names = [n for n in sorted(dir(mod)) if not n.startswith("_")]
            objects = [mod] + [getattr(mod, n, None) for n in names]
        for obj in objects:
            is_own = obj is mod or (
                (inspect.isclass(obj) or inspect.isfunction(obj))
                and getattr(obj, "__module__", None) == mod_name
            )
            doc = inspect.getdoc(obj) if is_own else None
            for para in re.split(r"\n\s*\n", doc or ""):
                if any(line.startswith((" ", ">>>", "-", "*", "|")) for line in para.splitlines()):
                    continue
                para = " ".join(para.split())
                if len(para.split()) < 8 or not para.endswith(".") or para in seen:
                    continue
                if re.search(r"[()\[\]{}=_<>`]", para):
                    continue
                if sum(c.isalpha() or c == " " for c in para) < 0.9 * len(para):
                    continue
                seen.add(para)
                paragraphs.append(para)
    text = "\n\n".join(paragraphs)
    return text if max_chars is None else text[:max_chars]
