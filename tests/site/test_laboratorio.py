"""El laboratorio: ``modelo.js`` frente a libroia y PyTorch, y los paneles en Chromium.

Casi todo se prueba con un GPT pequeño de pesos aleatorios (rápido de exportar y de
ejecutar) y una página suelta (:func:`libroia_sphinx.laboratorio.write_standalone`)
servida en 127.0.0.1. Si el sitio está construido, se comprueba además el modelo real
que exportó la construcción.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from libroia_sphinx import laboratorio as lab
from scipy import stats

from libroia import sampling
from libroia.gpt import GPT, GPTConfig
from libroia.tokenizer import BPETokenizer
from tests.conftest import BOOK, SITE
from tests.site.browser import axe_violations, browser_context, serve

pytestmark = pytest.mark.browser

TRICKY = [
    "La casa de la pradera",
    "¿Qué tal estás? ¡Muy bien!",
    "año, niño, señal, ÑANDÚ",
    "Árbol, camión, pingüino, ÁÉÍÓÚ",
    "12345 + 678 = 13023; 3,14159",
    "emoji 😀👍🏽 y bandera 🇪🇸",
    "   tres espacios delante",
    "línea\nnueva\n\n\n  con sangría",
    "\ttabulador\t y fin  ",
    "«comillas latinas» y “inglesas” — raya",
    "e\u0301 combinada frente a é",
    "日本語のテキスト",
    "x",
    "ñ",
    "a" * 40,
    "código: `x = f(1, 2)` y $\\sqrt{d}$",
    "separadores\u00a0no\u2028rompibles\u0085y\ufeffBOM",
    "mayúsculas EN MEDIO de la FRASE",
    "La atención permite que cada token mire a los anteriores; el modelo del libro "
    "solo ve unos pocos tokens a la vez, así que este texto es más largo que su contexto.",
    "Dos párrafos.\n\nEl segundo, con números 2024 y 1.000.000.",
]


# --------------------------------------------------------------------------- utilidades


def strided_reference(model: GPT, ids: list[int]) -> np.ndarray:
    """Lo que hace ``strided_logits`` de modelo.js, en PyTorch: ``(T, V)``."""
    C = model.config.context
    with torch.no_grad():
        if len(ids) <= C:
            return model(torch.tensor([ids]))[0].numpy()
        S, rows, start = C // 2, [], 0
        while len(rows) < len(ids):
            window = model(torch.tensor([ids[start : start + C]]))[0].numpy()
            rows += list(window[0 if start == 0 else C - S :])
            start += S
    return np.array(rows)


def serious_violations(page) -> list[str]:
    """Las de axe-core vigente (el de ``tests/site/assets``), como en ``test_browser.py``."""
    return axe_violations(page)


def shown(tok: BPETokenizer, token_id: int) -> str:
    """Como ``shown`` de laboratorio-paneles.js: espacios «·», saltos «↵»."""
    return tok.token_str(token_id).replace(" ", "·").replace("\n", "↵").replace("\t", "→")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """GPT aleatorio pequeño (V = 400, contexto 24) exportado a una carpeta temporal.

    Tras exportar, ``model`` lleva los pesos decuantizados: los mismos números que
    usa el navegador.
    """
    folder = tmp_path_factory.mktemp("laboratorio")
    tok = BPETokenizer.train((BOOK / "01_aprender_funciones.md").read_text(encoding="utf-8"), 400)
    config = GPTConfig(vocab_size=tok.vocab_size, context=24, d_model=32, n_layers=2, n_heads=4)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = GPT(config).eval()
        with torch.no_grad():
            for name, p in model.named_parameters():  # pesos grandes: logits de varias unidades
                p.normal_(1.0 if "norm" in name else 0.0, 0.35 if p.ndim >= 2 else 0.1)
    lab.write_standalone(folder, model, tok)
    lab.load_exported_state(model, folder / "_static" / "laboratorio")
    return SimpleNamespace(folder=folder, model=model, tok=tok, config=config)


@pytest.fixture(scope="module")
def url(small):
    with serve(small.folder) as base:
        yield base


@pytest.fixture(scope="module")
def browsing():
    """``(contexto, visita)``: un Chromium para todo el fichero; ``visit.blocked`` anota
    cualquier petición que intente salir de 127.0.0.1."""
    with browser_context(viewport={"width": 1000, "height": 900}) as (ctx, visit):
        yield ctx, visit
        assert visit.blocked == []


@pytest.fixture(scope="module")
def context(browsing):
    return browsing[0]


@pytest.fixture(scope="module")
def js(context, url):
    """Una página con ``window.M`` (el módulo) y ``window.m`` (el modelo cargado)."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{url}/modulo.html")
    page.wait_for_function("window.listo === true", timeout=30_000)
    yield page
    assert errors == []


