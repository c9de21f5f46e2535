"""Codificación por pares de bytes (*byte-pair encoding*, BPE) escrita desde cero.

Un tokenizador BPE a nivel de bytes parte de los 256 bytes posibles (los ids
0–255) y aprende *fusiones*: cada una junta el par de tokens vecinos más
frecuente del texto de entrenamiento en un token nuevo (ids 256, 257, …)
(Sennrich et al., 2016). Como todo texto es una sucesión de bytes UTF-8,
cualquier cadena se puede codificar y ``decode(encode(s)) == s`` siempre.

Antes de contar pares, el texto se corta en trozos con una expresión regular
(palabras con el espacio que las precede, números, puntuación, espacios), como
hace GPT-2, pero reconociendo letras de cualquier alfabeto (``\\p{L}``), así que
«canción» o «año» son un solo trozo. Las fusiones nunca cruzan de un trozo a otro.

El entrenamiento cuenta los pares sobre los *tipos* de palabra (cada trozo
distinto una sola vez, con su frecuencia) y, tras cada fusión, actualiza solo
las palabras que contienen el par fusionado: no vuelve a recorrer el texto.

El mismo algoritmo sirve para un tokenizador real: :func:`merges_from_ranks`
convierte el vocabulario de ``cl100k_base`` (el de GPT-3.5 y GPT-4) en fusiones,
y con su expresión regular de troceado ``BPETokenizer`` da los mismos ids que
``tiktoken`` (las pruebas lo comprueban con texto en español, emojis y código).

Ejemplo que puedes comprobar a mano (el de la Wikipedia, con ``a`` = 97,
``b`` = 98, ``c`` = 99, ``d`` = 100)::

    >>> tok = BPETokenizer.train("aaabdaaabac", vocab_size=259)
    >>> tok.merges
    [((97, 97), 256), ((97, 98), 257), ((256, 257), 258)]
    >>> tok.encode("aaabdaaabac")
    [258, 100, 258, 97, 99]

Primero «aa» (4 veces) pasa a ser 256; luego «ab» y «256 a» empatan con 2 y
gana el par de ids menores, «ab» → 257; por último «256 257» → 258 («aaab»).

Capítulo 2 («Tokens y datos»).
"""

from __future__ import annotations

import heapq
import itertools
import json
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import regex

from libroia._checks import check_int, check_text, check_token_ids

__all__ = [
    "PATTERN",
    "BPETokenizer",
    "merge_pair",
    "merges_from_ranks",
    "pair_counts",
    "tokens_per_word",
]

# Trozos: palabra (letras y marcas combinantes) con un espacio delante opcional,
# número, puntuación, espacios que no preceden a una palabra, otros espacios.
PATTERN = r""" ?[\p{L}\p{M}]+| ?\p{N}+| ?[^\s\p{L}\p{M}\p{N}]+|\s+(?!\S)|\s+"""

_FORMAT = "libroia-bpe"


def pair_counts(ids: Sequence[int], counts: dict | None = None, weight: int = 1) -> dict:
    """Cuenta los pares de ids vecinos (sumando ``weight`` por aparición).

    Ejemplo::

        >>> pair_counts([1, 2, 3, 1, 2])
        {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    """
    counts = {} if counts is None else counts
    for pair in itertools.pairwise(ids):
        counts[pair] = counts.get(pair, 0) + weight
    return counts


