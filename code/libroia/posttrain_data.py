"""El mundo de juguete del capítulo 8: países, capitales y los datos de cada etapa.

Las palabras son los tokens. Tres clases de texto:

* **Preentrenamiento** (:func:`pretraining_corpus`): «páginas web» de tres tipos:
  entradas de enciclopedia («francia : capital parís .»), listas de preguntas de
  concurso sin respuesta («¿ capital de chile ? ¿ capital de perú ?») y, pocas,
  páginas con la pregunta y su respuesta. El modelo aprende los datos, pero tras
  una pregunta lo que casi siempre ha visto es otra pregunta.
* **Afinado supervisado** (:func:`sft_dataset`): demostraciones *prompt* → respuesta
  sobre los países de ``demo_countries``. Como las escribe gente diversa, una parte
  son respuestas poco útiles («no lo sé .»).
* **Preferencias** (:func:`preference_pairs`): parejas (mejor, peor) para el
  modelo de recompensa o para DPO.

Los países de ``test_countries`` nunca aparecen en demostraciones ni en
preferencias: sirven para medir si lo aprendido se generaliza. Los modelos y su
entrenamiento están en :mod:`libroia.posttrain`.

Capítulo 8, «Posentrenamiento».
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from libroia._checks import check_float, check_int, check_token_ids
from libroia.preference import response_mask

__all__ = [
    "ANSWER",
    "CATEGORIES",
    "ENTRY",
    "QUESTION",
    "REFUSAL",
    "T_MAX",
    "PreferencePairs",
    "Sequences",
    "ToyWorld",
    "encyclopedia_entries",
    "make_world",
    "pack",
    "preference_pairs",
    "pretraining_corpus",
    "sft_dataset",
]

COUNTRIES = (
    ("francia", "parís"),
    ("italia", "roma"),
    ("alemania", "berlín"),
    ("portugal", "lisboa"),
    ("japón", "tokio"),
    ("perú", "lima"),
    ("chile", "santiago"),
    ("grecia", "atenas"),
    ("rusia", "moscú"),
    ("noruega", "oslo"),
    ("suecia", "estocolmo"),
    ("polonia", "varsovia"),
    ("austria", "viena"),
    ("irlanda", "dublín"),
    ("kenia", "nairobi"),
    ("china", "pekín"),
    ("colombia", "bogotá"),
    ("venezuela", "caracas"),
    ("ecuador", "quito"),
    ("uruguay", "montevideo"),
    ("hungría", "budapest"),
    ("finlandia", "helsinki"),
    ("dinamarca", "copenhague"),
    ("bélgica", "bruselas"),
)
ENTRY = "{c} : capital {k} ."
QUESTION = "¿ capital de {c} ?"
ANSWER = "capital {k} ."
REFUSAL = "no lo sé ."
#: Qué puede hacer el modelo ante una pregunta (ver :func:`behaviour`).
CATEGORIES = ("correct", "wrong", "refusal", "question", "other")
PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
T_MAX = 11  # objetivos por secuencia: las secuencias tienen a lo sumo T_MAX + 1 tokens


@dataclass(frozen=True)
class ToyWorld:
    """Vocabulario y países; ``demo_countries`` tienen demostraciones, ``test_countries`` no."""

    vocab: tuple[str, ...]
    capitals: dict[str, str]
    demo_countries: tuple[str, ...]
    test_countries: tuple[str, ...]

    def encode(self, text: str) -> list[int]:
        """Ids de las palabras de ``text`` (separadas por espacios).

        >>> world = make_world()
        >>> world.decode(world.encode("¿ capital de perú ?"))
        '¿ capital de perú ?'
        """
        index = {w: i for i, w in enumerate(self.vocab)}
        try:
            return [index[w] for w in text.split()]
        except KeyError as err:
            raise ValueError(f"`text` contiene una palabra fuera del vocabulario: {err}") from err

    def decode(self, ids) -> str:
        """Texto de una lista de ids ``(T,)`` (se omiten los de relleno).

        Los ids deben estar en ``[0, V)``: un ``-1`` no es «la última palabra».

        >>> world = make_world()
        >>> world.decode([1, 0, 0])
        '<bos>'
        """
        ids = check_token_ids("ids", ids, vocab_size=len(self.vocab))
        return " ".join(self.vocab[i] for i in ids if self.vocab[i] != PAD)


def make_world(n_demo: int = 12) -> ToyWorld:
    """El mundo de juguete: 24 países; los ``n_demo`` primeros tienen demostraciones.

    >>> world = make_world()
    >>> len(world.capitals), world.demo_countries[:2], world.capitals["perú"]
    (24, ('francia', 'italia'), 'lima')
    """
    n_demo = check_int("n_demo", n_demo, min_value=1, max_value=len(COUNTRIES) - 1)
    words = {w for t in (ENTRY, QUESTION, ANSWER, REFUSAL) for w in t.split() if "{" not in w}
    vocab = (PAD, BOS, EOS, *sorted(words), *(w for pair in COUNTRIES for w in pair))
    names = tuple(c for c, _ in COUNTRIES)
    return ToyWorld(vocab, dict(COUNTRIES), names[:n_demo], names[n_demo:])


@dataclass
class Sequences:
    """Secuencias con relleno: ``idx`` ``(N, T+1)``; ``prompt_lengths`` y ``lengths`` ``(N,)``."""

    idx: torch.Tensor
    prompt_lengths: torch.Tensor
    lengths: torch.Tensor

    def mask(self) -> torch.Tensor:
        """Máscara ``(N, T)`` de los objetivos de la respuesta (ver :func:`response_mask`)."""
        return response_mask(self.prompt_lengths, self.lengths, self.idx.shape[1] - 1)

    def __len__(self) -> int:
        return self.idx.shape[0]

    def subset(self, rows: torch.Tensor) -> Sequences:
        """Las secuencias de las filas ``rows``."""
        return Sequences(self.idx[rows], self.prompt_lengths[rows], self.lengths[rows])

    def concat(self, other: Sequences) -> Sequences:
        """Estas secuencias seguidas de las de ``other`` (misma longitud ``T + 1``)."""
        return Sequences(
            torch.cat([self.idx, other.idx]),
            torch.cat([self.prompt_lengths, other.prompt_lengths]),
            torch.cat([self.lengths, other.lengths]),
        )


@dataclass
class PreferencePairs:
    """Parejas alineadas: ``chosen[i]`` es preferida a ``rejected[i]`` (mismo *prompt*)."""

    chosen: Sequences
    rejected: Sequences


def pack(world: ToyWorld, prompts: list[str], responses: list[str], T: int) -> Sequences:
    """Codifica «<bos> prompt respuesta <eos>» con relleno hasta ``T + 1`` tokens.

    >>> world = make_world()
    >>> data = pack(world, ["¿ capital de perú ?"], ["capital lima ."], 11)
    >>> world.decode(data.idx[0].tolist()), data.prompt_lengths.tolist(), data.lengths.tolist()
    ('<bos> ¿ capital de perú ? capital lima . <eos>', [6], [10])
    """
    rows, p_len, lengths = [], [], []
    for prompt, response in zip(prompts, responses, strict=True):
        p = world.encode(f"{BOS} {prompt}".strip())
        ids = p + world.encode(f"{response} {EOS}")
        if len(ids) > T + 1:
            raise ValueError(f"una secuencia de {len(ids)} tokens no cabe en T + 1 = {T + 1}")
        rows.append(ids + [0] * (T + 1 - len(ids)))
        p_len.append(len(p))
        lengths.append(len(ids))
    return Sequences(torch.tensor(rows), torch.tensor(p_len), torch.tensor(lengths))


def pretraining_corpus(
    world: ToyWorld, n_docs: int = 2000, *, faq: float = 0.05, seed: int = 0
) -> Sequences:
    """Documentos de «la web»: enciclopedia, listas de preguntas y alguna página de respuestas.

    Una fracción ``faq`` son preguntas con su respuesta («¿ capital de X ? capital
    Y .»); del resto, el 60 % son entradas de enciclopedia de 1–2 países («X : capital Y .») y el
    40 % listas de 2 preguntas sin respuesta. Todos los países aparecen. Cuentan
    todos los tokens tras ``<bos>`` (``prompt_lengths`` = 1).
    """
    n_docs = check_int("n_docs", n_docs, min_value=1)
    faq = check_float("faq", faq, min_value=0.0, max_value=1.0)
    g = torch.Generator().manual_seed(check_int("seed", seed, min_value=0))
    names = list(world.capitals)
    kinds = torch.rand(n_docs, generator=g)  # (n_docs,) tipo de página
    picks = torch.randint(0, len(names), (n_docs, 2), generator=g).tolist()
    n_items = torch.randint(1, 3, (n_docs,), generator=g).tolist()
    docs = []
    for u, (a, b), n in zip(kinds.tolist(), picks, n_items, strict=True):
        ca, cb = names[a], names[b]
        if u < faq:  # página de preguntas frecuentes
            docs.append(QUESTION.format(c=ca) + " " + ANSWER.format(c=ca, k=world.capitals[ca]))
        elif u < faq + 0.6 * (1 - faq):  # entrada de enciclopedia
            entries = [ENTRY.format(c=c, k=world.capitals[c]) for c in (ca, cb)[:n]]
            docs.append(" ".join(entries))
        else:  # lista de preguntas de concurso
            docs.append(QUESTION.format(c=ca) + " " + QUESTION.format(c=cb))
    return pack(world, [""] * n_docs, docs, T_MAX)


def sft_dataset(
    world: ToyWorld,
    *,
    copies: int = 10,
    unhelpful: float = 0.3,
    replay: Sequences | None = None,
    seed: int = 0,
) -> Sequences:
    """Demostraciones: pregunta sobre un país de ``demo_countries`` y su respuesta.

    Cada país aparece ``copies`` veces; en una fracción ``unhelpful`` la persona que
    escribió la demostración contestó «no lo sé .». Con ``replay`` (un corpus de
    :func:`pretraining_corpus`) se añaden tantas entradas de enciclopedia como
    demostraciones: un repaso del preentrenamiento para no olvidarlo.
    """
    copies = check_int("copies", copies, min_value=1)
    unhelpful = check_float("unhelpful", unhelpful, min_value=0.0, max_value=1.0)
    g = torch.Generator().manual_seed(check_int("seed", seed, min_value=0))
    countries = [c for c in world.demo_countries for _ in range(copies)]
    lazy = (torch.rand(len(countries), generator=g) < unhelpful).tolist()
    prompts = [QUESTION.format(c=c) for c in countries]
    responses = [
        REFUSAL if bad else ANSWER.format(c=c, k=world.capitals[c])
        for c, bad in zip(countries, lazy, strict=True)
    ]
    demos = pack(world, prompts, responses, T_MAX)
    if replay is None:
        return demos
    entries = encyclopedia_entries(world, replay)
    if len(entries) < len(demos):
        raise ValueError(
            f"`replay` tiene {len(entries)} entradas de enciclopedia, pero hacen falta "
            f"{len(demos)} (una por demostración)"
        )
    return demos.concat(entries.subset(torch.arange(len(demos))))


def encyclopedia_entries(world: ToyWorld, corpus: Sequences) -> Sequences:
    """Las entradas de enciclopedia («X : capital Y .») de un corpus de preentrenamiento."""
    rows = torch.nonzero(corpus.idx[:, 2] == world.vocab.index(":"))[:, 0]  # (n,)
    return corpus.subset(rows)


def preference_pairs(
    world: ToyWorld, countries=None, *, wrong_capitals: bool = False, seed: int = 0
) -> PreferencePairs:
    """Parejas de preferencias: por cada país, la respuesta correcta ≻ «no lo sé .».

    Con ``wrong_capitals`` se añade otra pareja por país: correcta ≻ una capital
    equivocada al azar. Por defecto usa ``world.demo_countries``.
    """
    countries = list(world.demo_countries if countries is None else countries)
    g = torch.Generator().manual_seed(check_int("seed", seed, min_value=0))
    capitals = list(world.capitals.values())
    prompts, good, bad = [], [], []
    for c in countries:
        rejected = [REFUSAL]
        if wrong_capitals:
            wrong = [k for k in capitals if k != world.capitals[c]]
            rejected.append(
                ANSWER.format(c=c, k=wrong[int(torch.randint(len(wrong), (1,), generator=g))])
            )
        for r in rejected:
            prompts.append(QUESTION.format(c=c))
            good.append(ANSWER.format(c=c, k=world.capitals[c]))
            bad.append(r)
    return PreferencePairs(pack(world, prompts, good, T_MAX), pack(world, prompts, bad, T_MAX))