def extra_context(context, visit, **options):
    """Otro contexto del mismo Chromium: deja pasar 127.0.0.1 y ``file://``, y bloquea el resto."""
    ctx = context.browser.new_context(**options)

    def route(route, request):
        url = request.url
        if url.startswith(("file:", "data:", "blob:", "about:", "http://127.0.0.1:")):
            route.continue_()
        else:
            visit.blocked.append(url)
            route.abort()

    ctx.route("**/*", route)
    return ctx


def open_lab(context, address: str):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(address)
    page.wait_for_selector('.laboratorio[data-estado="listo"]', timeout=30_000)
    page.errors = errors
    return page


# --------------------------------------------------------------------------- modelo.js


def test_los_logits_coinciden_con_pytorch(js, small):
    """20 textos variados (el último de varios párrafos, varios más largos que el contexto)."""
    assert len(TRICKY) == 20
    assert any(len(small.tok.encode(s)) > small.config.context for s in TRICKY)
    out = js.evaluate(
        "(texts) => texts.map((s) => { const ids = m.encode(s);"
        " return [ids, m.logits(ids).map((row) => Array.from(row))]; })",
        TRICKY,
    )
    for text, (ids, logits) in zip(TRICKY, out, strict=True):
        assert ids == small.tok.encode(text)
        ref = strided_reference(small.model, ids)
        assert np.abs(ref).max() > 1.0  # logits de tamaño realista, no casi cero
        np.testing.assert_allclose(np.array(logits), ref, rtol=0, atol=1e-4, err_msg=repr(text))


def test_atencion_igual_a_attention_weights(js, small):
    for text in TRICKY[:6] + TRICKY[-2:]:
        ids = small.tok.encode(text)[: small.config.context]
        got = js.evaluate("(ids) => m.attention(ids).map((l) => l.map((h) => Array.from(h)))", ids)
        ref = small.model.attention_weights(torch.tensor([ids]))
        for layer, weights in enumerate(ref):
            T = len(ids)
            np.testing.assert_allclose(
                np.array(got[layer]).reshape(-1, T, T), weights[0].numpy(), rtol=0, atol=1e-5
            )


def test_la_cache_kv_da_lo_mismo_que_recalcular(js, small):
    ids = small.tok.encode(TRICKY[-2])
    C = small.config.context
    err = js.evaluate(
        """([ids, C]) => {
            const short = ids.slice(0, C);
            const full = m.gpt.forward(short);
            const cache = new M.KVCache(m.config);
            let err = 0;
            const step = (t, piece) => m.gpt.forward(piece, cache).forEach((row, i) => {
                for (let v = 0; v < row.length; v++)
                    err = Math.max(err, Math.abs(row[v] - full[t + i][v]));
            });
            step(0, short.slice(0, 5));  // varios tokens de golpe y luego de uno en uno
            for (let t = 5; t < short.length; t++) step(t, [short[t]]);
            return err;
        }""",
        [ids, C],
    )
    assert err <= 1e-6
    # Generar más allá del contexto: con caché (y ventana rehecha) = GPT.generate de PyTorch.
    prompt = ids[:10]
    got = js.evaluate("(ids) => m.gpt.generate(ids, 40)", prompt)
    ref = small.model.generate(torch.tensor([prompt]), 40)[0].tolist()
    assert got == ref


def test_encode_igual_que_libroia_en_un_capitulo_entero(js, small):
    """El tokenizador se entrenó con el capítulo 1; el 2 no lo vio nunca."""
    chapter = (BOOK / "02_tokens_y_datos.md").read_text(encoding="utf-8")
    texts = [chapter, *TRICKY, "\ud800 sustituto suelto"]
    got = js.evaluate("(texts) => texts.map((s) => [m.encode(s), m.decode(m.encode(s))])", texts)
    for text, (ids, decoded) in zip(texts, got, strict=True):
        assert ids == small.tok.encode(text)
        assert decoded == text
    strs = js.evaluate("(V) => Array.from({length: V}, (_, i) => m.tokenizer.token_str(i))",
                       small.tok.vocab_size)  # fmt: skip
    assert strs == [small.tok.token_str(i) for i in range(small.tok.vocab_size)]


