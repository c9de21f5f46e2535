"""El corpus del libro: la prosa de sus propios capítulos, limpia y dividida.

El tokenizador (``libroia.tokenizer``) y el GPT diminuto (``libroia.gpt``) se
entrenan con el texto que estás leyendo. Este módulo lo extrae de los archivos
MyST de ``book/``: quita el encabezado YAML, las celdas de código, las
ecuaciones (``$...$`` y ``$$...$$``), los roles como ``{cite:p}`...``` y el
marcado (títulos, énfasis, enlaces, HTML), y conserva el texto de las
directivas con prosa (ejercicios, soluciones, notas).

Todo es determinista: los mismos archivos dan el mismo texto, byte a byte, y
:func:`text_fingerprint` le da una huella corta para usar como clave de caché.

Ejemplo que puedes comprobar a mano::

    >>> clean_markdown("## Hola *mundo*\\n\\nEl costo es $O(T^2)$ {cite:p}`x`.")
    'Hola mundo\\n\\nEl costo es .'

Capítulo 2 («Tokens y datos»).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from libroia._checks import check_choice, check_float, check_int, check_text
from libroia.data import locate_book, read_snapshot, snapshot_files

__all__ = [
    "book_dir_default",
    "book_prose",
    "chapter_files",
    "chapter_prose",
    "clean_markdown",
    "held_out_chapter",
    "quality_problems",
    "quality_signals",
    "text_fingerprint",
    "train_val_split",
]

# Capítulos: intro.md, notacion.md y los archivos «NN_nombre.md».
_CHAPTER_RE = re.compile(r"^(\d\d_.+|intro|notacion)\.md$")
_FENCE_RE = re.compile(r"^\s*(`{3,}|~{3,}|:{3,})\s*(.*)$")
# Directivas cuyo contenido es prosa: se conserva el texto, sin la línea de apertura.
_PROSE_DIRECTIVES = {
    "admonition", "attention", "caution", "danger", "dropdown", "epigraph", "error",
    "exercise", "hint", "important", "margin", "note", "seealso", "sidebar", "solution",
    "tip", "topic", "warning", "card", "tab-item", "tab-set", "div", "highlights",
    "pull-quote", "blockquote", "prf:definition", "prf:example", "prf:remark",
    "quiz", "glossary",
}  # fmt: skip
# Roles cuyo texto visible conviene conservar: {term}`texto <destino>` o {term}`texto`.
_KEEP_TEXT_ROLES = {"term", "ref", "doc", "abbr", "sub", "sup", "strong", "emphasis"}
_ROLE_RE = re.compile(r"\{([\w:.-]+)\}`([^`]*)`")


def book_dir_default() -> Path:
    """Carpeta de la que se lee el libro cuando no se da ``book_dir``.

    Sigue el orden de :func:`libroia.data.locate_book`: ``LIBROIA_BOOK_DIR``, la
    carpeta ``book/`` del repositorio o, fuera de él, la prosa que trae el paquete.
    """
    return locate_book().path


def chapter_files(book_dir: str | Path | None = None) -> list[Path]:
    """Archivos de capítulo de ``book_dir`` en orden alfabético de nombre.

    Son ``intro.md``, ``notacion.md`` y los que siguen el patrón ``NN_*.md``.
    Sin ``book_dir``, la carpeta sale de :func:`libroia.data.locate_book`; si es
    la prosa que trae el paquete (fuera del repositorio), son sus ``.txt``, uno
    por capítulo, con la prosa ya limpia.
    """
    source = locate_book(book_dir)
    if source.snapshot:
        return snapshot_files(source.path)
    return sorted(p for p in source.path.iterdir() if p.is_file() and _CHAPTER_RE.match(p.name))


def _strip_front_matter(lines: list[str]) -> list[str]:
    if lines and lines[0].strip() == "---":
        for i in range(1, len(lines)):
            if lines[i].strip() == "---":
                return lines[i + 1 :]
    return lines


def _strip_blocks(lines: list[str]) -> list[str]:
    """Quita bloques de código, ecuaciones ``$$`` y opciones de directivas."""
    out: list[str] = []
    stack: list[tuple[str, bool]] = []  # (valla, ¿se conserva el contenido?)
    in_math = False
    at_directive_start = False  # justo tras abrir una directiva de prosa
    in_yaml_options = False
    for line in lines:
        stripped = line.strip()
        dropping = any(not keep for _, keep in stack)
        fence = _FENCE_RE.match(line)
        if fence and stack and not in_math:
            mark = fence.group(1)
            top_mark = stack[-1][0]
            if mark[0] == top_mark[0] and len(mark) >= len(top_mark) and not fence.group(2):
                stack.pop()
                at_directive_start = in_yaml_options = False
                out.append("")
                continue
        if dropping:
            continue
        if fence and not in_math:
            info = fence.group(2).strip()
            name = re.match(r"\{([\w:.-]+)\}\s*(.*)$", info)
            keep = bool(name) and name.group(1) in _PROSE_DIRECTIVES
            stack.append((fence.group(1), keep))
            at_directive_start = keep
            out.append("")
            # Título o pregunta: «{quiz} ¿Por qué…?» (en {solution}, el argumento es una etiqueta).
            if keep and name.group(2) and name.group(1) != "solution":
                out.extend([name.group(2), ""])
            continue
        # Opciones de la directiva: «:label: x» o un bloque YAML entre «---».
        if at_directive_start:
            if stripped == "---" and not in_yaml_options:
                in_yaml_options = True
                continue
            if in_yaml_options:
                if stripped == "---":
                    in_yaml_options = at_directive_start = False
                continue
            if re.match(r"^:[\w-]+:", stripped):
                continue
            at_directive_start = False
        # Ecuaciones en bloque: $$ ... $$ (pueden ocupar una o varias líneas).
        if in_math:
            if "$$" in stripped:
                in_math = False
                out.append("")
            continue
        if stripped.startswith("$$"):
            rest = stripped[2:]
            if "$$" not in rest:
                in_math = True
            out.append("")
            continue
        out.append(line)
    return out


def _clean_inline(line: str) -> str:
    """Quita el marcado de una línea de prosa."""

    def role(match: re.Match[str]) -> str:
        name, content = match.group(1), match.group(2)
        titled = re.match(r"^(.*?)\s*<[^>]*>\s*$", content)
        if titled and name in _KEEP_TEXT_ROLES:
            return titled.group(1)
        if name in _KEEP_TEXT_ROLES - {"ref", "doc"}:
            return content
        return ""

    line = _ROLE_RE.sub(role, line)
    line = re.sub(r"`+[^`]*`+", "", line)  # código en línea
    line = re.sub(r"(?<![\\\w])\$[^$]+\$", "", line)  # matemáticas en línea
    line = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", line)  # imágenes
    line = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line)  # enlaces -> texto
    line = re.sub(r"\[\^[^\]]*\]", "", line)  # llamadas a notas al pie
    line = re.sub(r"<[^>\n]+>", "", line)  # etiquetas HTML
    line = re.sub(r"https?://\S+", "", line)  # direcciones sueltas
    line = re.sub(r"(\*{1,3}|_{2,3})(?=\S)(.+?)(?<=\S)\1", r"\2", line)  # énfasis
    line = re.sub(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)", r"\1", line)
    line = line.replace("\\", "")
    return line


def _is_markup_only(stripped: str) -> bool:
    return bool(
        re.fullmatch(r"\(.+\)=", stripped)  # etiqueta «(cap-x)=»
        or stripped.startswith("%")  # comentario MyST
        or stripped == "+++"
        or re.fullmatch(r"[-*_=]{3,}", stripped)  # regla horizontal
        or (re.fullmatch(r"\|?[\s:|-]+\|?", stripped) and "-" in stripped)  # tabla: |---|
        or stripped.startswith("<!--")
    )


def clean_markdown(text: str) -> str:
    """Prosa de un archivo MyST: sin código, ecuaciones, roles ni marcado.

    Devuelve párrafos separados por una línea en blanco (``"\\n\\n"``), con las
    líneas de cada párrafo unidas por un espacio. Los títulos y los elementos de
    lista quedan como párrafos propios.

    Ejemplo::

        >>> clean_markdown("# Título\\n\\nUna línea\\ny otra con `código`.")
        'Título\\n\\nUna línea y otra con .'
    """
    text = check_text("text", text)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)
    lines = _strip_blocks(_strip_front_matter(text.splitlines()))
    paragraphs: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            # Se limpia el párrafo entero: el código en línea puede partirse en dos líneas.
            para = re.sub(r"\s+", " ", _clean_inline(" ".join(current))).strip()
            if re.search(r"\w", para):
                paragraphs.append(para)
            current.clear()

    for line in lines:
        stripped = line.strip()
        if not stripped or _is_markup_only(stripped):
            flush()
            continue
        heading = re.match(r"^#{1,6}\s+(.*)$", stripped)
        item = re.match(r"^(?:[-*+]|\d+[.)])\s+(.*)$", stripped)
        stripped = re.sub(r"^(>\s*)+", "", stripped)  # citas en bloque
        if heading or item:
            flush()
            stripped = (heading or item).group(1)
        if "|" in stripped and stripped.startswith("|"):  # fila de tabla
            stripped = " ".join(cell.strip() for cell in stripped.strip("|").split("|"))
        current.append(stripped)
        if heading:
            flush()
    flush()
    return "\n\n".join(paragraphs)


def chapter_prose(book_dir: str | Path | None = None) -> dict[str, str]:
    """Prosa limpia de cada capítulo: ``{nombre_de_archivo: texto}``, en orden.

    ``book_dir`` como en :func:`book_prose`. La prosa que trae el paquete ya está
    limpia (es esta misma función aplicada a los capítulos al construir el libro).
    """
    source = locate_book(book_dir)
    if source.snapshot:
        return read_snapshot(source.path)
    return {
        p.name: clean_markdown(p.read_text(encoding="utf-8")) for p in chapter_files(source.path)
    }


def book_prose(book_dir: str | Path | None = None) -> str:
    """La prosa de todos los capítulos del libro, unida en un único texto.

    Parámetros
    ----------
    book_dir:
        Carpeta con los capítulos; por omisión, la que indique la variable de
        entorno ``LIBROIA_BOOK_DIR``, la carpeta ``book/`` del repositorio o, fuera
        de él, la prosa que trae el paquete (ver :func:`libroia.data.locate_book`).

    Devuelve los capítulos en orden alfabético de archivo, separados por una
    línea en blanco. Lanza ``ValueError`` si la carpeta no tiene capítulos con
    prosa.
    """
    texts = [t for t in chapter_prose(book_dir).values() if t]
    if not texts:
        raise ValueError(
            "`book_dir` no contiene capítulos con prosa (intro.md, notacion.md o NN_*.md), "
            f"pero se buscó en {str(locate_book(book_dir).path)!r}"
        )
    return "\n\n".join(texts)


def train_val_split(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """Divide ``text`` por párrafos en entrenamiento y validación, sin azar.

    El párrafo ``i`` (contando desde 0) va a validación cuando
    ``floor((i + 1) · f) > floor(i · f)``, con ``f = val_fraction``: con
    ``f = 0.1`` son los párrafos 9, 19, 29, …, repartidos por todo el libro.

    Ejemplo::

        >>> train_val_split("a\\n\\nb\\n\\nc\\n\\nd", val_fraction=0.5)
        ('a\\n\\nc', 'b\\n\\nd')
    """
    text = check_text("text", text)
    f = check_float("val_fraction", val_fraction, min_value=0.0, max_value=1.0,
                    min_inclusive=False, max_inclusive=False)  # fmt: skip
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    train, val = [], []
    for i, para in enumerate(paragraphs):
        (val if int((i + 1) * f) > int(i * f) else train).append(para)
    if not train or not val:
        raise ValueError(
            f"`text` tiene {len(paragraphs)} párrafos, que no bastan para separar una "
            f"fracción {f:g} de validación sin dejar vacía una de las partes"
        )
    return "\n\n".join(train), "\n\n".join(val)


def held_out_chapter(
    chapter: str | None = None, book_dir: str | Path | None = None
) -> tuple[str, str, str]:
    """Separa un capítulo entero para evaluar con texto que no se vio al entrenar.

    Parámetros
    ----------
    chapter:
        Nombre de archivo del capítulo apartado (``"02_tokens_y_datos.md"``); por
        omisión, el capítulo con más prosa.
    book_dir:
        Como en :func:`book_prose`.

    Devuelve ``(nombre, resto_del_libro, capítulo_apartado)``.
    """
    prose = {name: t for name, t in chapter_prose(book_dir).items() if t}
    if len(prose) < 2:
        raise ValueError(
            "`book_dir` debe tener al menos 2 capítulos con prosa para apartar uno, "
            f"pero tiene {len(prose)}"
        )
    if chapter is None:
        chapter = max(prose, key=lambda name: (len(prose[name]), name))
    else:
        chapter = check_choice("chapter", chapter, sorted(prose))
    rest = "\n\n".join(t for name, t in prose.items() if name != chapter)
    return chapter, rest, prose[chapter]


def text_fingerprint(text: str) -> str:
    """Huella corta (16 cifras hexadecimales de SHA-256) de ``text``, para cachés.

    Ejemplo::

        >>> text_fingerprint("")
        'e3b0c44298fc1c14'
    """
    text = check_text("text", text)
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()[:16]


# Palabras vacías frecuentes del español (su presencia delata prosa de verdad).
_STOP_WORDS = frozenset(
    "de la que el en y a los se del las un por con no una su para es al lo como más "
    "pero sus le ya o este sí porque esta entre cuando muy sin sobre también me hasta".split()
)


def quality_signals(text: str) -> dict[str, float]:
    """Medidas baratas de «calidad» de un texto, como las que filtran la web.

    Devuelve ``n_words`` (palabras), ``mean_word_length`` (letras por palabra),
    ``symbol_ratio`` (almohadillas y puntos suspensivos por palabra),
    ``alpha_fraction`` (fracción de palabras con alguna letra), ``stop_words``
    (palabras vacías del español: «de», «la», «que»…) y
    ``terminal_punctuation`` (fracción de líneas que acaban en . ! ? o »).

    Ejemplo::

        >>> quality_signals("El gato come pescado.")["stop_words"]
        1.0
    """
    text = check_text("text", text)
    words = text.split()
    n = len(words)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    symbols = text.count("#") + text.count("...") + text.count("…")
    return {
        "n_words": float(n),
        "mean_word_length": sum(len(w) for w in words) / n if n else 0.0,
        "symbol_ratio": symbols / n if n else 0.0,
        "alpha_fraction": sum(any(c.isalpha() for c in w) for w in words) / n if n else 0.0,
        "stop_words": float(sum(w.lower().strip(".,;:¿?¡!«»\"'()") in _STOP_WORDS
                                for w in words)),
        "terminal_punctuation": (
            sum(ln.endswith((".", "!", "?", "»", '"')) for ln in lines) / len(lines)
            if lines else 0.0
        ),
    }  # fmt: skip


def quality_problems(text: str, *, min_words: int = 50) -> list[str]:
    """Reglas heurísticas de filtrado de texto web; devuelve los problemas hallados.

    Adapta al español las reglas de Gopher (Rae et al., 2021) y de C4 (Raffel et
    al., 2020): entre ``min_words`` y 100 000 palabras, longitud media de palabra
    entre 3 y 10, como mucho 0.1 símbolos (#, …) por palabra, al menos un 80 % de
    palabras con letras, al menos 2 palabras vacías, la mayoría de líneas
    acabadas en puntuación final y nada de «lorem ipsum» ni llaves ``{``.
    Una lista vacía significa que el texto pasa el filtro.

    Ejemplo::

        >>> quality_problems("COMPRA YA!!! #oferta #barato #gratis", min_words=3)[0]
        'demasiados símbolos # o … por palabra (0.60 > 0.1)'
    """
    min_words = check_int("min_words", min_words, min_value=1)
    q = quality_signals(text)
    problems = []
    if q["symbol_ratio"] > 0.1:
        problems.append(
            f"demasiados símbolos # o … por palabra ({q['symbol_ratio']:.2f} > 0.1)"
        )
    if not min_words <= q["n_words"] <= 100_000:
        problems.append(f"{q['n_words']:.0f} palabras, fuera de [{min_words}, 100000]")
    if q["n_words"] and not 3 <= q["mean_word_length"] <= 10:
        problems.append(f"longitud media de palabra {q['mean_word_length']:.1f}, fuera de [3, 10]")
    if q["alpha_fraction"] < 0.8:
        problems.append(f"solo un {100 * q['alpha_fraction']:.0f} % de palabras con letras")
    if q["stop_words"] < 2:
        problems.append(f"{q['stop_words']:.0f} palabras vacías («de», «la», «que»…), menos de 2")
    if q["terminal_punctuation"] < 0.5:
        problems.append("la mayoría de las líneas no acaba en punto, ! o ?")
    lowered = text.lower()
    if "lorem ipsum" in lowered or "{" in text:
        problems.append("contiene «lorem ipsum» o llaves «{» (texto de relleno o código)")
    return problems
