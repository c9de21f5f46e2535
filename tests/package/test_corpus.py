"""Pruebas de libroia.corpus: la prosa del libro, limpia y dividida."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from libroia.corpus import (
    book_prose,
    chapter_files,
    clean_markdown,
    held_out_chapter,
    quality_problems,
    quality_signals,
    text_fingerprint,
    train_val_split,
)

FRONT = """---
jupytext:
  text_representation:
    extension: .md
kernelspec:
  name: python3
---
"""

CHAPTER = FRONT + """
(cap-prueba)=
# Un capítulo de *prueba*

Primer párrafo con **negrita**, un [enlace](https://ejemplo.org) y código `x = 1`.
Sigue en otra línea con una cita {cite:p}`vaswani2017attention` y un número
{glue:text}`mi_numero:.2f` que no debe quedar.

```{code-cell} ipython3
:tags: [remove-cell]
import numpy as np
SECRETO_DE_CODIGO = 1
```

La ecuación $E = mc^2$ es famosa.

$$
\\mathrm{softmax}(x)_i = SECRETO_DE_MATES
$$ (eq-softmax)

$$ y = 2 $$

- Un elemento de lista.
- Otro con {term}`token <glosario-token>` y {ref}`cap-otro`.

````{exercise}
:label: ej-prueba-1

Enunciado del ejercicio.

```python
SECRETO_ANIDADO = 2
```
````

```{solution} ej-prueba-1
:class: dropdown

La solución en prosa.
```

```{figure} imagen.png
---
name: fig-x
---
SECRETO_DE_FIGURA
```

% un comentario SECRETO
<div class="x">Texto en HTML</div>
<!-- SECRETO en comentario
de varias líneas -->

| Columna | Otra |
|---------|------|
| celda uno | celda dos |

> Una cita en bloque.

```{quiz} ¿Qué pregunta es esta?
- Una opción falsa.
  > No: explicación.
+ La correcta.
  > Sí.
```
"""


def test_clean_markdown_strips_markup() -> None:
    text = clean_markdown(CHAPTER)
    assert "SECRETO" not in text
    for mark in ("`", "$", "{", "}", "**", "](", "jupytext", "<div", "(cap-prueba)="):
        assert mark not in text, mark
    paragraphs = text.split("\n\n")
    assert paragraphs[0] == "Un capítulo de prueba"
    assert paragraphs[1] == (
        "Primer párrafo con negrita, un enlace y código . Sigue en otra línea con una cita "
        "y un número que no debe quedar."
    )
    assert "La ecuación es famosa." in paragraphs
    assert "Otro con token y ." in paragraphs
    assert "Enunciado del ejercicio." in paragraphs
    assert "La solución en prosa." in paragraphs
    assert "Texto en HTML" in paragraphs
    assert "celda uno celda dos" in paragraphs
    assert "Una cita en bloque." in paragraphs
    assert "¿Qué pregunta es esta?" in paragraphs
    assert "Una opción falsa. No: explicación." in paragraphs
    assert "La correcta. Sí." in paragraphs


def test_clean_markdown_examples() -> None:
    assert clean_markdown("## Hola *mundo*\n\nEl costo es $O(T^2)$ {cite:p}`x`.") == (
        "Hola mundo\n\nEl costo es ."
    )
    assert clean_markdown("") == ""
    with pytest.raises(TypeError, match="text"):
        clean_markdown(None)


@pytest.fixture
def book(tmp_path):
    (tmp_path / "01_uno.md").write_text(FRONT + "# Uno\n\nAlfa beta.\n\nGamma.\n", "utf-8")
    (tmp_path / "02_dos.md").write_text(
        FRONT + "# Dos\n\n" + "\n\n".join(f"Párrafo {i} del dos." for i in range(12)), "utf-8"
    )
    (tmp_path / "intro.md").write_text("# Prefacio\n\nBienvenida.\n", "utf-8")
    (tmp_path / "README.md").write_text("No es un capítulo.", "utf-8")
    (tmp_path / "glosario.md").write_text("Tampoco.", "utf-8")
    (tmp_path / "references.bib").write_text("@book{x}", "utf-8")
    return tmp_path


def test_chapter_files_selects_chapters(book) -> None:
    assert [p.name for p in chapter_files(book)] == ["01_uno.md", "02_dos.md", "intro.md"]


def test_book_prose_order_and_determinism(book) -> None:
    text = book_prose(book)
    assert text.startswith("Uno\n\nAlfa beta.\n\nGamma.\n\nDos\n\nPárrafo 0 del dos.")
    assert text.endswith("Prefacio\n\nBienvenida.")
    assert "No es un capítulo" not in text and "Tampoco" not in text
    assert book_prose(str(book)) == text


def test_book_prose_env_var(book, monkeypatch) -> None:
    monkeypatch.setenv("LIBROIA_BOOK_DIR", str(book))
    assert book_prose() == book_prose(book)


def test_book_prose_bad_dir(tmp_path) -> None:
    with pytest.raises(ValueError, match="book_dir"):
        book_prose(tmp_path)  # carpeta sin capítulos
    with pytest.raises(ValueError, match="book_dir"):
        book_prose(tmp_path / "no_existe")
    with pytest.raises(TypeError, match="book_dir"):
        book_prose(3)


def test_real_book_if_present() -> None:
    try:
        text = book_prose()
    except ValueError:
        pytest.skip("el libro aún no tiene capítulos")
    assert "```" not in text and "{code-cell}" not in text and "$$" not in text
    assert book_prose() == text


def test_train_val_split_example() -> None:
    assert train_val_split("a\n\nb\n\nc\n\nd", val_fraction=0.5) == ("a\n\nc", "b\n\nd")


def test_train_val_split_default_every_tenth() -> None:
    text = "\n\n".join(f"p{i}" for i in range(30))
    train, val = train_val_split(text)
    assert val == "p9\n\np19\n\np29"
    assert len(train.split("\n\n")) == 27
    assert train_val_split(text) == (train, val)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 60), st.floats(0.05, 0.95))
def test_train_val_split_partitions(n: int, f: float) -> None:
    paragraphs = [f"p{i}" for i in range(n)]
    try:
        train, val = train_val_split("\n\n".join(paragraphs), f)
    except ValueError:
        return  # demasiado pocos párrafos para esa fracción
    got = train.split("\n\n") + val.split("\n\n")
    assert sorted(got) == sorted(paragraphs)
    assert abs(len(val.split("\n\n")) - f * n) <= 1


def test_train_val_split_bad_inputs() -> None:
    for bad in (0, 1, 1.5, -0.1):
        with pytest.raises(ValueError, match="val_fraction"):
            train_val_split("a\n\nb", bad)
    with pytest.raises(TypeError, match="val_fraction"):
        train_val_split("a\n\nb", "0.1")
    with pytest.raises(TypeError, match="text"):
        train_val_split(["a", "b"])
    with pytest.raises(ValueError, match="text"):
        train_val_split("un solo párrafo", 0.1)


def test_held_out_chapter(book) -> None:
    name, rest, held = held_out_chapter(book_dir=book)
    assert name == "02_dos.md"  # el de más prosa
    assert held.startswith("Dos\n\nPárrafo 0")
    assert "Párrafo" not in rest and "Alfa beta." in rest and "Bienvenida." in rest
    name, rest, held = held_out_chapter("01_uno.md", book_dir=book)
    assert held == "Uno\n\nAlfa beta.\n\nGamma."
    with pytest.raises(ValueError, match="chapter"):
        held_out_chapter("99_no.md", book_dir=book)
    with pytest.raises(ValueError, match="chapter"):  # antes, TypeError en inglés (unhashable)
        held_out_chapter(["01_uno.md"], book_dir=book)


def test_text_fingerprint() -> None:
    assert text_fingerprint("") == hashlib.sha256(b"").hexdigest()[:16]
    assert text_fingerprint("año") == hashlib.sha256("año".encode()).hexdigest()[:16]
    assert text_fingerprint("a") != text_fingerprint("b")
    with pytest.raises(TypeError, match="text"):
        text_fingerprint(b"a")


GOOD = (
    "La atención permite que cada ficha mire a las demás y decida cuáles le importan. "
    "Es la pieza central del transformer y la razón de que estos modelos escalen tan bien."
)


def test_quality_signals_by_hand() -> None:
    q = quality_signals("El gato come pescado.\n#oferta")
    assert q["n_words"] == 5
    assert q["mean_word_length"] == pytest.approx((2 + 4 + 4 + 8 + 7) / 5)
    assert q["symbol_ratio"] == pytest.approx(1 / 5)
    assert q["alpha_fraction"] == 1.0
    assert q["stop_words"] == 1.0  # «el»
    assert q["terminal_punctuation"] == 0.5
    assert quality_signals("")["n_words"] == 0.0


def test_quality_problems() -> None:
    assert quality_problems(GOOD, min_words=10) == []
    assert any("palabras" in p for p in quality_problems(GOOD))  # menos de 50 palabras
    spam = quality_problems("COMPRA YA!!! #oferta #barato #gratis", min_words=3)
    assert spam[0].startswith("demasiados símbolos")
    code = quality_problems("def f(x): return {x: 1}", min_words=3)
    assert any("llaves" in p for p in code)
    keywords = quality_problems("casa perro gato mesa silla coche árbol libro", min_words=3)
    assert any("palabras vacías" in p for p in keywords)
    assert any("números" in p or "letras" in p for p in quality_problems(
        "1 2 3 4 5 6 7 8 9 de la.", min_words=3))
    with pytest.raises(ValueError, match="min_words"):
        quality_problems(GOOD, min_words=0)
    with pytest.raises(TypeError, match="text"):
        quality_signals(3)


def test_vallas_de_dos_puntos_y_etiquetas_de_soluciones():
    text = (
        ":::{quiz} ¿Qué hace `f`?\n+ Bien\n  > Sí.\n- Mal\n  > No.\n:::\n\n"
        "```{solution} ej-cap-1\n:class: dropdown\n\nLa respuesta.\n```\n"
    )
    clean = clean_markdown(text)
    assert "¿Qué hace" in clean and "Bien" in clean and "La respuesta." in clean
    assert "quiz" not in clean and "ej-cap-1" not in clean and "dropdown" not in clean