def test_decode_de_bytes_sueltos_como_python(js, small):
    rng = np.random.default_rng(0)
    seqs = [rng.integers(0, 256, size=int(rng.integers(1, 10))).tolist() for _ in range(500)]
    got = js.evaluate("(seqs) => seqs.map((s) => m.decode(s))", seqs)
    assert got == [small.tok.decode(s) for s in seqs]


def _filter_cases() -> list[tuple[np.ndarray, dict]]:
    rng = np.random.default_rng(1)
    cases = []
    for i in range(150):
        V = int(rng.integers(1, 200))
        z = rng.normal(size=V) * rng.uniform(0.1, 6)
        if i % 3 == 0:
            z = np.round(z)  # muchos empates
        if i % 4 == 0 and V > 1:
            z[rng.random(V) < 0.3] = -np.inf
            z[0] = 0.5
        p = float(rng.choice([rng.uniform(0.01, 1.0), 1.0, 0.5]))
        cases.append((z, {"k": int(rng.integers(1, V + 3)), "p": p, "t": rng.uniform(0.1, 3)}))
    log = np.log
    hand = [
        ([0.0, 0.0, 0.0, 0.0], {"k": 2, "p": 0.5, "t": 1.0}),  # todo empatado
        ([log(0.5), log(0.3), log(0.15), log(0.05)], {"k": 1, "p": 0.8, "t": 1.0}),
        ([log(0.5), log(0.3), log(0.15), log(0.05)], {"k": 3, "p": 0.7, "t": 1.0}),
        ([1.0, 1.0, 0.0, -np.inf], {"k": 1, "p": 0.5, "t": 1.0}),  # empate en el corte
        ([0.0, log(0.5), -np.inf, -np.inf], {"k": 4, "p": 0.5, "t": 1.0}),  # min-p exacto
        ([5.0], {"k": 1, "p": 1.0, "t": 0.5}),  # un solo token
        ([0.0, -1000.0, -np.inf], {"k": 3, "p": 1.0, "t": 1.0}),  # p = 1 y masa nula
        ([3.0, 3.0, 3.0, 1.0, 1.0], {"k": 2, "p": 0.9, "t": 2.0}),
        ([1e300, 0.0, -1e300], {"k": 1, "p": 0.3, "t": 1e-10}),  # z / T desbordaría
    ]
    cases += [(np.array(z, dtype=np.float64), o) for z, o in hand]
    return cases


def test_los_filtros_conservan_los_mismos_tokens_que_libroia(js):
    cases = _filter_cases()
    payload = [[[None if np.isneginf(v) else float(v) for v in z], o] for z, o in cases]
    got = js.evaluate(
        """(cases) => cases.map(([z, o]) => {
            z = z.map((v) => (v === null ? -Infinity : v));
            const enc = (a) => Array.from(a, (v) => (v === -Infinity ? null : v));
            return {
                t: enc(M.apply_temperature(z, o.t)), k: enc(M.top_k_filter(z, o.k)),
                p: enc(M.top_p_filter(z, o.p)), m: enc(M.min_p_filter(z, o.p)),
                all: enc(m.filter(z, {temperature: o.t, top_k: o.k, top_p: o.p, min_p: o.p})),
                greedy: M.greedy(z),
            };
        })""",
        payload,
    )
    for (z, o), res in zip(cases, got, strict=True):
        both = sampling.top_k_filter(sampling.apply_temperature(z, o["t"]), o["k"])
        both = sampling.min_p_filter(sampling.top_p_filter(both, o["p"]), o["p"])
        expected = {
            "t": sampling.apply_temperature(z, o["t"]),
            "k": sampling.top_k_filter(z, o["k"]),
            "p": sampling.top_p_filter(z, o["p"]),
            "m": sampling.min_p_filter(z, o["p"]),
            "all": both,
        }
        for key, ref in expected.items():
            mine = np.array([-np.inf if v is None else v for v in res[key]])
            assert np.array_equal(np.isfinite(mine), np.isfinite(ref)), (key, o, z)
        np.testing.assert_array_equal(
            np.array([-np.inf if v is None else v for v in res["t"]]), expected["t"]
        )
        assert res["greedy"] == int(sampling.greedy(z))


