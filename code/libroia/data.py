"""Dónde encuentra ``libroia`` el texto del libro: una sola función, un orden fijo.

El corpus (capítulo 2) es la prosa de los capítulos del libro. :func:`locate_book`
la busca siempre en este orden y se queda con la primera fuente que existe:

1. **El argumento** ``book_dir`` de quien llama (una carpeta ``book/`` con los
   capítulos ``.md``, o una instantánea escrita por :func:`write_snapshot`).
2. **La variable de entorno** ``LIBROIA_BOOK_DIR``, con lo mismo.
3. **El repositorio del libro**, si ``libroia`` se importa desde su copia de
   trabajo (``<raíz>/code/libroia``): se reconoce porque ``<raíz>`` tiene
   ``_toc.yml`` y ``_config.yml`` junto a la carpeta ``book/``. Dentro del
   repositorio se leen siempre los capítulos vivos.
4. **Los datos del paquete** (``libroia/datos/prosa/``): la prosa limpia de cada
   capítulo, que la construcción del libro escribe y mete en la rueda. Así, fuera
   del repositorio (Colab, Binder, una carpeta cualquiera) se entrena con el mismo
   texto, byte a byte, y sale el mismo modelo.

Si una fuente explícita (1 o 2) no existe, el error lo dice: no se pasa en
silencio a la siguiente. Si no hay ninguna, el ``ValueError`` enumera dónde se
buscó.

Ejemplo::

    >>> from pathlib import Path
    >>> source = locate_book()
    >>> source.origin in {"repositorio", "paquete", "LIBROIA_BOOK_DIR"}
    True
    >>> source.path.is_dir()
    True

Capítulo 2 («Tokens y datos»).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ENV_VAR",
    "BookSource",
    "locate_book",
    "package_data_dir",
    "read_snapshot",
    "repository_book_dir",
    "snapshot_files",
    "write_snapshot",
]

#: Variable de entorno con la carpeta del libro (paso 2 del orden).
ENV_VAR = "LIBROIA_BOOK_DIR"
#: Fichero que identifica una instantánea de la prosa y la describe.
MANIFEST = "manifiesto.json"
SNAPSHOT_FORMAT = 1

_PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class BookSource:
    """Una fuente del texto del libro.

    ``path`` es la carpeta; ``origin`` dice de dónde salió (``"argumento"``,
    ``"LIBROIA_BOOK_DIR"``, ``"repositorio"`` o ``"paquete"``); ``snapshot`` es
    ``True`` si la carpeta es una instantánea de prosa ya limpia (ficheros
    ``.txt`` y ``manifiesto.json``) y ``False`` si tiene los capítulos ``.md``.
    """

    path: Path
    origin: str
    snapshot: bool


def package_data_dir() -> Path:
    """Carpeta de los datos que viajan con el paquete: ``libroia/datos/``."""
    return _PACKAGE_DIR / "datos"


def repository_book_dir() -> Path | None:
    """La carpeta ``book/`` del repositorio del que se importa ``libroia``, o ``None``.

    Solo cuenta si el paquete está en ``<raíz>/code/libroia`` y ``<raíz>`` tiene
    ``_toc.yml``, ``_config.yml`` y ``book/``: una rueda instalada en otro sitio
    nunca toma por libro una carpeta que se llame ``book`` por casualidad.
    """
    if _PACKAGE_DIR.parent.name != "code":
        return None
    root = _PACKAGE_DIR.parent.parent
    if (root / "_toc.yml").is_file() and (root / "_config.yml").is_file():
        book = root / "book"
        if book.is_dir():
            return book
    return None


def _is_snapshot(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


def _explicit(path: object, name: str, origin: str) -> BookSource:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"`{name}` debe ser una ruta (str o Path), pero es de tipo {type(path).__name__}"
        )
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise ValueError(f"`{name}` debe ser una carpeta existente, pero {str(folder)!r} no lo es")
    return BookSource(folder, origin, _is_snapshot(folder))


def locate_book(book_dir: str | os.PathLike[str] | None = None) -> BookSource:
    """Encuentra el texto del libro en el orden documentado en el módulo.

    Parámetros
    ----------
    book_dir:
        Carpeta explícita (paso 1); ``None`` para seguir el orden.

    Devuelve un :class:`BookSource`. Lanza ``TypeError`` si ``book_dir`` no es
    una ruta, y ``ValueError`` si la fuente explícita no existe o si no se
    encuentra ninguna (el mensaje enumera dónde se buscó).

    Ejemplo::

        >>> locate_book(3)
        Traceback (most recent call last):
            ...
        TypeError: `book_dir` debe ser una ruta (str o Path), pero es de tipo int
    """
    if book_dir is not None:
        return _explicit(book_dir, "book_dir", "argumento")
    env = os.environ.get(ENV_VAR)
    if env:
        return _explicit(env, ENV_VAR, ENV_VAR)
    book = repository_book_dir()
    if book is not None:
        return BookSource(book, "repositorio", False)
    prose = package_data_dir() / "prosa"
    if _is_snapshot(prose):
        return BookSource(prose, "paquete", True)
    root = _PACKAGE_DIR.parent.parent
    raise ValueError(
        "no se encontró el texto del libro. Se buscó, en este orden:\n"
        "  1. el argumento `book_dir`: no se dio;\n"
        f"  2. la variable de entorno {ENV_VAR}: no está definida;\n"
        f"  3. el repositorio del libro: {str(root)!r} no tiene _toc.yml, _config.yml y book/;\n"
        f"  4. los datos del paquete: {str(prose / MANIFEST)!r} no existe.\n"
        "Pasa `book_dir` con la carpeta book/ del repositorio, define "
        f"{ENV_VAR}, o instala la rueda de libroia que publica el sitio del libro "
        "(trae la prosa de los capítulos)."
    )


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_snapshot(
    chapters: Mapping[str, str],
    folder: str | os.PathLike[str],
    sources: Mapping[str, bytes] | None = None,
) -> Path:
    """Escribe una instantánea de la prosa: un ``.txt`` por capítulo y ``manifiesto.json``.

    ``chapters`` es ``{nombre.md: prosa limpia}`` en el orden del libro (lo que
    devuelve :func:`libroia.corpus.chapter_prose`); ``sources``, opcional, el
    contenido de cada ``.md``, cuya huella queda en el manifiesto. Solo reescribe
    lo que cambia y borra los ``.txt`` que sobran. Devuelve la carpeta.

    Ejemplo::

        >>> import tempfile
        >>> folder = write_snapshot({"01_uno.md": "Hola."}, tempfile.mkdtemp())
        >>> read_snapshot(folder)
        {'01_uno.md': 'Hola.'}
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, text in chapters.items():
        if not (isinstance(name, str) and name.endswith(".md") and "/" not in name):
            raise ValueError(f"`chapters` debe tener nombres «NN_nombre.md», pero tiene {name!r}")
        if not isinstance(text, str):
            raise TypeError(
                f"`chapters[{name!r}]` debe ser un str, pero es de tipo {type(text).__name__}"
            )
        data = text.encode("utf-8")
        entry = {"chapter": name, "file": name[:-3] + ".txt", "sha256": _sha(data)}
        if sources is not None and name in sources:
            entry["source_sha256"] = _sha(sources[name])
        _write_if_changed(folder / entry["file"], data)
        entries.append(entry)
    keep = {e["file"] for e in entries}
    for old in folder.glob("*.txt"):
        if old.name not in keep:
            old.unlink()
    manifest = {"format": SNAPSHOT_FORMAT, "chapters": entries}
    _write_if_changed(
        folder / MANIFEST, (json.dumps(manifest, ensure_ascii=False, indent=1) + "\n").encode()
    )
    return folder


