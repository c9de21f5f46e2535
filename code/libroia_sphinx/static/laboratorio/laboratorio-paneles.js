// laboratorio-paneles.js — los paneles del laboratorio (los carga laboratorio.js).
//
// Cada laboratorio tiene un cuadro de texto y los paneles que pidió la página:
//   tokens     los tokens del texto, con su id;
//   atencion   los pesos de atención de cada capa y cabeza sobre el texto;
//   siguiente  los diez tokens más probables para continuar;
//   muestreo   temperatura, top-k, top-p y min-p sobre la distribución, y generación;
//   sorpresa   los bits de sorpresa de cada token y la perplejidad del texto.
// Todo se calcula en el navegador con modelo.js; nada sale de la página.
(function () {
  "use strict";
  // modelo.js (modelo.classic.js). Los scripts se descargan a la vez y pueden ejecutarse en
  // cualquier orden: se busca al montar el primer laboratorio, no al cargar este fichero.
  let M = null;
  let counter = 0;

  // ------------------------------------------------------------------ utilidades
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  /** Un número a la española: coma decimal y, desde cinco cifras, puntos de millar
   * (a mano: la primera llamada a Intl.NumberFormat tarda decenas de milisegundos). */
  function fmt(x, digits) {
    const [whole, fraction] = Math.abs(x).toFixed(digits).split(".");
    const grouped = whole.length > 4 ? whole.replace(/\B(?=(\d{3})+$)/g, ".") : whole;
    return (x < 0 ? "-" : "") + grouped + (fraction ? "," + fraction : "");
  }
  const percent = (p) => (p >= 0.001 || p === 0 ? fmt(100 * p, 1) : "<0,1") + " %";

  /** Un token como texto visible: los espacios como «·» y los saltos de línea como «↵». */
  function shown(model, id) {
    const text = model.tokenizer.token_str(id);
    return text.replace(/ /g, "·").replace(/\n/g, "↵").replace(/\t/g, "→");
  }

  function debounce(fn, ms) {
    let timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  function isDark() {
    return document.documentElement.dataset.theme === "dark";
  }

  function panelBox(kind, title, explanation) {
    counter += 1;
    const id = `lab-${kind}-${counter}`;
    const box = el("section", { class: `lab-panel lab-${kind}`, "aria-labelledby": id }, [
      el("p", { class: "lab-panel-titulo", id, text: title }),
      el("p", { class: "lab-explica", text: explanation }),
    ]);
    return box;
  }

  // ------------------------------------------------------------------ panel: tokens
  function tokensPanel(model) {
    const box = panelBox(
      "tokens",
      "Tokens",
      "Así trocea tu texto el tokenizador del libro: cada recuadro es un token, con su " +
        "número (id) debajo. Los espacios se ven como «·» y los saltos de línea como «↵».",
    );
    const summary = el("p", { class: "lab-resumen", "aria-live": "polite" });
    const list = el("ol", { class: "lab-fichas", "aria-label": "Fichas del texto" });
    box.append(summary, list);
    return {
      box,
      update(state) {
        const { ids, text } = state;
        const chars = [...text].length;
        const ratio = ids.length ? fmt(chars / ids.length, 1) : "0";
        summary.textContent = `${ids.length} tokens para ${chars} caracteres: ${ratio} caracteres por token.`;
        list.replaceChildren(
          ...ids
            .slice(0, 400)
            .map((id) =>
              el("li", { class: "lab-ficha", style: `--tono: ${(id * 137.5) % 360}` }, [
                el("span", { class: "lab-ficha-texto", text: shown(model, id) }),
                el("span", { class: "lab-id", text: String(id) }),
              ]),
            ),
        );
      },
    };
  }

  // ------------------------------------------------------------------ panel: atención
  function heatColor(w) {
    return isDark() ? `rgba(125, 200, 255, ${w})` : `rgba(0, 84, 166, ${w})`;
  }

  function drawHeat(canvas, weights, T, size, options) {
    const { labels, selected } = options;
    const ratio = window.devicePixelRatio || 1;
    const margin = labels ? 70 : 0;
    const cell = Math.max(1, Math.floor((size - margin) / T));
    const width = margin + cell * T;
    canvas.width = width * ratio;
    canvas.height = width * ratio;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${width}px`;
    const ctx = canvas.getContext("2d");
    ctx.scale(ratio, ratio);
    const style = getComputedStyle(canvas);
    ctx.fillStyle = style.getPropertyValue("--lab-fondo") || "#fff";
    ctx.fillRect(0, 0, width, width);
    for (let t = 0; t < T; t++) {
      for (let s = 0; s < T; s++) {
        if (s > t) {
          ctx.fillStyle = isDark() ? "#2a2a2a" : "#eeeeee"; // la máscara causal: no puede mirar
        } else {
          ctx.fillStyle = heatColor(weights[t * T + s]);
        }
        ctx.fillRect(margin + s * cell, margin + t * cell, cell, cell);
      }
    }
    if (labels) {
      ctx.fillStyle = style.color;
      ctx.font = `${Math.min(12, cell)}px sans-serif`;
      ctx.textBaseline = "middle";
      labels.forEach((label, t) => {
        const short = label.length > 9 ? label.slice(0, 8) + "…" : label;
        ctx.textAlign = "right";
        ctx.fillText(short, margin - 4, margin + (t + 0.5) * cell);
        ctx.save();
        ctx.translate(margin + (t + 0.5) * cell, margin - 4);
        ctx.rotate(-Math.PI / 3);
        ctx.textAlign = "left";
        ctx.fillText(short, 0, 0);
        ctx.restore();
      });
    }
    if (selected) {
      ctx.strokeStyle = isDark() ? "#ffcc66" : "#b35900";
      ctx.lineWidth = 2;
      ctx.strokeRect(margin + selected[1] * cell, margin + selected[0] * cell, cell, cell);
    }
    return { margin, cell };
  }

  function attentionPanel(model) {
    const { n_layers: L, n_heads: H } = model.config;
    const box = panelBox(
      "atencion",
      "Atención",
      "Cada fila del mapa es un token de tu texto y cada columna, un token anterior: el " +
        "color dice cuánto la mira (cada fila suma 1). Elige una capa y una cabeza en las " +
        "miniaturas; pasa el ratón, toca o usa las flechas sobre el mapa para leer cada peso.",
    );
    const thumbs = el("div", {
      class: "lab-miniaturas",
      role: "group",
      "aria-label": "Capas y cabezas",
    });
    const canvas = el("canvas", { class: "lab-mapa", tabindex: "0", role: "img" });
    const detail = el("p", { class: "lab-detalle", "aria-live": "polite" });
    const note = el("p", { class: "lab-nota" });
    box.append(thumbs, note, canvas, detail);
    let layer = 0;
    let head = 0;
    let cellPos = null;
    let data = null;
    let geometry = null;
    const buttons = [];
    for (let l = 0; l < L; l++) {
      for (let j = 0; j < H; j++) {
        const thumb = el("canvas", { class: "lab-miniatura", "aria-hidden": "true" });
        const button = el(
          "button",
          {
            type: "button",
            class: "lab-boton-miniatura",
            "aria-pressed": "false",
            // El nombre accesible empieza por el texto visible («1·2»), como pide WCAG 2.5.3.
            "aria-label": `${l + 1}·${j + 1}: capa ${l + 1}, cabeza ${j + 1}`,
          },
          [thumb, el("span", { text: `${l + 1}·${j + 1}`, "aria-hidden": "true" })],
        );
        button.addEventListener("click", () => {
          [layer, head] = [l, j];
          draw();
        });
        buttons.push({ button, thumb, l, j });
        thumbs.append(button);
      }
    }

    function describe() {
      if (!data || !cellPos) {
        detail.textContent = "Toca o pasa el ratón por el mapa para leer un peso.";
        return;
      }
      const [t, s] = cellPos;
      const w = data.weights[layer][head][t * data.T + s];
      detail.textContent =
        `Capa ${layer + 1}, cabeza ${head + 1}: el token «${data.labels[t]}» (posición ${t + 1}) ` +
        `mira a «${data.labels[s]}» (posición ${s + 1}) con peso ${fmt(w, 2)}.`;
    }

    function draw() {
      if (!data) return;
      const size = Math.min(box.clientWidth || 320, 520);
      geometry = drawHeat(canvas, data.weights[layer][head], data.T, size, {
        labels: data.T <= 40 ? data.labels : null,
        selected: cellPos,
      });
      canvas.setAttribute(
        "aria-label",
        `Mapa de calor de la atención de la capa ${layer + 1}, cabeza ${head + 1}, ` +
          `sobre ${data.T} tokens`,
      );
      for (const b of buttons) {
        b.button.setAttribute("aria-pressed", String(b.l === layer && b.j === head));
        drawHeat(b.thumb, data.weights[b.l][b.j], data.T, 56, {});
      }
      describe();
    }

    function pick(event) {
      if (!geometry || !data) return;
      const rect = canvas.getBoundingClientRect();
      const s = Math.floor((event.clientX - rect.left - geometry.margin) / geometry.cell);
      const t = Math.floor((event.clientY - rect.top - geometry.margin) / geometry.cell);
      if (t >= 0 && t < data.T && s >= 0 && s <= t) {
        cellPos = [t, s];
        draw();
      }
    }
    canvas.addEventListener("pointermove", pick);
    canvas.addEventListener("pointerdown", pick);
    canvas.addEventListener("keydown", (event) => {
      if (!data) return;
      let [t, s] = cellPos || [0, 0];
      const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
      if (!(event.key in moves)) return;
      event.preventDefault();
      t = Math.min(data.T - 1, Math.max(0, t + moves[event.key][0]));
      s = Math.min(t, Math.max(0, s + moves[event.key][1]));
      cellPos = [t, s];
      draw();
    });

    return {
      box,
      update(state) {
        const C = model.config.context;
        const ids = state.ids.slice(0, C);
        if (ids.length === 0) {
          data = null;
          note.textContent = "Escribe algo para ver la atención.";
          canvas.width = 0;
          return;
        }
        note.textContent =
          state.ids.length > C
            ? `El modelo ve como mucho ${C} tokens a la vez: el mapa muestra los ${C} primeros.`
            : "";
        data = {
          T: ids.length,
          weights:
            state.attention && state.ids.length <= C ? state.attention : model.attention(ids),
          labels: ids.map((id) => shown(model, id)),
        };
        if (cellPos && cellPos[0] >= data.T) cellPos = null;
        draw();
      },
      redraw: draw,
    };
  }

  // ------------------------------------------------------------------ distribución
  /** Lista de barras: [{ id, p, before, cut }] -> <ol>. */
  function bars(model, rows, withCut) {
    return rows.map((row) => {
      const label = `«${shown(model, row.id)}»`;
      const value = row.cut ? "descartado" : percent(row.p);
      const extra = withCut ? ` (antes ${percent(row.before)})` : "";
      return el("li", { class: row.cut ? "lab-barra lab-cortada" : "lab-barra" }, [
        el("span", { class: "lab-barra-ficha", text: label }),
        el("span", { class: "lab-barra-fondo", "aria-hidden": "true" }, [
          el("span", {
            class: "lab-barra-valor",
            style: `width: ${100 * (row.cut ? row.before : row.p)}%`,
          }),
        ]),
        el("span", { class: "lab-barra-numero", text: value + extra }),
      ]);
    });
  }

  function topIndices(probs, n) {
    return Array.from(probs.keys())
      .sort((a, b) => probs[b] - probs[a] || a - b)
      .slice(0, n);
  }

  function nextPanel(model) {
    const box = panelBox(
      "siguiente",
      "El token siguiente",
      "Los diez tokens que el modelo ve más probables para continuar tu texto, con su " +
        "probabilidad: es la salida de la última posición tras la softmax.",
    );
    const summary = el("p", { class: "lab-resumen", "aria-live": "polite" });
    const list = el("ol", { class: "lab-barras", "aria-label": "Tokens más probables" });
    box.append(summary, list);
    return {
      box,
      update(state) {
        if (!state.next) {
          summary.textContent = "Escribe algo para ver qué token predice el modelo.";
          list.replaceChildren();
          return;
        }
        const probs = M.softmax(state.next);
        const top = topIndices(probs, 10);
        summary.textContent =
          `Tras «${state.tail}», el más probable es «${shown(model, top[0])}» ` +
          `(${percent(probs[top[0]])}).`;
        list.replaceChildren(
          ...bars(
            model,
            top.map((id) => ({ id, p: probs[id] })),
            false,
          ),
        );
      },
    };
  }

  // ------------------------------------------------------------------ panel: muestreo
  function samplingPanel(model, widget) {
    const box = panelBox(
      "muestreo",
      "Muestreo",
      "Los controles deciden qué tokens pueden salir: los tachados quedan descartados y los " +
        "demás se reparten su probabilidad. «Siguiente token» sortea uno con la semilla " +
        "elegida; con la misma semilla sale siempre lo mismo.",
    );
    counter += 1;
    const uid = `lab-m-${counter}`;
    const controls = {};
    function slider(key, label, min, max, step, value, show) {
      const input = el("input", {
        type: "range",
        id: `${uid}-${key}`,
        min,
        max,
        step,
        value: String(value),
      });
      const out = el("output", { for: `${uid}-${key}`, id: `${uid}-${key}-valor` });
      input.setAttribute("aria-describedby", `${uid}-${key}-valor`);
      const refresh = () => {
        out.textContent = show(Number(input.value));
      };
      refresh();
      input.addEventListener("input", () => {
        refresh();
        redraw();
      });
      controls[key] = input;
      return el("div", { class: "lab-control" }, [
        el("label", { for: `${uid}-${key}`, text: label }),
        input,
        out,
      ]);
    }
    const greedyBox = el("input", { type: "checkbox", id: `${uid}-voraz` });
    const seed = el("input", {
      type: "number",
      id: `${uid}-semilla`,
      min: "0",
      step: "1",
      value: "1",
      inputmode: "numeric",
    });
    const fieldset = el("fieldset", { class: "lab-controles" }, [
      el("legend", { text: "Controles del muestreo" }),
      slider("temperature", "Temperatura", 0.05, 2, 0.05, 1, (v) => fmt(v, 2)),
      slider("top_k", "Top-k", 0, 50, 1, 0, (v) => (v === 0 ? "sin límite" : String(v))),
      slider("top_p", "Top-p", 0.05, 1, 0.05, 1, (v) => (v === 1 ? "1 (sin corte)" : fmt(v, 2))),
      slider("min_p", "Min-p", 0, 0.5, 0.01, 0, (v) => (v === 0 ? "0 (sin corte)" : fmt(v, 2))),
      el("div", { class: "lab-control lab-control-check" }, [
        greedyBox,
        el("label", { for: `${uid}-voraz`, text: "Voraz: elegir siempre el más probable" }),
      ]),
      el("div", { class: "lab-control" }, [
        el("label", { for: `${uid}-semilla`, text: "Semilla" }),
        seed,
      ]),
    ]);
    greedyBox.addEventListener("change", redraw);
    seed.addEventListener("change", reset);
    const summary = el("p", { class: "lab-resumen", "aria-live": "polite" });
    const list = el("ol", { class: "lab-barras", "aria-label": "Distribución tras los filtros" });
    const step = el("button", { type: "button", class: "lab-boton", text: "Siguiente token" });
    const many = el("button", { type: "button", class: "lab-boton", text: "Generar 20 tokens" });
    const again = el("button", { type: "button", class: "lab-boton", text: "Volver a empezar" });
    const output = el("p", { class: "lab-generado", "aria-live": "polite" });
    box.append(
      fieldset,
      summary,
      list,
      el("div", { class: "lab-botones" }, [step, many, again]),
      output,
    );

    let prompt = [];
    let generated = [];
    let rng = null;
    let cache = null;
    let pending = [];
    let logits = null;

    function options() {
      const k = Number(controls.top_k.value);
      const p = Number(controls.top_p.value);
      const mp = Number(controls.min_p.value);
      return {
        temperature: greedyBox.checked ? 0 : Number(controls.temperature.value),
        top_k: k === 0 ? null : k,
        top_p: p === 1 ? null : p,
        min_p: mp === 0 ? null : mp,
      };
    }

    /** Logits de la posición siguiente con la caché, como GPT.generate. */
    function advance() {
      const C = model.config.context;
      const all = prompt.concat(generated);
      if (all.length === 0) {
        logits = null;
        return;
      }
      if (!cache || cache.length + pending.length > C) {
        cache = new M.KVCache(model.config);
        pending = all.slice(-C);
      }
      logits = model.gpt.next_logits(pending, cache);
      pending = [];
    }

    function redraw() {
      for (const key of ["temperature", "top_k", "top_p", "min_p"])
        controls[key].disabled = greedyBox.checked;
      if (!logits) {
        summary.textContent = "Escribe un comienzo para que el modelo lo continúe.";
        list.replaceChildren();
        return;
      }
      const opts = options();
      const before = M.softmax(logits);
      let after;
      if (opts.temperature === 0) {
        const best = M.greedy(logits);
        after = before.map((_, i) => (i === best ? 1 : 0));
      } else {
        after = M.softmax(M.filter(logits, opts));
      }
      const kept = after.reduce((n, p) => n + (p > 0 ? 1 : 0), 0);
      const top = topIndices(before, 12);
      list.replaceChildren(
        ...bars(
          model,
          top.map((id) => ({ id, p: after[id], before: before[id], cut: after[id] === 0 })),
          true,
        ),
      );
      summary.textContent =
        opts.temperature === 0
          ? `Voraz: sale siempre «${shown(model, top[0])}»; los otros ${model.config.vocab_size - 1} tokens quedan descartados.`
          : `Quedan ${kept} de ${model.config.vocab_size} tokens; se muestran los 12 más probables antes de filtrar.`;
      widget.dispatchEvent(new CustomEvent("laboratorio:distribucion"));
    }

    function showText() {
      output.replaceChildren(
        el("span", { class: "lab-prompt", text: model.decode(prompt) }),
        el("mark", { class: "lab-nuevo", text: model.decode(generated) }),
      );
    }

    function reset() {
      const value = Math.max(0, Math.floor(Number(seed.value) || 0));
      rng = M.make_rng(value);
      generated = [];
      cache = null;
      pending = [];
      advance();
      redraw();
      showText();
    }

    function generate(n) {
      for (let i = 0; i < n && logits; i++) {
        const id = M.sample(logits, options(), rng);
        generated.push(id);
        pending.push(id);
        advance();
      }
      redraw();
      showText();
    }
    step.addEventListener("click", () => generate(1));
    many.addEventListener("click", () => generate(20));
    again.addEventListener("click", reset);

    return {
      box,
      update(state) {
        prompt = state.ids.slice();
        reset();
      },
    };
  }

  // ------------------------------------------------------------------ panel: sorpresa
  function surprisePanel(model) {
    const box = panelBox(
      "sorpresa",
      "Sorpresa",
      "Cuántos bits de sorpresa le da al modelo cada token de tu texto, −log₂ p(token | " +
        "los anteriores): claro es esperado, oscuro es inesperado. El primer token no tiene " +
        "predicción porque no hay nada antes.",
    );
    const summary = el("p", { class: "lab-resumen", "aria-live": "polite" });
    const list = el("ol", { class: "lab-fichas", "aria-label": "Sorpresa de cada ficha" });
    const legend = el("p", { class: "lab-leyenda", "aria-hidden": "true" }, [
      el("span", { class: "lab-ficha lab-sorpresa", style: "--sorpresa: 0", text: "0 bits" }),
      el("span", { class: "lab-ficha lab-sorpresa", style: "--sorpresa: 0.5", text: "6 bits" }),
      el("span", { class: "lab-ficha lab-sorpresa", style: "--sorpresa: 1", text: "≥ 12 bits" }),
    ]);
    box.append(summary, legend, list);
    return {
      box,
      update(state) {
        const { ids, logits } = state;
        const items = [];
        let total = 0;
        ids.forEach((id, t) => {
          let bits = null;
          if (t > 0) {
            const probs = M.softmax(logits[t - 1]);
            bits = -Math.log2(probs[id]);
            total += bits;
          }
          if (t < 400) {
            const label = bits === null ? "sin predicción" : `${fmt(bits, 1)} bits`;
            items.push(
              el(
                "li",
                {
                  class: "lab-ficha lab-sorpresa",
                  style: `--sorpresa: ${bits === null ? 0 : Math.min(1, bits / 12)}`,
                  title: label,
                },
                [
                  el("span", { class: "lab-ficha-texto", text: shown(model, id) }),
                  el("span", { class: "lab-id", text: bits === null ? "—" : fmt(bits, 1) }),
                ],
              ),
            );
          }
        });
        list.replaceChildren(...items);
        if (ids.length < 2) {
          summary.textContent = "Escribe al menos dos tokens para medir la sorpresa.";
          return;
        }
        const mean = total / (ids.length - 1);
        summary.textContent =
          `Sorpresa media: ${fmt(mean, 2)} bits por token; perplejidad ${fmt(2 ** mean, 1)} ` +
          `(sobre ${ids.length - 1} tokens predichos).`;
      },
    };
  }

  // ------------------------------------------------------------------ montaje
  const BUILDERS = {
    tokens: tokensPanel,
    atencion: attentionPanel,
    siguiente: nextPanel,
    muestreo: samplingPanel,
    sorpresa: surprisePanel,
  };

  function mount(widget, model, started) {
    M = globalThis.libroiaModelo;
    const names = (widget.dataset.paneles || "").split(/\s+/).filter((n) => n in BUILDERS);
    counter += 1;
    const inputId = `lab-texto-${counter}`;
    const onlySampling = names.length === 1 && names[0] === "muestreo";
    const textarea = el("textarea", { id: inputId, rows: "3", spellcheck: "false" });
    textarea.value = widget.dataset.texto || "";
    const label = el("label", {
      for: inputId,
      text: onlySampling ? "Comienzo del texto (el modelo lo continúa)" : "Tu texto",
    });
    const panels = names.map((name) => BUILDERS[name](model, widget));
    const status = widget.querySelector(".laboratorio-estado");
    widget.querySelector(".laboratorio-cargar")?.remove();
    const kB = Math.round(model.meta.weights.byte_length / 1000);
    status.textContent =
      `Modelo cargado: ${fmt(model.meta.n_params, 0)} parámetros, ${kB} kB. ` +
      "Escribe en el cuadro y los paneles se actualizan.";
    widget.append(
      el("div", { class: "lab-entrada" }, [label, textarea]),
      ...panels.map((p) => p.box),
    );

    const needsLogits = names.includes("sorpresa");
    const needsNext = names.includes("siguiente");
    function update() {
      const text = textarea.value;
      const ids = model.encode(text);
      const state = { text, ids };
      if (ids.length && ids.length <= model.config.context) {
        // Una sola pasada da los logits de cada posición y los pesos de atención.
        [state.logits, state.attention] = model.gpt._run(ids);
      } else if (needsLogits && ids.length) {
        state.logits = model.logits(ids);
      }
      if (needsNext && ids.length) {
        // Como GPT.generate: el modelo ve los últimos `context` tokens.
        const C = model.config.context;
        state.next = ids.length <= C ? state.logits.at(-1) : model.gpt.next_logits(ids.slice(-C));
        state.tail = model.decode(ids.slice(-3)).replace(/\s+/g, " ").trim();
      }
      for (const panel of panels) panel.update(state);
    }
    textarea.addEventListener("input", debounce(update, 120));
    update();
    widget.dataset.estado = "listo";
    widget.dataset.msPrimeraDistribucion = String(Math.round(performance.now() - started));
    performance.mark("laboratorio:listo");
    const redrawAll = () => panels.forEach((p) => p.redraw && p.redraw());
    new MutationObserver(redrawAll).observe(document.documentElement, {
      attributes: true,
      attributeFilter: ["data-theme"],
    });
    let width = widget.clientWidth;
    window.addEventListener(
      "resize",
      debounce(() => {
        if (widget.clientWidth !== width) {
          width = widget.clientWidth;
          redrawAll();
        }
      }, 200),
    );
  }

  globalThis.libroiaLaboratorio = { mount };
})();