@pytest.mark.parametrize(
    ("call", "name"),
    [
        ("M.top_p_filter([1, 2], 1.5)", "p"),
        ("M.top_p_filter([1, 2], 0)", "p"),
        ("M.min_p_filter([1, 2], -0.1)", "p"),
        ("M.top_k_filter([1, 2], 0)", "k"),
        ("M.top_k_filter([1, 2], 1.5)", "k"),
        ("M.apply_temperature([1, 2], 0)", "temperature"),
        ("M.sample([1, 2], {temperature: -1})", "temperature"),
        ("M.sample([1, 2], {top_p: 2})", "top_p"),
        ("m.filter([1, 2], {top_k: 0})", "top_k"),
        ("M.filter([1, 2], {min_p: 0})", "min_p"),
        ("M.top_k_filter([1, NaN], 1)", "nan"),
        ("M.top_k_filter([1, Infinity], 1)", r"\+inf"),
        ("M.top_k_filter([-Infinity, -Infinity], 1)", "finito"),
        ("M.top_k_filter([], 1)", "logits"),
        ("M.make_rng(-1)", "seed"),
        ("m.decode([99999])", "ids"),
        ("m.encode(42)", "text"),
        ("m.logits([-1])", "ids"),
        ("m.attention(Array(1000).fill(1))", "contexto"),
    ],
)
def test_errores_claros_en_espanol(js, call, name):
    script = f"() => {{ try {{ {call}; return null; }} catch (e) {{ return e.message; }} }}"
    message = js.evaluate(script)
    assert message is not None and re.search(name, message), message


def test_el_sorteo_sigue_softmax_con_temperatura(js):
    """20 000 sorteos con semilla fija frente a softmax(z / T): prueba de chi-cuadrado."""
    z = [2.0, 1.5, 1.0, 0.5, 0.0, -0.5, -1.0, -2.0, 0.8, 1.2]
    for options in ({"temperature": 0.7}, {"temperature": 1.3, "top_k": 5, "top_p": 0.9}):
        counts = js.evaluate(
            """([z, o]) => { const rng = M.make_rng(2024); const c = new Array(z.length).fill(0);
                for (let i = 0; i < 20000; i++) c[M.sample(z, o, rng)] += 1; return c; }""",
            [z, options],
        )
        filtered = sampling.apply_temperature(np.array(z), options["temperature"])
        if "top_k" in options:
            filtered = sampling.top_p_filter(
                sampling.top_k_filter(filtered, options["top_k"]), options["top_p"]
            )
        kept = np.isfinite(filtered)
        expected = np.exp(filtered[kept] - filtered[kept].max())
        expected = 20000 * expected / expected.sum()
        counts = np.array(counts)
        assert counts[~kept].sum() == 0  # nunca sale un token descartado
        assert stats.chisquare(counts[kept], expected).pvalue > 1e-3


def test_la_misma_semilla_da_la_misma_sucesion(js):
    a, b, c = js.evaluate(
        "() => [1, 1, 2].map((s) => { const r = M.make_rng(s); return [r(), r(), r()]; })"
    )
    assert a == b != c
    assert all(0 <= x < 1 for x in a + c)


# --------------------------------------------------------------------------- exportación


def test_exportar_guarda_int8_por_fila_y_reconstruye(small):
    static = small.folder / "_static" / "laboratorio"
    meta = json.loads((static / "modelo.json").read_text(encoding="utf-8"))
    assert meta["config"]["vocab_size"] == small.tok.vocab_size
    assert meta["weights"]["format"] == lab.WEIGHTS_FORMAT == "int8"
    kinds = {t["name"]: t["dtype"] for t in meta["weights"]["tensors"]}
    assert kinds["tok.weight"] == "int8" and kinds["norm.weight"] == "float32"
    from libroia.quantization import dequantize, quantize_absmax

    w = np.random.default_rng(0).normal(size=(6, 5)).astype(np.float32)
    for fmt, tol in (("int8", None), ("float16", 1e-3)):
        index, data = lab.pack_weights({"w": w, "b": w[0]}, fmt)
        back = lab.unpack_weights(index, data)
        np.testing.assert_array_equal(back["b"], w[0])
        if tol is None:
            np.testing.assert_array_equal(back["w"], dequantize(*quantize_absmax(w, axis=0)))
        else:
            np.testing.assert_allclose(back["w"], w, atol=tol)