def _write_if_changed(path: Path, data: bytes) -> None:
    if not path.is_file() or path.read_bytes() != data:
        path.write_bytes(data)


def _manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"la instantánea {str(folder)!r} no tiene un {MANIFEST} legible") from err
    if manifest.get("format") != SNAPSHOT_FORMAT:
        raise ValueError(
            f"la instantánea {str(folder)!r} tiene formato {manifest.get('format')!r}, "
            f"pero esta versión de libroia lee el formato {SNAPSHOT_FORMAT}"
        )
    return manifest


def snapshot_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Los ``.txt`` de una instantánea, en el orden de su manifiesto."""
    folder = Path(folder)
    return [folder / e["file"] for e in _manifest(folder)["chapters"]]


def read_snapshot(folder: str | os.PathLike[str]) -> dict[str, str]:
    """``{nombre.md: prosa}`` de una instantánea, comprobando la huella de cada fichero.

    Un fichero que no coincide con su huella del manifiesto (editado a mano,
    truncado) da un ``ValueError``: nunca se entrena con un texto a medias.
    """
    folder = Path(folder)
    prose: dict[str, str] = {}
    for entry in _manifest(folder)["chapters"]:
        try:
            data = (folder / entry["file"]).read_bytes()
        except OSError as err:
            raise ValueError(
                f"la instantánea {str(folder)!r} está incompleta: falta {entry['file']}"
            ) from err
        if _sha(data) != entry["sha256"]:
            raise ValueError(
                f"la instantánea {str(folder)!r} está dañada: {entry['file']} no coincide "
                f"con su huella en {MANIFEST}"
            )
        prose[entry["chapter"]] = data.decode("utf-8")
    return prose