def merge_pair(ids: Sequence[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Sustituye cada aparición de ``pair`` en ``ids`` (de izquierda a derecha) por ``new_id``.

    Ejemplo::

        >>> merge_pair([1, 2, 3, 1, 2], (1, 2), 4)
        [4, 3, 4]
    """
    out: list[int] = []
    i, n = 0, len(ids)
    a, b = pair
    while i < n:
        if i < n - 1 and ids[i] == a and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _apply_merges(ids: list[int], ranks: Mapping[tuple[int, int], int]) -> list[int]:
    """Aplica las fusiones de ``ranks`` (par → id nuevo) a un trozo, la más antigua primero."""
    while len(ids) >= 2:
        # El par presente con la fusión más antigua (id nuevo más bajo).
        pair = min(itertools.pairwise(ids), key=lambda p: ranks.get(p, 1 << 62))
        if pair not in ranks:
            break
        ids = merge_pair(ids, pair, ranks[pair])
    return ids


def _to_bytes(text: str) -> bytes:
    # «surrogatepass» deja pasar también los sustitutos sueltos que Python admite en un str.
    return text.encode("utf-8", errors="surrogatepass")


class BPETokenizer:
    """Tokenizador BPE a nivel de bytes: ids 0–255 son bytes; los siguientes, fusiones.

    Se crea con :meth:`train` o :meth:`load`. Atributos:

    - ``merges``: lista de ``((a, b), nuevo_id)`` en el orden en que se aprendieron.
    - ``vocab_size``: ``256 + len(merges)`` (puede ser menor que el pedido si el
      texto de entrenamiento se queda sin pares).
    - ``pattern``: la expresión regular que corta el texto en trozos.
    """

    def __init__(
        self, merges: Iterable[tuple[tuple[int, int], int]] = (), pattern: str = PATTERN
    ) -> None:
        self.pattern = check_text("pattern", pattern)
        self._split = regex.compile(pattern)
        self.merges: list[tuple[tuple[int, int], int]] = []
        self._vocab: list[bytes] = [bytes([i]) for i in range(256)]
        for k, item in enumerate(merges):
            try:
                (a, b), new_id = item
                a, b, new_id = int(a), int(b), int(new_id)
            except (TypeError, ValueError) as err:
                raise ValueError(
                    f"`merges` debe contener pares ((a, b), nuevo_id), pero el elemento {k} "
                    f"es {item!r}"
                ) from err
            if new_id != 256 + k or not (0 <= a < new_id and 0 <= b < new_id):
                raise ValueError(
                    f"`merges`: la fusión {k} debe crear el id {256 + k} a partir de ids "
                    f"menores, pero es (({a}, {b}), {new_id})"
                )
            self.merges.append(((a, b), new_id))
            self._vocab.append(self._vocab[a] + self._vocab[b])
        self._ranks = {pair: new_id for pair, new_id in self.merges}
        self._cache: dict[str, list[int]] = {}

    # ------------------------------------------------------------------ entrenamiento
    @classmethod
    def train(
        cls, text: str, vocab_size: int, *, pattern: str = PATTERN, verbose: bool = False
    ) -> BPETokenizer:
        """Aprende ``vocab_size - 256`` fusiones a partir de ``text``.

        Parámetros
        ----------
        text:
            Texto de entrenamiento (cualquier cadena de Python).
        vocab_size:
            Tamaño del vocabulario V, ≥ 256 (los 256 bytes más las fusiones).
        verbose:
            Si es ``True``, imprime cada fusión con su frecuencia.

        En cada paso se fusiona el par más frecuente; a igual frecuencia, el de
        ids menores (``(a, b)`` en orden lexicográfico), así el resultado no
        depende del orden en que se recorren los datos.
        """
        text = check_text("text", text)
        vocab_size = check_int("vocab_size", vocab_size, min_value=256)
        tok = cls(pattern=pattern)
        # Tipos de palabra: cada trozo distinto una vez, con su frecuencia.
        chunk_counts = Counter(tok._split.findall(text))
        words = [list(_to_bytes(chunk)) for chunk in chunk_counts]
        freqs = list(chunk_counts.values())
        counts: dict[tuple[int, int], int] = defaultdict(int)
        where: dict[tuple[int, int], set[int]] = defaultdict(set)
        for wi, (w, f) in enumerate(zip(words, freqs, strict=True)):
            for pair in itertools.pairwise(w):
                counts[pair] += f
                where[pair].add(wi)
        heap = [(-c, pair) for pair, c in counts.items()]
        heapq.heapify(heap)
        merges: list[tuple[tuple[int, int], int]] = []
        vocab = list(tok._vocab)
        while len(merges) < vocab_size - 256 and heap:
            neg, pair = heapq.heappop(heap)
            if counts.get(pair, 0) != -neg:  # entrada vieja del montículo
                continue
            new_id = 256 + len(merges)
            merges.append((pair, new_id))
            vocab.append(vocab[pair[0]] + vocab[pair[1]])
            if verbose:
                shown = vocab[-1].decode("utf-8", errors="backslashreplace")
                print(f"fusión {len(merges)}: {pair} -> {new_id} ({shown!r}), {-neg} veces")
            changed: set[tuple[int, int]] = set()
            for wi in sorted(where.pop(pair, ())):
                w, f = words[wi], freqs[wi]
                new_w = merge_pair(w, pair, new_id)
                if len(new_w) == len(w):
                    continue
                for p in itertools.pairwise(w):
                    counts[p] -= f
                    changed.add(p)
                for p in itertools.pairwise(new_w):
                    counts[p] += f
                    where[p].add(wi)
                    changed.add(p)
                words[wi] = new_w
            for p in changed:
                c = counts[p]
                if c > 0:
                    heapq.heappush(heap, (-c, p))
                else:
                    del counts[p]
            assert pair not in counts or counts[pair] == 0
        return cls(merges, pattern=pattern)

    def truncate(self, vocab_size: int) -> BPETokenizer:
        """El mismo tokenizador con solo las primeras ``vocab_size - 256`` fusiones.

        Como cada fusión solo depende de las anteriores, el resultado es idéntico
        a entrenar de nuevo con ese ``vocab_size``: basta un entrenamiento grande
        para estudiar todos los tamaños menores.
        """
        vocab_size = check_int("vocab_size", vocab_size, min_value=256, max_value=self.vocab_size)
        return BPETokenizer(self.merges[: vocab_size - 256], pattern=self.pattern)

    # ------------------------------------------------------------------ uso
    @property
    def vocab_size(self) -> int:
        """Número de tokens: 256 bytes más una entrada por fusión."""
        return len(self._vocab)

    def _encode_chunk(self, chunk: str) -> list[int]:
        return _apply_merges(list(_to_bytes(chunk)), self._ranks)

    def encode(self, text: str) -> list[int]:
        """Convierte ``text`` en una lista de ids de token (longitud T).

        Ejemplo::

            >>> BPETokenizer().encode("ñ")  # sin fusiones: los 2 bytes UTF-8 de «ñ»
            [195, 177]
        """
        text = check_text("text", text)
        out: list[int] = []
        cache = self._cache
        for chunk in self._split.findall(text):
            ids = cache.get(chunk)
            if ids is None:
                ids = self._encode_chunk(chunk)
                if len(cache) < 200_000:
                    cache[chunk] = ids
            out.extend(ids)
        return out

    def _check_ids(self, ids: object) -> list[int]:
        if isinstance(ids, Iterator):  # un generador: se consume una vez
            ids = list(ids)
        return check_token_ids("ids", ids, vocab_size=self.vocab_size)

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """Los bytes que representan ``ids``, concatenados."""
        vocab = self._vocab
        return b"".join(vocab[i] for i in self._check_ids(ids))

    def decode(self, ids: Iterable[int]) -> str:
        """Convierte ids en texto; los trozos que no son UTF-8 válido salen como «�».

        Ejemplo::

            >>> BPETokenizer().decode([104, 111, 108, 97])
            'hola'
        """
        data = self.decode_bytes(ids)
        try:
            return data.decode("utf-8", errors="surrogatepass")
        except UnicodeDecodeError:
            return data.decode("utf-8", errors="replace")

    def token_bytes(self, token_id: int) -> bytes:
        """Los bytes de un solo token."""
        token_id = check_int("token_id", token_id, min_value=0, max_value=self.vocab_size - 1)
        return self._vocab[token_id]

    def token_str(self, token_id: int) -> str:
        """Un token como texto legible; los bytes sueltos se muestran como ``\\xNN``.

        Ejemplo::

            >>> BPETokenizer().token_str(195)  # primer byte de «ñ», solo
            '\\\\xc3'
        """
        return self.token_bytes(token_id).decode("utf-8", errors="backslashreplace")

    # ------------------------------------------------------------------ archivos
    def save(self, path: str | os.PathLike) -> Path:
        """Guarda el patrón y las fusiones en un archivo JSON; devuelve la ruta."""
        path = Path(path)
        data = {
            "format": _FORMAT,
            "version": 1,
            "pattern": self.pattern,
            "merges": [[a, b, new_id] for (a, b), new_id in self.merges],
        }
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> BPETokenizer:
        """Lee un tokenizador guardado con :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"`path` debe ser un archivo existente, pero {str(path)!r} no lo es")
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError(
                f"`path` debe ser un tokenizador guardado con BPETokenizer.save "
                f"(formato {_FORMAT!r}), pero {str(path)!r} no lo es"
            )
        merges = [((a, b), new_id) for a, b, new_id in data["merges"]]
        return cls(merges, pattern=data["pattern"])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BPETokenizer):
            return NotImplemented
        return self.merges == other.merges and self.pattern == other.pattern

    __hash__ = None  # mutable: no se usa como clave

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self.vocab_size})"