def test_solo_se_reexporta_cuando_cambia_el_modelo(small, tmp_path):
    result = SimpleNamespace(
        key="a" * 20, model=small.model, tokenizer=small.tok, val_loss=3.0,
        config=small.config, recorded_train_seconds=1.0,
    )  # fmt: skip
    assert lab.export_if_changed(result, tmp_path) is True
    assert lab.export_if_changed(result, tmp_path) is False
    result.key = "b" * 20
    assert lab.export_if_changed(result, tmp_path) is True
    assert (tmp_path / "modelo.classic.js").exists()


def test_errores_de_la_exportacion_y_la_directiva():
    with pytest.raises(ValueError, match="fmt"):
        lab.pack_weights({"w": np.ones((2, 2))}, "int4")
    with pytest.raises(ValueError, match="panels"):
        lab.parse_panels("tokens atención")
    with pytest.raises(ValueError, match="module_source"):
        lab.classic_script('import { x } from "./y.js";')
    assert lab.parse_panels("muestreo, tokens muestreo") == ["muestreo", "tokens"]
    assert 'data-paneles="tokens sorpresa"' in lab.widget_html(["tokens", "sorpresa"], "a&b")


def test_el_script_clasico_define_todo_lo_que_exporta_el_modulo():
    source = (lab.STATIC / "modelo.js").read_text(encoding="utf-8")
    exported = re.findall(r"^export (?:async function|function|class|const) (\w+)", source, re.M)
    classic = lab.classic_script(source)
    assert "export " not in "\n".join(line[:7] for line in classic.splitlines())
    for name in ("load", "BPETokenizer", "GPT", "KVCache", "top_p_filter", "sample"):
        assert name in exported
    assert f"globalThis.libroiaModelo = {{ {', '.join(exported)} }};" in classic


# --------------------------------------------------------------------------- paneles


def _bars(page, panel: str) -> list[str]:
    return page.locator(f".lab-{panel} .lab-barra .lab-barra-ficha").all_inner_texts()


def test_los_paneles_funcionan_de_principio_a_fin(context, url, small):
    page = open_lab(context, f"{url}/laboratorio.html")
    tok, model = small.tok, small.model
    ids = [int(x) for x in page.locator(".lab-tokens .lab-id").all_inner_texts()]
    assert ids == tok.encode(lab.DEFAULT_TEXT)
    before = _bars(page, "siguiente")

    # Escribir cambia los tokens y la distribución (y el favorito es el de PyTorch).
    text = "¿Dónde está la ñ de España?"
    page.fill(".lab-entrada textarea", text)
    expected = tok.encode(text)
    page.wait_for_function(
        "(n) => document.querySelectorAll('.lab-tokens .lab-id').length === n", arg=len(expected)
    )
    assert [int(x) for x in page.locator(".lab-tokens .lab-id").all_inner_texts()] == expected
    with torch.no_grad():
        last = model(torch.tensor([expected]))[0, -1]
    after = _bars(page, "siguiente")
    assert after != before
    assert after[0] == f"«{shown(tok, int(last.argmax()))}»"

    # Los controles cambian lo que se conserva: mismo número de tokens que libroia.
    def kept_summary():
        return page.locator(".lab-muestreo .lab-resumen").inner_text()

    page.locator(".lab-muestreo input[type=range]").nth(1).fill("3")  # top-k
    assert "Quedan 3 de" in kept_summary()
    page.locator(".lab-muestreo input[type=range]").nth(1).fill("0")
    page.locator(".lab-muestreo input[type=range]").nth(2).fill("0.5")  # top-p
    n_top_p = int(np.isfinite(sampling.top_p_filter(last.double().numpy(), 0.5)).sum())
    assert f"Quedan {n_top_p} de" in kept_summary()
    cut = page.locator(".lab-muestreo .lab-cortada").count()
    assert cut == 12 - min(12, n_top_p)

    # Generación con semilla: repetible; voraz = GPT.generate de PyTorch.
    def generate(seed: str) -> str:
        page.fill(".lab-muestreo input[type=number]", seed)
        page.get_by_role("button", name="Volver a empezar").click()
        page.get_by_role("button", name="Generar 20 tokens").click()
        return page.locator(".lab-muestreo mark").inner_text()

    first, again, other = generate("7"), generate("7"), generate("8")
    assert first == again and first != other and first
    page.get_by_label("Voraz: elegir siempre el más probable").check()
    greedy = generate("7")
    ref = model.generate(torch.tensor([expected]), 20)[0, len(expected) :].tolist()
    assert greedy == tok.decode(ref)

    # Sorpresa: la perplejidad que calcula PyTorch.
    log_p = torch.log_softmax(model(torch.tensor([expected]))[0].double(), dim=-1)
    bits = -log_p.detach()[:-1].gather(1, torch.tensor(expected[1:])[:, None]).mean() / math.log(2)
    summary = page.locator(".lab-sorpresa .lab-resumen").inner_text()
    shown_ppl = re.search(r"perplejidad ([\d.]+,\d)", summary).group(1)
    assert float(shown_ppl.replace(".", "").replace(",", ".")) == pytest.approx(
        2 ** float(bits), rel=1e-5, abs=0.051
    )
    assert page.errors == []
    page.close()


