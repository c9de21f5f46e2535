"""libroia.data: dónde se busca el texto del libro, en el orden documentado."""

from __future__ import annotations

from pathlib import Path

import pytest

from libroia import corpus, data
from tests.conftest import BOOK, ROOT

CAP = "---\ntitle: x\n---\n# Uno\n\nAlfa *beta*.\n\n```{code-cell} python\nx = 1\n```\n"


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)


@pytest.fixture
def book(tmp_path) -> Path:
    folder = tmp_path / "book"
    folder.mkdir()
    (folder / "01_uno.md").write_text(CAP, encoding="utf-8")
    (folder / "intro.md").write_text("# Prefacio\n\nBienvenida.\n", encoding="utf-8")
    return folder


@pytest.fixture
def outside(tmp_path, monkeypatch, no_env) -> Path:
    """Un ``libroia`` instalado fuera de cualquier repositorio (sin datos todavía)."""
    package = tmp_path / "site-packages" / "libroia"
    package.mkdir(parents=True)
    monkeypatch.setattr(data, "_PACKAGE_DIR", package)
    return package


def test_en_el_repositorio_se_leen_los_capitulos_vivos(no_env):
    source = data.locate_book()
    assert source == data.BookSource(BOOK, "repositorio", False)
    assert data.repository_book_dir() == BOOK
    # Aunque exista la instantánea del paquete (la escribe la construcción), no se usa.
    assert corpus.book_dir_default() == BOOK


def test_el_argumento_gana_a_la_variable_de_entorno(book, tmp_path, monkeypatch):
    other = tmp_path / "otro"
    other.mkdir()
    monkeypatch.setenv(data.ENV_VAR, str(other))
    assert data.locate_book(book) == data.BookSource(book, "argumento", False)
    assert data.locate_book() == data.BookSource(other, data.ENV_VAR, False)


def test_fuentes_explicitas_que_no_existen_no_se_saltan(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"`book_dir` debe ser una carpeta existente.*no_hay"):
        data.locate_book(tmp_path / "no_hay")
    with pytest.raises(TypeError, match=r"`book_dir` debe ser una ruta.*int"):
        data.locate_book(3)
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "tampoco"))
    with pytest.raises(ValueError, match=r"`LIBROIA_BOOK_DIR` debe ser una carpeta.*tampoco"):
        data.locate_book()


def test_fuera_del_repositorio_se_usan_los_datos_del_paquete(book, outside):
    prose = corpus.chapter_prose(book)
    sources = {p.name: p.read_bytes() for p in corpus.chapter_files(book)}
    data.write_snapshot(prose, outside / "datos" / "prosa", sources)
    source = data.locate_book()
    assert source == data.BookSource(outside / "datos" / "prosa", "paquete", True)
    assert corpus.chapter_prose() == prose
    assert corpus.book_prose() == corpus.book_prose(book)
    assert [p.name for p in corpus.chapter_files()] == ["01_uno.txt", "intro.txt"]
    assert corpus.held_out_chapter("01_uno.md") == corpus.held_out_chapter("01_uno.md", book)


def test_sin_ninguna_fuente_el_error_dice_donde_se_busco(outside):
    with pytest.raises(ValueError, match="no se encontró el texto del libro") as err:
        corpus.book_prose()
    message = str(err.value)
    for clue in ("`book_dir`", data.ENV_VAR, "_toc.yml", str(outside / "datos" / "prosa")):
        assert clue in message


def test_una_carpeta_book_sin_toc_no_es_el_repositorio(tmp_path, monkeypatch):
    """``code/libroia`` junto a un ``book/`` cualquiera no basta: hace falta ``_toc.yml``."""
    package = tmp_path / "code" / "libroia"
    package.mkdir(parents=True)
    (tmp_path / "book").mkdir()
    monkeypatch.setattr(data, "_PACKAGE_DIR", package)
    assert data.repository_book_dir() is None
    (tmp_path / "_toc.yml").write_text("root: book/intro\n", encoding="utf-8")
    (tmp_path / "_config.yml").write_text("title: x\n", encoding="utf-8")
    assert data.repository_book_dir() == tmp_path / "book"
    assert data.repository_book_dir() != ROOT / "book"


def test_instantanea_ida_y_vuelta_y_limpieza(tmp_path):
    folder = tmp_path / "prosa"
    data.write_snapshot({"01_a.md": "Uno.", "02_b.md": "Dos ñ."}, folder)
    assert data.read_snapshot(folder) == {"01_a.md": "Uno.", "02_b.md": "Dos ñ."}
    data.write_snapshot({"01_a.md": "Uno."}, folder)
    assert sorted(p.name for p in folder.iterdir()) == ["01_a.txt", "manifiesto.json"]
    # Una carpeta de instantánea también vale como `book_dir` explícito.
    assert corpus.chapter_prose(folder) == {"01_a.md": "Uno."}


def test_instantanea_danada_o_incompleta(tmp_path):
    folder = data.write_snapshot({"01_a.md": "Uno."}, tmp_path / "prosa")
    (folder / "01_a.txt").write_text("Otro.", encoding="utf-8")
    with pytest.raises(ValueError, match=r"dañada: 01_a\.txt"):
        data.read_snapshot(folder)
    (folder / "01_a.txt").unlink()
    with pytest.raises(ValueError, match=r"incompleta: falta 01_a\.txt"):
        data.read_snapshot(folder)
    (folder / "manifiesto.json").write_text('{"format": 99, "chapters": []}', encoding="utf-8")
    with pytest.raises(ValueError, match="formato 99"):
        data.read_snapshot(folder)


def test_write_snapshot_rechaza_nombres_y_textos_raros(tmp_path):
    with pytest.raises(ValueError, match=r"`chapters`.*'\.\./x\.md'"):
        data.write_snapshot({"../x.md": "a"}, tmp_path)
    with pytest.raises(TypeError, match=r"`chapters\['01_a.md'\]`.*bytes"):
        data.write_snapshot({"01_a.md": b"a"}, tmp_path)
