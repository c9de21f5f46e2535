"""Extensión «laboratorio»: el GPT del libro, vivo en el navegador del lector.

Tres piezas:

- **Exportación** (al terminar la construcción): el mismo modelo que entrenan los
  capítulos (:func:`libroia.gpt_train.train_or_load`, con su caché) se escribe en
  ``_static/laboratorio/`` como ``modelo.json`` (la configuración, el tokenizador y
  el índice de los pesos) y ``modelo.bin`` (los pesos). Las matrices van en INT8
  con una escala por fila (:func:`libroia.quantization.quantize_absmax`, capítulo 7);
  sesgos y normas, en float32. ``modelo-datos.js`` repite todo como un *script*
  clásico con los pesos en base64, porque una página abierta desde el disco
  (``file://``) no puede pedir ficheros con ``fetch``. Solo se vuelve a exportar
  cuando cambia el modelo (la clave de su caché) o el código de la exportación.
- **Tiempo de ejecución**: ``static/laboratorio/modelo.js``, un módulo ES que repite
  ``libroia`` en JavaScript. Al construir se escribe también ``modelo.classic.js``,
  el mismo código como *script* clásico (:func:`classic_script`), por la misma
  razón: desde ``file://`` Chromium tampoco carga módulos.
- **La directiva** ``laboratorio``, con los paneles que pida la página::

      ```{laboratorio}
      :panels: tokens sorpresa
      :text: La casa de mi abuela
      ```

  Paneles: ``tokens``, ``atencion``, ``siguiente``, ``muestreo``, ``sorpresa``
  (sin ``:panels:``, todos). La página solo carga un cargador pequeño
  (``laboratorio.js``) y su estilo; el modelo y los paneles se descargan cuando el
  lector llega al laboratorio o lo toca.

Se activa con ``libroia_sphinx.laboratorio`` en ``_config.yml``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from libroia_sphinx import STATIC_DIR, add_static_path

logger = logging.getLogger(__name__)

#: Carpeta de los ficheros del laboratorio, dentro de los estáticos del paquete.
STATIC = STATIC_DIR / "laboratorio"
#: Paneles que acepta la directiva, en el orden en que se muestran.
PANELS = ("tokens", "atencion", "siguiente", "muestreo", "sorpresa")
#: Formato de las matrices: ``"int8"`` (una escala float32 por fila) o ``"float16"``.
#: Se eligió INT8 midiendo ambos en el modelo del libro (ver ``book/laboratorio.md``).
WEIGHTS_FORMAT = "int8"
FORMATS = ("int8", "float16")
#: Nombre de la variable global que define ``modelo-datos.js``.
DATA_GLOBAL = "LIBROIA_MODELO_DATOS"
#: Nombre del objeto global que define ``modelo.classic.js``.
RUNTIME_GLOBAL = "libroiaModelo"
DEFAULT_TEXT = "La atención permite que cada token mire a los anteriores"


# --------------------------------------------------------------------------- pesos


def _as_numpy(tensor: Any):
    import numpy as np

    if hasattr(tensor, "detach"):
        tensor = tensor.detach().cpu().numpy()
    return np.asarray(tensor, dtype=np.float32)


def weight_tensors(model: Any) -> dict[str, Any]:
    """Los parámetros del modelo por nombre (los del ``state_dict``), como arreglos float32.

    Con ``tie_embeddings`` la cabeza es la misma matriz que la incrustación y no se
    repite.
    """
    tensors = {name: _as_numpy(t) for name, t in model.state_dict().items()}
    if model.config.tie_embeddings:
        tensors.pop("head.weight", None)
    return tensors


def pack_weights(tensors: Mapping[str, Any], fmt: str = WEIGHTS_FORMAT) -> tuple[list, bytes]:
    """Convierte los tensores en ``(índice, bytes)``, en *little-endian*.

    Las matrices (dos o más dimensiones) van en ``fmt``: ``"int8"`` con una escala
    float32 por fila (:func:`libroia.quantization.quantize_absmax` con ``axis=0``) o
    ``"float16"`` (:func:`libroia.quantization.to_format`); los vectores (sesgos,
    normas), en float32. Cada tensor empieza en un múltiplo de 4 bytes. El índice
    tiene, por tensor, ``name``, ``shape``, ``dtype``, ``offset`` y, en INT8,
    ``scale_offset``.

    >>> import numpy as np
    >>> index, data = pack_weights({"w": np.array([[0.5, -1.27]], dtype=np.float32)})
    >>> index[0]["dtype"], list(np.frombuffer(data[:2], dtype=np.int8))
    ('int8', [np.int8(50), np.int8(-127)])
    """
    import numpy as np

    from libroia.quantization import quantize_absmax, to_format

    if fmt not in FORMATS:
        raise ValueError(f'`fmt` debe ser "int8" o "float16", pero vale {fmt!r}')
    chunks: list[bytes] = []
    index: list[dict[str, Any]] = []
    size = 0

    def put(raw: bytes) -> int:
        nonlocal size
        start = size
        chunks.append(raw + b"\0" * (-len(raw) % 4))
        size += len(chunks[-1])
        return start

    for name, w in tensors.items():
        w = np.asarray(w, dtype=np.float32)
        entry: dict[str, Any] = {"name": name, "shape": list(w.shape)}
        if w.ndim >= 2 and fmt == "int8":
            rows = w.reshape(w.shape[0], -1)  # (filas, resto)
            q, scale = quantize_absmax(rows, bits=8, axis=0)  # (filas, resto), (filas, 1)
            entry["dtype"] = "int8"
            entry["offset"] = put(np.ascontiguousarray(q).tobytes())
            entry["scale_offset"] = put(scale.astype("<f4").reshape(-1).tobytes())
        elif w.ndim >= 2:
            half = to_format(w, "fp16").numpy().astype("<f2")
            entry["dtype"] = "float16"
            entry["offset"] = put(half.tobytes())
        else:
            entry["dtype"] = "float32"
            entry["offset"] = put(w.astype("<f4").tobytes())
        index.append(entry)
    return index, b"".join(chunks)


def unpack_weights(index: Iterable[Mapping[str, Any]], data: bytes) -> dict[str, Any]:
    """Los tensores que reconstruye ``modelo.js`` (arreglos float32), por nombre.

    Es la inversa de :func:`pack_weights` salvo el redondeo del formato: en INT8,
    ``w = q · s`` (:func:`libroia.quantization.dequantize`). Sirve para cargar en
    PyTorch exactamente los pesos que usa el navegador.
    """
    import numpy as np

    from libroia.quantization import dequantize

    out = {}
    for t in index:
        shape = tuple(t["shape"])
        n = int(np.prod(shape))
        if t["dtype"] == "int8":
            q = np.frombuffer(data, dtype=np.int8, count=n, offset=t["offset"])
            scale = np.frombuffer(data, dtype="<f4", count=shape[0], offset=t["scale_offset"])
            w = dequantize(q.reshape(shape[0], -1), scale.reshape(-1, 1))
        elif t["dtype"] == "float16":
            w = np.frombuffer(data, dtype="<f2", count=n, offset=t["offset"]).astype(np.float32)
        else:
            w = np.frombuffer(data, dtype="<f4", count=n, offset=t["offset"])
        out[t["name"]] = np.array(w, dtype=np.float32).reshape(shape)
    return out


def load_exported_state(model: Any, folder: str | os.PathLike) -> Any:
    """Copia en ``model`` (un :class:`libroia.gpt.GPT`) los pesos exportados en ``folder``.

    El resultado calcula con los mismos números que el navegador; las pruebas lo
    comparan con ``modelo.js``.
    """
    import torch

    folder = Path(folder)
    meta = json.loads((folder / "modelo.json").read_text(encoding="utf-8"))
    tensors = unpack_weights(meta["weights"]["tensors"], (folder / "modelo.bin").read_bytes())
    state = {name: torch.from_numpy(w.copy()) for name, w in tensors.items()}
    if model.config.tie_embeddings:
        state["head.weight"] = state["tok.weight"]
    model.load_state_dict(state)
    return model.eval()


# --------------------------------------------------------------------------- exportación


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:20]


def code_version() -> str:
    """Huella del código que decide qué se exporta: este módulo y ``modelo.js``."""
    return _digest(Path(__file__).read_bytes(), (STATIC / "modelo.js").read_bytes())


def export_model(
    model: Any,
    tokenizer: Any,
    folder: str | os.PathLike,
    *,
    fmt: str = WEIGHTS_FORMAT,
    info: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Escribe ``modelo.json``, ``modelo.bin`` y ``modelo-datos.js`` en ``folder``.

    ``model`` es un :class:`libroia.gpt.GPT` y ``tokenizer`` un
    :class:`libroia.tokenizer.BPETokenizer`; ``info`` se guarda tal cual en
    ``modelo.json`` (la pérdida de validación, la clave de la caché…). Devuelve las
    rutas escritas.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    index, data = pack_weights(weight_tensors(model), fmt)
    meta = {
        "format": "libroia-gpt",
        "version": 1,
        "config": asdict(model.config),
        "n_params": sum(p.numel() for p in model.parameters()),
        "tokenizer": {
            "format": "libroia-bpe",
            "pattern": tokenizer.pattern,
            "merges": [[a, b, new_id] for (a, b), new_id in tokenizer.merges],
        },
        "weights": {
            "file": "modelo.bin",
            "format": fmt,
            "byte_length": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "tensors": index,
        },
        "info": dict(info or {}),
    }
    paths = {"json": folder / "modelo.json", "bin": folder / "modelo.bin",
             "data": folder / "modelo-datos.js"}  # fmt: skip
    paths["bin"].write_bytes(data)
    paths["json"].write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    embedded = dict(meta, weights=dict(meta["weights"], base64=base64.b64encode(data).decode()))
    paths["data"].write_text(
        "// El modelo del libro para modelo.js, como script clásico (funciona desde file://).\n"
        f"globalThis.{DATA_GLOBAL} = {json.dumps(embedded, ensure_ascii=True)};\n",
        encoding="utf-8",
    )
    return paths


def classic_script(module_source: str) -> str:
    """El módulo ES ``modelo.js`` como *script* clásico que define ``globalThis.libroiaModelo``.

    Solo se quita la palabra ``export`` de las declaraciones de primer nivel y se
    envuelve todo en una función; cualquier otro ``import``/``export`` es un error.

    >>> print(classic_script("export function f() {}\\nconst g = 1;"))  # doctest: +ELLIPSIS
    // Generado ...
    (function () {
    "use strict";
    function f() {}
    const g = 1;
    globalThis.libroiaModelo = { f };
    })();
    """
    names = []
    lines = []
    declaration = re.compile(r"^export (async function|function|class|const|let) ([\w$]+)")
    for number, line in enumerate(module_source.splitlines(), start=1):
        match = declaration.match(line)
        if match:
            names.append(match.group(2))
            line = line.removeprefix("export ")
        elif re.match(r"^\s*(import|export)\b", line):
            raise ValueError(
                f"`module_source`: la línea {number} tiene un import/export que no se puede "
                f"convertir en script clásico: {line.strip()!r}"
            )
        lines.append(line)
    header = (
        "// Generado al construir el libro a partir de modelo.js: el mismo código como script\n"
        "// clásico, porque desde file:// Chromium no carga módulos ES."
    )
    exported = ", ".join(names)
    return "\n".join(
        [header, "(function () {", '"use strict";', *lines,
         f"globalThis.{RUNTIME_GLOBAL} = {{ {exported} }};", "})();"]
    )  # fmt: skip


def write_runtime(folder: str | os.PathLike) -> Path:
    """Escribe ``modelo.classic.js`` (ver :func:`classic_script`) en ``folder``."""
    path = Path(folder) / "modelo.classic.js"
    path.parent.mkdir(parents=True, exist_ok=True)
    source = (STATIC / "modelo.js").read_text(encoding="utf-8")
    path.write_text(classic_script(source) + "\n", encoding="utf-8")
    return path


def export_if_changed(result: Any, folder: str | os.PathLike, *, fmt: str = WEIGHTS_FORMAT) -> bool:
    """Exporta ``result`` (un :class:`libroia.gpt_train.TrainResult`) si hace falta.

    Compara la clave de la caché del modelo, el formato y :func:`code_version` con
    los que guardó la última exportación en ``modelo.json``; si coinciden no hace
    nada. Devuelve si exportó. El tiempo de ejecución clásico se escribe siempre
    (es un fichero pequeño).
    """
    folder = Path(folder)
    stamp = {"model_key": result.key, "format": fmt, "code": code_version()}
    write_runtime(folder)
    previous = folder / "modelo.json"
    if previous.exists() and all((folder / n).exists() for n in ("modelo.bin", "modelo-datos.js")):
        try:
            old = json.loads(previous.read_text(encoding="utf-8")).get("info", {}).get("export")
        except json.JSONDecodeError:
            old = None
        if old == stamp:
            return False
    info = {
        "export": stamp,
        "val_loss": result.val_loss,
        "steps": result.config.steps,
        "train_seconds": result.recorded_train_seconds,
    }
    export_model(result.model, result.tokenizer, folder, fmt=fmt, info=info)
    return True


# Los colores del tema del libro (pydata-sphinx-theme) que usa el laboratorio, para
# que la página suelta se vea igual en claro y en oscuro (html[data-theme="dark"]).
_THEME_CSS = (
    "html{--pst-color-background:#fff;--pst-color-surface:#f3f4f5;--pst-color-border:#d1d5da;"
    "--pst-color-primary:#0a7d91;--pst-color-text-base:#222832;--pst-color-text-muted:#48566b;"
    "background:var(--pst-color-background);color:var(--pst-color-text-base);"
    "font-family:sans-serif}"
    'html[data-theme="dark"]{--pst-color-background:#14181e;--pst-color-surface:#29313d;'
    "--pst-color-border:#48566b;--pst-color-primary:#3fb1c5;--pst-color-text-base:#ced6dd;"
    "--pst-color-text-muted:#9ca4af}"
)


def write_standalone(
    folder: str | os.PathLike,
    model: Any,
    tokenizer: Any,
    *,
    panels: Iterable[str] = PANELS,
    text: str = DEFAULT_TEXT,
    fmt: str = WEIGHTS_FORMAT,
    space_before: int = 0,
) -> Path:
    """Un laboratorio fuera del libro: ``laboratorio.html`` y ``modulo.html`` en ``folder``.

    Copia los ficheros del laboratorio en ``folder/_static/laboratorio/`` con el modelo
    exportado. ``laboratorio.html`` tiene un laboratorio con ``panels`` (precedido de
    ``space_before`` píxeles de espacio, para probar que no carga nada hasta verse);
    ``modulo.html`` importa ``modelo.js`` como módulo ES y deja en ``window.m`` el modelo
    cargado con ``load("…/modelo.json")`` y en ``window.M`` el módulo. Sirve para las
    pruebas y las mediciones.
    """
    import shutil

    folder = Path(folder)
    static = folder / "_static" / "laboratorio"
    shutil.copytree(STATIC, static, dirs_exist_ok=True)
    write_runtime(static)
    export_model(model, tokenizer, static, fmt=fmt)
    head = (
        '<!DOCTYPE html>\n<html lang="es">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    )
    page = folder / "laboratorio.html"
    page.write_text(
        f"{head}<title>Laboratorio</title>\n<style>{_THEME_CSS}</style>\n"
        '<link rel="stylesheet" href="_static/laboratorio/laboratorio.css">\n'
        '<script defer src="_static/laboratorio/laboratorio.js"></script>\n</head>\n'
        "<body>\n<main>\n<h1>Laboratorio</h1>\n"
        f'<div style="height: {int(space_before)}px"></div>\n'
        f"{widget_html(panels, text)}</main>\n</body>\n</html>\n",
        encoding="utf-8",
    )
    (folder / "modulo.html").write_text(
        f"{head}<title>modelo.js</title>\n</head>\n<body>\n"
        '<script type="module">\nimport * as M from "./_static/laboratorio/modelo.js";\n'
        'window.M = M;\nwindow.m = await M.load("_static/laboratorio/modelo.json");\n'
        "window.listo = true;\n</script>\n</body>\n</html>\n",
        encoding="utf-8",
    )
    return page


# --------------------------------------------------------------------------- directiva


def parse_panels(value: str | None) -> list[str]:
    """Lee la opción ``:panels:``: nombres separados por espacios o comas (vacía = todos).

    >>> parse_panels("tokens, sorpresa")
    ['tokens', 'sorpresa']
    >>> parse_panels(None) == list(PANELS)
    True
    """
    names = [n for n in re.split(r"[\s,]+", value or "") if n]
    if not names or names == ["todos"] or names == ["all"]:
        return list(PANELS)
    unknown = [n for n in names if n not in PANELS]
    if unknown:
        raise ValueError(
            f"`panels` debe contener nombres de {', '.join(PANELS)} (o «todos»), pero "
            f"contiene {', '.join(unknown)}"
        )
    return list(dict.fromkeys(names))


def widget_html(panels: Iterable[str], text: str = DEFAULT_TEXT) -> str:
    """El marcado de un laboratorio antes de cargar nada: un título, una frase y un botón.

    ``laboratorio.js`` lo convierte en los paneles cuando el lector llega a él o lo toca.
    """
    panels = parse_panels(" ".join(panels))
    return (
        f'<section class="laboratorio" data-paneles="{" ".join(panels)}" '
        f'data-texto="{html.escape(text, quote=True)}" aria-label="Laboratorio con el modelo del '
        'libro">\n'
        '<p class="laboratorio-titulo">Laboratorio: el GPT del libro en tu navegador</p>\n'
        '<p class="laboratorio-estado" role="status">El modelo (unos cientos de kB) se descarga '
        "cuando llegas aquí, una sola vez; después funciona sin conexión y no envía nada.</p>\n"
        '<button type="button" class="laboratorio-cargar">Cargar el modelo</button>\n'
        "</section>\n"
    )


class LaboratorioDirective(SphinxDirective):
    """``{laboratorio}`` con las opciones ``:panels:`` y ``:text:`` (el texto inicial)."""

    has_content = False
    option_spec = {"panels": directives.unchanged, "text": directives.unchanged}  # noqa: RUF012

    def run(self) -> list[nodes.Node]:
        try:
            panels = parse_panels(self.options.get("panels"))
        except ValueError as err:
            raise self.error(f"laboratorio: {err}") from err
        text = self.options.get("text") or DEFAULT_TEXT
        return [nodes.raw("", widget_html(panels, text), format="html")]


# --------------------------------------------------------------------------- Sphinx


def _on_page_context(app: Sphinx, pagename: str, templatename: str, context: dict, doctree):
    if 'class="laboratorio"' in context.get("body", ""):
        app.add_css_file("laboratorio/laboratorio.css")
        app.add_js_file("laboratorio/laboratorio.js", loading_method="defer")


def _on_build_finished(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    from libroia.gpt_train import train_or_load

    result = train_or_load(progress=False)
    folder = Path(app.outdir) / "_static" / "laboratorio"
    if export_if_changed(result, folder):
        size = (folder / "modelo.bin").stat().st_size
        logger.info(f"[laboratorio] modelo exportado: {size} bytes ({result.key})")


def setup(app: Sphinx) -> dict[str, Any]:
    add_static_path(app)
    app.add_directive("laboratorio", LaboratorioDirective)
    app.connect("html-page-context", _on_page_context)
    app.connect("build-finished", _on_build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "0.1"}