def test_solo_con_el_teclado(context, url, small):
    page = open_lab(context, f"{url}/laboratorio.html")
    page.locator(".lab-entrada textarea").focus()
    page.keyboard.press("End")
    page.keyboard.type(" y más")
    page.wait_for_function(
        "(n) => document.querySelectorAll('.lab-tokens .lab-id').length === n",
        arg=len(small.tok.encode(lab.DEFAULT_TEXT + " y más")),
    )
    # El mapa de atención: con las flechas se recorre y se lee cada peso.
    page.locator(".lab-mapa").focus()
    for key in ("ArrowDown", "ArrowDown", "ArrowRight"):
        page.keyboard.press(key)
    ids = small.tok.encode(lab.DEFAULT_TEXT + " y más")[: small.config.context]
    w = float(small.model.attention_weights(torch.tensor([ids]))[0][0, 0, 2, 1])
    detail = page.locator(".lab-atencion .lab-detalle").inner_text()
    assert "(posición 3) mira a" in detail and "(posición 2)" in detail
    shown_w = float(re.search(r"peso (\d+,\d+)", detail).group(1).replace(",", "."))
    assert shown_w == pytest.approx(w, abs=0.0051)
    # Un deslizador con las flechas y un botón con Intro.
    temperature = page.locator(".lab-muestreo input[type=range]").first
    temperature.focus()
    page.keyboard.press("ArrowLeft")
    assert page.locator(".lab-muestreo output").first.inner_text() == "0,95"
    page.get_by_role("button", name="Siguiente token").focus()
    page.keyboard.press("Enter")
    assert page.locator(".lab-muestreo mark").inner_text() != ""
    page.close()


def test_nada_se_descarga_hasta_que_el_laboratorio_se_ve(context, url, small):
    far = (small.folder / "laboratorio.html").read_text(encoding="utf-8")
    (small.folder / "lejos.html").write_text(
        far.replace('style="height: 0px"', 'style="height: 4000px"'), encoding="utf-8"
    )
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{url}/lejos.html", wait_until="networkidle")
    page.wait_for_timeout(300)
    loaded = [Path(u).name for u in requested]
    assert "laboratorio.js" in loaded
    assert not {"modelo-datos.js", "modelo.classic.js", "laboratorio-paneles.js"} & set(loaded)
    page.locator(".laboratorio").scroll_into_view_if_needed()
    page.wait_for_selector('.laboratorio[data-estado="listo"]', timeout=30_000)
    assert "modelo-datos.js" in [Path(u).name for u in requested]
    page.close()


