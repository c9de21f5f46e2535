"""Pruebas de libroia.parallel_sentences: las frases paralelas del impuesto del idioma."""

from __future__ import annotations

import pytest
import regex

from libroia.parallel_sentences import LANGUAGES, SENTENCES

# Escritura de cada idioma (Unicode): una frase en otra escritura delataría un idioma cambiado.
SCRIPTS = {
    "en": "Latin", "es": "Latin", "pt": "Latin", "fr": "Latin", "it": "Latin", "ca": "Latin",
    "de": "Latin", "ru": "Cyrillic", "el": "Greek", "ar": "Arabic", "hi": "Devanagari",
    "zh": "Han", "ja": "Hiragana", "ko": "Hangul", "am": "Ethiopic",
}  # fmt: skip
# Fin de frase en cada escritura: punto, interrogación, «;» griego, «؟» árabe, «।» hindi, …
FINAL_MARKS = ".?;؟।。？።"


def test_languages_have_spanish_names() -> None:
    assert set(LANGUAGES) == set(SCRIPTS)
    assert LANGUAGES["en"] == "inglés" and LANGUAGES["es"] == "español"
    assert all(isinstance(name, str) and name.islower() for name in LANGUAGES.values())


def test_sentences_are_parallel() -> None:
    assert set(SENTENCES) == set(LANGUAGES)
    assert {len(v) for v in SENTENCES.values()} == {8}
    for items in SENTENCES.values():
        assert all(isinstance(s, str) and s and s.strip() == s and "  " not in s for s in items)
        assert len(set(items)) == len(items)  # ninguna frase repetida


@pytest.mark.parametrize("lang", sorted(SCRIPTS))
def test_each_language_is_written_in_its_script(lang: str) -> None:
    letters = regex.compile(rf"\p{{Script={SCRIPTS[lang]}}}")
    for s in SENTENCES[lang]:
        assert letters.search(s), (lang, s)
        assert s[-1] in FINAL_MARKS, (lang, s)
    if lang != "en":  # traducida, no copiada del inglés
        assert not set(SENTENCES[lang]) & set(SENTENCES["en"])


def test_questions_line_up() -> None:
    """La cuarta frase es una pregunta en todos los idiomas que la marcan al final."""
    question_marks = "?;؟？"
    marked = [lang for lang, items in SENTENCES.items() if items[3][-1] in question_marks]
    assert set(SENTENCES) - set(marked) == {"ja"}  # el japonés cierra la pregunta con «。»
    assert all(items[0][-1] not in question_marks for items in SENTENCES.values())
