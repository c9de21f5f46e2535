"""El laboratorio: lo que pesa el modelo del libro en el navegador y lo deprisa que va.

Se exporta el modelo de verdad (:func:`libroia.gpt_train.train_or_load`, de la caché)
a una página suelta (:func:`libroia_sphinx.laboratorio.write_standalone`) servida en
127.0.0.1, y Chromium (el de Debian, sin red) mide:

- el tamaño con gzip de los ficheros del modelo y del resto del laboratorio;
- el tiempo desde que el laboratorio entra en pantalla hasta que dibuja la primera
  distribución (lo anota ``laboratorio.js`` en ``data-ms-primera-distribucion``), con la
  caché del navegador vacía;
- tokens por segundo con ``m.generate``, normal y con la CPU frenada 4× por Chromium
  (``Emulation.setCPUThrottlingRate``), que imita un teléfono de gama media. Dos cifras:
  ``tokens_per_second``, generando dentro del contexto (50 tokens tras un comienzo corto,
  cada paso procesa solo el token nuevo gracias a la caché KV: es lo que hace el panel de
  muestreo), y ``tokens_per_second_window``, generando 200, de modo que pasado el
  contexto cada paso rehace la ventana entera, como ``GPT.generate``.

Presupuestos (no son pruebas: nada falla por lento): modelo ≤ 600 kB con gzip,
primera distribución ≤ 300 ms, ≥ 100 tokens/s y ≥ 25 tokens/s con la CPU frenada
(generando dentro del contexto).

Uso: ``python benchmarks/bench_laboratorio.py``.
"""

from __future__ import annotations

import gzip
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.site.browser import browser_context, serve  # noqa: E402

BUDGETS = {
    "model_gzip_bytes": 600_000,
    "first_distribution_ms": 300,
    "tokens_per_second": 100,
    "tokens_per_second_cpu_4x": 25,
}
IN_CONTEXT_TOKENS = 50
WINDOW_TOKENS = 200
PROMPT = "La atención permite"


def _gzip_size(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=6))


def sizes(static: Path) -> dict[str, int]:
    """Bytes con gzip de cada pieza; «model» es lo que descarga el laboratorio."""
    g = {p.name: _gzip_size(p) for p in static.iterdir() if p.is_file()}
    return {
        "model_gzip_bytes": g["modelo-datos.js"],
        "model_json_bin_gzip_bytes": g["modelo.json"] + g["modelo.bin"],
        "runtime_gzip_bytes": g["modelo.classic.js"],
        "panels_gzip_bytes": g["laboratorio-paneles.js"],
        "first_load_gzip_bytes": g["laboratorio.js"] + g["laboratorio.css"],
    }


def first_distribution_ms(base_url: str, repeat: int = 5) -> float:
    """Mediana, con la caché vacía, de «visible → primera distribución» en milisegundos."""
    times = []
    for _ in range(repeat):
        with browser_context(viewport={"width": 1000, "height": 800}) as (context, visit):
            page = context.new_page()
            page.goto(f"{base_url}/laboratorio.html", wait_until="networkidle")
            page.locator(".laboratorio").scroll_into_view_if_needed()
            page.wait_for_selector(
                '.laboratorio[data-estado="listo"]', state="attached", timeout=60_000
            )
            times.append(float(page.get_attribute(".laboratorio", "data-ms-primera-distribucion")))
            if visit.blocked:
                raise RuntimeError(f"peticiones externas: {visit.blocked}")
    return statistics.median(times)


def tokens_per_second(base_url: str, n: int, throttle: float = 1.0, repeat: int = 3) -> float:
    """Tokens por segundo al generar ``n`` tokens tras :data:`PROMPT` (mediana de ``repeat``)."""
    with browser_context() as (context, _):
        page = context.new_page()
        page.goto(f"{base_url}/modulo.html")
        page.wait_for_function("window.listo === true", timeout=60_000)
        if throttle != 1.0:
            cdp = context.new_cdp_session(page)
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
        rates = page.evaluate(
            """([prompt, n, repeat]) => {
                const ids = m.encode(prompt);
                m.generate(ids, 20, { temperature: 0.8 }, M.make_rng(0));  // calentamiento
                const rates = [];
                for (let r = 0; r < repeat; r++) {
                    const start = performance.now();
                    m.generate(ids, n, { temperature: 0.8 }, M.make_rng(r));
                    rates.push(n / ((performance.now() - start) / 1000));
                }
                return rates;
            }""",
            [PROMPT, n, repeat],
        )
    return statistics.median(rates)


def main() -> dict:
    from libroia_sphinx.laboratorio import write_standalone

    from libroia.gpt_train import train_or_load

    result = train_or_load(progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_standalone(folder, result.model, result.tokenizer, space_before=3000)
        static = folder / "_static" / "laboratorio"
        out = {"n_params": sum(p.numel() for p in result.model.parameters()), **sizes(static)}
        with serve(folder) as base_url:
            out["first_distribution_ms"] = first_distribution_ms(base_url)
            for key, n in (("", IN_CONTEXT_TOKENS), ("_window", WINDOW_TOKENS)):
                out[f"tokens_per_second{key}"] = tokens_per_second(base_url, n)
                out[f"tokens_per_second{key}_cpu_4x"] = tokens_per_second(base_url, n, 4.0)
    out["budgets"] = BUDGETS
    out["within_budget"] = {
        "model_gzip_bytes": out["model_gzip_bytes"] <= BUDGETS["model_gzip_bytes"],
        "first_distribution_ms": out["first_distribution_ms"] <= BUDGETS["first_distribution_ms"],
        "tokens_per_second": out["tokens_per_second"] >= BUDGETS["tokens_per_second"],
        "tokens_per_second_cpu_4x": (
            out["tokens_per_second_cpu_4x"] >= BUDGETS["tokens_per_second_cpu_4x"]
        ),
    }
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=2, ensure_ascii=False))
