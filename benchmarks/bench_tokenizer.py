"""Compara el BPE de ``libroia`` con el entrenador BPE de Hugging Face ``tokenizers``.

Los dos se entrenan a nivel de bytes con el mismo texto (el libro sin un
capítulo) y el mismo tamaño de vocabulario, y se mide:

- tokens por palabra en el capítulo apartado (objetivo: a menos de un 5 %);
- el tiempo de entrenamiento de cada uno y su cociente;
- el tiempo de entrenar ``libroia`` con todo el libro (objetivo: ≤ 10 s).

Uso::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_tokenizer.py [vocab_size]

Necesita ``tokenizers`` (probado con ``tokenizers==0.23.3``).
"""

from __future__ import annotations

import json
import re
import sys
import time

from libroia.corpus import book_prose, held_out_chapter
from libroia.tokenizer import BPETokenizer, tokens_per_word


def train_hf(text: str, vocab_size: int):
    """Entrena el BPE a nivel de bytes de Hugging Face (como el de GPT-2)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=0,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
    )
    tok.train_from_iterator(re.split(r"\n\s*\n", text), trainer=trainer)
    return tok


def _timed(fn, repeats: int = 3):
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def main(vocab_size: int = 1024, chapter: str | None = None, book_dir=None) -> dict:
    """Ejecuta la comparación y devuelve un dict con las medidas."""
    name, train_text, held = held_out_chapter(chapter, book_dir=book_dir)
    ours, ours_s = _timed(lambda: BPETokenizer.train(train_text, vocab_size))
    hf, hf_s = _timed(lambda: train_hf(train_text, vocab_size))
    full = book_prose(book_dir)
    _, full_s = _timed(lambda: BPETokenizer.train(full, vocab_size), repeats=1)
    ours_tpw = tokens_per_word(ours.encode, held)
    hf_tpw = tokens_per_word(lambda s: hf.encode(s).ids, held)
    assert ours.decode(ours.encode(held)) == held
    return {
        "vocab_size": vocab_size,
        "held_out_chapter": name,
        "train_words": len(train_text.split()),
        "held_out_words": len(held.split()),
        "libroia_vocab_size": ours.vocab_size,
        "hf_vocab_size": hf.get_vocab_size(),
        "libroia_tokens_per_word": round(ours_tpw, 4),
        "hf_tokens_per_word": round(hf_tpw, 4),
        "tokens_per_word_ratio": round(ours_tpw / hf_tpw, 4),
        "libroia_train_s": round(ours_s, 4),
        "hf_train_s": round(hf_s, 4),
        "train_time_ratio": round(ours_s / hf_s, 2),
        "full_book_words": len(full.split()),
        "libroia_full_book_train_s": round(full_s, 3),
    }


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    print(json.dumps(main(size), indent=2, ensure_ascii=False))