def test_el_orden_en_que_llegan_los_scripts_no_importa(context, url, small):
    """laboratorio.js pide tres scripts a la vez y se ejecutan según llegan: los paneles
    pueden ejecutarse antes que el tiempo de ejecución."""
    page_html = (small.folder / "laboratorio.html").read_text(encoding="utf-8")
    scripts = "".join(
        f'<script src="_static/laboratorio/{name}"></script>\n'
        for name in ("laboratorio-paneles.js", "modelo-datos.js", "modelo.classic.js")
    )
    mount = (
        "<script>libroiaModelo.load(LIBROIA_MODELO_DATOS).then((m) => libroiaLaboratorio"
        ".mount(document.querySelector('.laboratorio'), m, performance.now()));</script>\n"
    )
    page_html = page_html.replace(
        '<script defer src="_static/laboratorio/laboratorio.js"></script>\n', ""
    ).replace("</main>", "</main>\n" + scripts + mount)
    (small.folder / "orden.html").write_text(page_html, encoding="utf-8")
    page = open_lab(context, f"{url}/orden.html")
    assert page.locator(".lab-tokens .lab-id").count() == len(small.tok.encode(lab.DEFAULT_TEXT))
    assert page.errors == []
    page.close()


def test_funciona_abierto_desde_el_disco(browsing, small):
    ctx = extra_context(*browsing)
    page = open_lab(ctx, (small.folder / "laboratorio.html").as_uri())
    ids = [int(x) for x in page.locator(".lab-tokens .lab-id").all_inner_texts()]
    assert ids == small.tok.encode(lab.DEFAULT_TEXT)
    assert page.locator(".lab-siguiente .lab-barra").count() == 10
    assert page.errors == []
    # Lo que obliga a publicar también scripts clásicos: desde file://, Chromium no
    # carga el módulo ES ni deja leer modelo.json con fetch.
    module = ctx.new_page()
    module.goto((small.folder / "modulo.html").as_uri())
    module.wait_for_timeout(300)
    assert module.evaluate("window.listo === undefined")
    fetched = module.evaluate(
        "fetch('_static/laboratorio/modelo.json').then(() => 'sí', () => 'bloqueado')"
    )
    assert fetched == "bloqueado"
    ctx.close()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_375_px_tactil_claro_y_oscuro_sin_infracciones(browsing, url, theme):
    options = {"viewport": {"width": 375, "height": 740}, "has_touch": True, "is_mobile": True}
    ctx = extra_context(*browsing, **options)
    page = ctx.new_page()
    page.goto(f"{url}/laboratorio.html")
    page.evaluate(f"document.documentElement.dataset.theme = {theme!r}")
    page.wait_for_selector('.laboratorio[data-estado="listo"]', timeout=30_000)
    page.get_by_role("button", name="Siguiente token").tap()
    assert page.locator(".lab-muestreo mark").inner_text() != ""
    overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 1
    assert serious_violations(page) == []
    ctx.close()


# --------------------------------------------------------------------------- sitio


@pytest.fixture(scope="module")
def built():
    static = SITE / "_static" / "laboratorio"
    if not (static / "modelo.json").exists():
        pytest.skip("el sitio no está construido (make html): se prueba solo el modelo pequeño")
    return static


def test_el_modelo_real_exportado_coincide_con_pytorch(built, context):
    from libroia.corpus import book_prose, train_val_split

    meta = json.loads((built / "modelo.json").read_text(encoding="utf-8"))
    config = GPTConfig(**meta["config"])
    model = lab.load_exported_state(GPT(config), built)
    merges = [((a, b), n) for a, b, n in meta["tokenizer"]["merges"]]
    tok = BPETokenizer(merges, pattern=meta["tokenizer"]["pattern"])
    held_out = train_val_split(book_prose())[1]
    with serve(SITE) as base:
        page = context.new_page()
        page.goto(f"{base}/book/laboratorio.html")
        page.evaluate(
            "async () => { window.M = await import('../_static/laboratorio/modelo.js');"
            " window.m = await M.load('../_static/laboratorio/modelo.json'); }"
        )
        texts = TRICKY[::4]
        got = page.evaluate(
            "(texts) => texts.map((s) => m.logits(m.encode(s)).map((r) => Array.from(r)))", texts
        )
        for text, logits in zip(texts, got, strict=True):
            ref = strided_reference(model, tok.encode(text))
            np.testing.assert_allclose(np.array(logits), ref, rtol=0, atol=1e-4)
        assert page.evaluate("(s) => m.encode(s)", held_out) == tok.encode(held_out)
        assert serious_violations(page) == []
        page.close()
