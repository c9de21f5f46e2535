"""La rueda de ``libroia`` que publica el sitio: ``_static/libroia-<versión>-py3-none-any.whl``.

Al terminar cada construcción HTML:

1. Escribe en ``code/libroia/datos/prosa/`` la prosa limpia de cada capítulo
   (:func:`libroia.corpus.chapter_prose` sobre ``book/``), con la huella de cada
   ``.md`` en su manifiesto (:func:`libroia.data.write_snapshot`). Es lo que lee
   ``libroia`` fuera del repositorio: el mismo texto y, por tanto, el mismo
   modelo. Dentro del repositorio se leen siempre los capítulos vivos.
2. Construye la rueda a partir de una copia de ``pyproject.toml``, ``README.md``
   y ``code/libroia`` en una carpeta temporal (así no quedan ``build/`` ni
   ``*.egg-info`` en el repositorio), sin red y sin aislamiento.
3. La deja en ``_static/`` con un nombre estable. Si nada de lo que entra en la
   rueda ha cambiado desde la última construcción, no la rehace.

Fuera de Sphinx: ``python -m libroia_sphinx.wheel CARPETA`` (``make wheel``)
hace lo mismo y deja la rueda en ``CARPETA``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

PACKAGE = "libroia"
# Marcas de tiempo fijas dentro del zip: las mismas fuentes dan la misma rueda.
SOURCE_DATE_EPOCH = "315532800"
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".*")


def wheel_name(version: str) -> str:
    """Nombre de la rueda publicada: ``libroia-<versión>-py3-none-any.whl``."""
    return f"{PACKAGE}-{version}-py3-none-any.whl"


def package_version(root: Path) -> str:
    """``__version__`` de ``code/libroia/__init__.py``, sin importar el paquete."""
    import ast

    tree = ast.parse((root / "code" / PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets
        ):
            return str(ast.literal_eval(node.value))
    raise ValueError(f"{root / 'code' / PACKAGE / '__init__.py'} no define __version__")


def write_package_data(root: Path) -> Path:
    """Escribe la prosa de ``root/book`` en ``root/code/libroia/datos/prosa``."""
    from libroia.corpus import chapter_files, chapter_prose
    from libroia.data import write_snapshot

    book = root / "book"
    prose = chapter_prose(book)
    sources = {p.name: p.read_bytes() for p in chapter_files(book)}
    return write_snapshot(prose, root / "code" / PACKAGE / "datos" / "prosa", sources)


def _copy_sources(root: Path, dest: Path) -> None:
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (root / name).is_file():
            shutil.copy2(root / name, dest / name)
    shutil.copytree(root / "code" / PACKAGE, dest / "code" / PACKAGE, ignore=_IGNORE)


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build_wheel(root: Path, out_dir: Path, stamp: Path | None = None) -> Path:
    """Escribe la prosa del paquete y construye la rueda de ``libroia`` en ``out_dir``.

    ``stamp``, si se da, guarda la huella de las fuentes: con la misma huella y
    la rueda ya en ``out_dir``, no se reconstruye. Devuelve la ruta de la rueda.
    """
    root, out_dir = Path(root), Path(out_dir)
    write_package_data(root)
    target = out_dir / wheel_name(package_version(root))
    with tempfile.TemporaryDirectory(prefix="libroia-rueda-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        _copy_sources(root, src)
        digest = _digest(src)
        if stamp is not None and target.is_file() and stamp.is_file():
            if stamp.read_text(encoding="utf-8") == digest:
                return target
        dist = Path(tmp) / "dist"
        env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
        code = (
            "import sys; from setuptools import build_meta as b; "
            "print(b.build_wheel(sys.argv[1]))"
        )
        result = subprocess.run(
            [sys.executable, "-c", code, str(dist)],
            cwd=src,
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"no se pudo construir la rueda de libroia:\n{result.stdout}\n{result.stderr}"
            )
        built = dist / result.stdout.strip().splitlines()[-1]
        out_dir.mkdir(parents=True, exist_ok=True)
        for old in out_dir.glob(f"{PACKAGE}-*.whl"):
            if old.name != target.name:
                old.unlink()
        shutil.copyfile(built, target)
    if stamp is not None:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest, encoding="utf-8")
    return target


def _on_build_finished(app: Any, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    from sphinx.util import logging

    root = Path(app.srcdir)
    log = logging.getLogger(__name__)
    if not (root / "pyproject.toml").is_file() or not (root / "code" / PACKAGE).is_dir():
        # Un libro de prueba fuera del repositorio (p. ej., la plantilla): no hay rueda.
        log.info(f"[libroia] sin code/{PACKAGE} en {root}: no se construye la rueda")
        return
    stamp = Path(app.doctreedir) / "libroia-rueda.sha256"
    wheel = build_wheel(root, Path(app.outdir) / "_static", stamp)
    log.info(f"[libroia] rueda: _static/{wheel.name}")


def setup(app: Any) -> dict[str, Any]:
    app.connect("build-finished", _on_build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "0.1"}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("uso: python -m libroia_sphinx.wheel CARPETA_DE_SALIDA")
    repo = Path.cwd()
    if not (repo / "_toc.yml").is_file():
        sys.exit(f"ejecútalo desde la raíz del repositorio del libro, no desde {repo}")
    print(build_wheel(repo, Path(sys.argv[1])))