def merges_from_ranks(
    ranks: Mapping[bytes, int],
) -> tuple[list[tuple[tuple[int, int], int]], list[int]]:
    """Convierte el vocabulario de una codificación de OpenAI en fusiones de :class:`BPETokenizer`.

    Las codificaciones de ``tiktoken`` (``cl100k_base``, la de GPT-3.5 y GPT-4)
    no guardan la lista de fusiones sino un *rango* por token: ``ranks[b]`` es el
    id del token de bytes ``b``, y al codificar se junta siempre el par vecino
    cuya unión tiene el rango más bajo. Las fusiones se recuperan en orden de
    rango: cada token de dos o más bytes se codifica con las fusiones ya
    recuperadas (todas de rango menor) y debe quedar en exactamente dos piezas,
    que son el par que lo forma (el método de ``minbpe``, de Karpathy).

    En :class:`BPETokenizer` los ids 0–255 son los bytes en su orden natural,
    mientras que en ``tiktoken`` los 256 bytes tienen otros rangos (están
    permutados). Por eso se devuelve también la traducción de ids.

    Parámetros
    ----------
    ranks:
        ``{bytes del token: rango}``; debe contener los 256 bytes sueltos y rangos
        distintos (los tokens especiales, como ``<|endoftext|>``, no van aquí).

    Devuelve
    --------
    ``(merges, to_rank)``: ``merges`` sirve para ``BPETokenizer(merges, pattern=...)`` y
    ``to_rank`` es una lista de longitud V con ``to_rank[i]`` = id de ``tiktoken``
    del token ``i`` de :class:`BPETokenizer`.

    Ejemplo con un vocabulario diminuto en el que los bytes «a» (97) y «b» (98)
    tienen los rangos cambiados y hay dos fusiones, «ab» y «abb»::

        >>> ranks = {bytes([b]): b for b in range(256)}
        >>> ranks[b"a"], ranks[b"b"] = 98, 97
        >>> ranks.update({b"ab": 256, b"abb": 257})
        >>> merges, to_rank = merges_from_ranks(ranks)
        >>> merges
        [((97, 98), 256), ((256, 98), 257)]
        >>> BPETokenizer(merges).encode("abba")
        [257, 97]
        >>> [to_rank[i] for i in [257, 97]]  # los ids de tiktoken
        [257, 98]
    """
    if not isinstance(ranks, Mapping):
        raise TypeError(
            f"`ranks` debe ser un diccionario {{bytes: rango}}, pero es de tipo "
            f"{type(ranks).__name__}"
        )
    for token, rank in ranks.items():
        if not isinstance(token, bytes) or not token:
            raise TypeError(f"`ranks` debe tener claves bytes no vacías, pero contiene {token!r}")
        check_int(f"ranks[{token!r}]", rank, min_value=0)
    if len(set(ranks.values())) != len(ranks):
        raise ValueError("`ranks` debe dar un rango distinto a cada token, pero hay repetidos")
    missing = [b for b in range(256) if bytes([b]) not in ranks]
    if missing:
        raise ValueError(
            f"`ranks` debe contener los 256 bytes sueltos, pero le faltan {len(missing)} "
            f"(el primero, {bytes([missing[0]])!r})"
        )
    to_rank = [int(ranks[bytes([b])]) for b in range(256)]
    pair_ids: dict[tuple[int, int], int] = {}
    merges: list[tuple[tuple[int, int], int]] = []
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) == 1:
            continue
        parts = _apply_merges(list(token), pair_ids)
        if len(parts) != 2:
            raise ValueError(
                f"`ranks`: el token {token!r} (rango {rank}) no se forma uniendo dos tokens de "
                f"rango menor, sino que queda en {len(parts)} piezas"
            )
        new_id = 256 + len(merges)
        pair_ids[(parts[0], parts[1])] = new_id
        merges.append(((parts[0], parts[1]), new_id))
        to_rank.append(int(rank))
    return merges, to_rank


def tokens_per_word(encode: Callable[[str], Sequence[int]], text: str) -> float:
    """Tokens por palabra: ``len(encode(text)) / len(text.split())``.

    ``encode`` es cualquier función de texto a ids (la de :class:`BPETokenizer`,
    la de una codificación de OpenAI, …).

    Ejemplo::

        >>> tokens_per_word(BPETokenizer().encode, "la casa")  # 7 bytes, 2 palabras
        3.5
    """
    if not callable(encode):
        raise TypeError(f"`encode` debe ser una función, pero es de tipo {type(encode).__name__}")
    text = check_text("text", text)
    n_words = len(text.split())
    if n_words == 0:
        raise ValueError("`text` debe contener al menos una palabra, pero está vacío")
    return len(encode(text)) / n_words
