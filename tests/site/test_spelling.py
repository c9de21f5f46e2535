"""Ortografía: la prosa de cada capítulo pasa el corrector hunspell es_ES.

El código, las fórmulas, las citas y el marcado se quitan antes con
`libroia.corpus.clean_markdown` (la misma limpieza que da el corpus del modelo).
Los términos técnicos que el diccionario no conoce están en `book/_palabras.txt`,
una palabra por línea, revisada a mano.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from libroia.corpus import clean_markdown
from tests.conftest import BOOK, chapter_sources

WORDLIST = BOOK / "_palabras.txt"


def unknown_words(text: str) -> list[str]:
    hunspell = shutil.which("hunspell")
    if hunspell is None:
        pytest.fail("falta `hunspell`: instala los paquetes de Debian hunspell y hunspell-es")
    out = subprocess.run(
        [hunspell, "-d", "es_ES", "-p", str(WORDLIST), "-l"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
    )
    return sorted(set(out.stdout.split()))


def test_el_corrector_detecta_faltas():
    """La prueba puede fallar: una palabra mal escrita se detecta."""
    assert unknown_words("La atencion es una idea sencilla.") == ["atencion"]
    assert unknown_words("La atención es una idea sencilla.") == []


def test_la_lista_de_palabras_esta_ordenada_y_sin_repetidas():
    words = [w for w in WORDLIST.read_text(encoding="utf-8").splitlines() if w]
    assert words == sorted(set(words), key=lambda w: (w.casefold(), w))


@pytest.mark.parametrize("path", chapter_sources(), ids=lambda p: p.name)
def test_prosa_sin_faltas(path):
    prose = clean_markdown(path.read_text(encoding="utf-8"))
    bad = unknown_words(prose)
    assert bad == [], (
        f"{path.name}: palabras desconocidas para hunspell es_ES: {', '.join(bad)}. "
        "Corrígelas o, si son términos técnicos, añádelas a book/_palabras.txt."
    )
