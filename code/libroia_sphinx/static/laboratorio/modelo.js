// modelo.js — el GPT del libro, en el navegador.
//
// Este módulo repite en JavaScript, función por función, lo que hace el paquete
// `libroia` en Python: el tokenizador BPE (libroia/tokenizer.py), la pasada hacia
// delante del GPT con su caché de claves y valores (libroia/gpt.py y
// libroia/attention.py) y los filtros de muestreo (libroia/sampling.py). Las
// funciones llevan los mismos nombres que en Python, aunque en JavaScript se
// suela escribir camelCase, para que se puedan leer una al lado de la otra.
//
// Formas, como en el libro: T posiciones, d ancho, h cabezas, d_h = d / h,
// V vocabulario, L capas. Un tensor (T, d) es aquí un Float32Array de T·d
// números fila a fila: el elemento [t, i] está en x[t * d + i].
//
// Uso:
//   import { load } from "./modelo.js";
//   const m = await load("modelo.json");   // o el objeto de modelo-datos.js
//   const ids = m.encode("La casa");       // ids de los tokens
//   const logits = m.logits(ids);          // T vectores Float32Array(V)
//   const id = m.sample(logits.at(-1), { temperature: 0.8, top_p: 0.9 }, make_rng(1));
//
// Sin dependencias: nada de npm, nada de bibliotecas de aprendizaje automático.

// ---------------------------------------------------------------------------
// Tokenizador BPE a nivel de bytes (libroia/tokenizer.py, capítulo 2)
// ---------------------------------------------------------------------------

// [merge_pair]
/** Sustituye cada aparición de `pair` en `ids`, de izquierda a derecha, por `new_id`. */
export function merge_pair(ids, pair, new_id) {
  const out = [];
  const [a, b] = pair;
  let i = 0;
  while (i < ids.length) {
    if (i < ids.length - 1 && ids[i] === a && ids[i + 1] === b) {
      out.push(new_id);
      i += 2;
    } else {
      out.push(ids[i]);
      i += 1;
    }
  }
  return out;
}

/** Aplica las fusiones a un trozo, la más antigua (id nuevo más bajo) primero. */
function _apply_merges(ids, ranks) {
  while (ids.length >= 2) {
    // El par presente con la fusión más antigua; en un empate, el primero.
    let best = null;
    let best_rank = Infinity;
    for (let i = 0; i + 1 < ids.length; i++) {
      const rank = ranks.get(ids[i] * 65536 + ids[i + 1]);
      if (rank !== undefined && rank < best_rank) {
        best_rank = rank;
        best = [ids[i], ids[i + 1]];
      }
    }
    if (best === null) break;
    ids = merge_pair(ids, best, best_rank);
  }
  return ids;
}
// [/merge_pair]

/** Bytes UTF-8 de un texto; un sustituto suelto se codifica como en Python con
 * «surrogatepass» (tres bytes), para que decode(encode(s)) === s siempre. */
function _to_bytes(text) {
  const out = [];
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if (c >= 0xd800 && c < 0xdc00 && next >= 0xdc00 && next < 0xe000) {
      c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00); // par sustituto: un carácter
      i += 1;
    }
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else {
      out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
  }
  return out;
}

/** UTF-8 estricto que admite sustitutos sueltos (Python: errors="surrogatepass");
 * devuelve null si los bytes no son UTF-8 válido. */
function _utf8_surrogatepass(bytes) {
  let s = "";
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    let n, c, min;
    if (b < 0x80) [n, c, min] = [0, b, 0];
    else if (b >= 0xc2 && b < 0xe0) [n, c, min] = [1, b & 31, 0x80];
    else if (b >= 0xe0 && b < 0xf0) [n, c, min] = [2, b & 15, 0x800];
    else if (b >= 0xf0 && b < 0xf5) [n, c, min] = [3, b & 7, 0x10000];
    else return null;
    for (let j = 1; j <= n; j++) {
      const cont = bytes[i + j];
      if (cont === undefined || (cont & 0xc0) !== 0x80) return null;
      c = (c << 6) | (cont & 63);
    }
    if (c < min || c > 0x10ffff) return null;
    s += String.fromCodePoint(c);
    i += n + 1;
  }
  return s;
}

/** El patrón de Python (módulo `regex`) en JavaScript. Solo cambia el espacio:
 * `\s` de Python es la propiedad Unicode White_Space (incluye U+0085 y no U+FEFF),
 * que en JavaScript se escribe \p{White_Space}. */
function _js_pattern(pattern) {
  const js = pattern.replaceAll("\\s", "\\p{White_Space}").replaceAll("\\S", "\\P{White_Space}");
  return new RegExp(js, "gu");
}

export class BPETokenizer {
  /** `merges`: lista de [a, b, nuevo_id] en el orden en que se aprendieron. */
  constructor(merges, pattern) {
    this.pattern = pattern;
    this._split = _js_pattern(pattern);
    this._vocab = []; // bytes de cada token
    for (let i = 0; i < 256; i++) this._vocab.push([i]);
    this._ranks = new Map(); // par (a, b) -> nuevo_id
    merges.forEach(([a, b, new_id], k) => {
      if (new_id !== 256 + k || a >= new_id || b >= new_id) {
        const got = [a, b, new_id].join(", ");
        throw new Error(`\`merges\`: la fusión ${k} debe crear el id ${256 + k}, pero es ${got}`);
      }
      this._ranks.set(a * 65536 + b, new_id);
      this._vocab.push(this._vocab[a].concat(this._vocab[b]));
    });
    this._cache = new Map();
  }

  get vocab_size() {
    return this._vocab.length;
  }

  // [encode]
  /** Texto -> ids (T,): corta en trozos con la expresión regular y aplica las
   * fusiones a los bytes de cada trozo; las fusiones nunca cruzan de un trozo a otro. */
  encode(text) {
    if (typeof text !== "string") {
      throw new TypeError(`\`text\` debe ser un texto, pero es de tipo ${typeof text}`);
    }
    const out = [];
    for (const [chunk] of text.matchAll(this._split)) {
      let ids = this._cache.get(chunk);
      if (ids === undefined) {
        ids = _apply_merges(_to_bytes(chunk), this._ranks);
        if (this._cache.size < 200000) this._cache.set(chunk, ids);
      }
      for (const id of ids) out.push(id);
    }
    return out;
  }
  // [/encode]

  _check_ids(ids) {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocab_size) {
        const V = this.vocab_size;
        throw new RangeError(`\`ids\` debe contener enteros en [0, ${V}), pero contiene ${id}`);
      }
    }
  }

  /** Los bytes de `ids`, concatenados. */
  decode_bytes(ids) {
    this._check_ids(ids);
    const out = [];
    for (const id of ids) for (const byte of this._vocab[id]) out.push(byte);
    return Uint8Array.from(out);
  }

  /** ids -> texto; los trozos que no son UTF-8 válido salen como «�». */
  decode(ids) {
    const bytes = this.decode_bytes(ids);
    const strict = _utf8_surrogatepass(bytes);
    return strict !== null ? strict : new TextDecoder("utf-8").decode(bytes);
  }

  /** Los bytes de un solo token. */
  token_bytes(token_id) {
    this._check_ids([token_id]);
    return Uint8Array.from(this._vocab[token_id]);
  }

  /** Un token como texto legible; los bytes sueltos se muestran como \xNN. */
  token_str(token_id) {
    const bytes = this.token_bytes(token_id);
    const strict = _utf8_surrogatepass(bytes);
    if (strict !== null) return strict;
    let s = ""; // como errors="backslashreplace": cada byte inválido, \xNN
    let i = 0;
    while (i < bytes.length) {
      let done = false;
      for (let n = Math.min(4, bytes.length - i); n >= 1 && !done; n--) {
        const piece = _utf8_surrogatepass(bytes.subarray(i, i + n));
        if (piece !== null) {
          s += piece;
          i += n;
          done = true;
        }
      }
      if (!done) {
        s += "\\x" + bytes[i].toString(16).padStart(2, "0");
        i += 1;
      }
    }
    return s;
  }
}

// ---------------------------------------------------------------------------
// Muestreo (libroia/sampling.py, capítulo 9)
// ---------------------------------------------------------------------------
// Cada filtro recibe los logits z de forma (V,) y devuelve una copia
// Float64Array con -Infinity en los tokens descartados. Se calcula en doble
// precisión, como libroia con logits float64, con los mismos empates y bordes.

/** Valida los logits como `_prepare` de Python y devuelve [copia, máximo]. */
function _prepare(logits, name = "logits") {
  if (logits === null || typeof logits !== "object" || typeof logits.length !== "number") {
    throw new TypeError(`\`${name}\` debe ser un vector de números (V,), pero es ${logits}`);
  }
  const V = logits.length;
  if (V < 1) {
    throw new RangeError(`\`${name}\` debe tener forma (V,) con V ≥ 1, pero está vacío`);
  }
  const x = Float64Array.from(logits);
  let m = -Infinity;
  for (let i = 0; i < V; i++) {
    if (Number.isNaN(x[i])) throw new RangeError(`\`${name}\` contiene valores nan`);
    if (x[i] === Infinity) {
      throw new RangeError(`\`${name}\` contiene +inf; usa -inf para descartar un token`);
    }
    if (x[i] > m) m = x[i];
  }
  if (m === -Infinity) {
    throw new RangeError(`\`${name}\` necesita al menos un valor finito, pero es todo -inf`);
  }
  return [x, m];
}

/** Una probabilidad en (0, 1], como `top_p` o `min_p` (check_probability de Python). */
function _check_probability(name, p) {
  if (typeof p !== "number" || Number.isNaN(p)) {
    throw new TypeError(`\`${name}\` debe ser un número real, pero vale ${p}`);
  }
  if (!(p > 0 && p <= 1)) {
    throw new RangeError(`\`${name}\` debe estar en (0, 1], pero vale ${p}`);
  }
  return p;
}

function _check_temperature(temperature, allow_zero) {
  if (typeof temperature !== "number" || !Number.isFinite(temperature)) {
    throw new TypeError(`\`temperature\` debe ser un número real, pero vale ${temperature}`);
  }
  if (temperature < 0) {
    throw new RangeError(`\`temperature\` debe ser ≥ 0, pero vale ${temperature}`);
  }
  if (temperature === 0 && !allow_zero) {
    throw new RangeError(
      "`temperature` debe ser > 0 para dividir los logits, pero vale 0; para decodificación " +
        "voraz usa greedy(logits) o sample(logits, { temperature: 0 })",
    );
  }
  return temperature;
}

function _check_k(k, name = "k") {
  if (!Number.isInteger(k) || k < 1) {
    throw new RangeError(`\`${name}\` debe ser un entero ≥ 1, pero vale ${k}`);
  }
  return k;
}

/** Valida las opciones de `filter` y `sample` de una vez, como `_check_options` de Python. */
function _check_options({ temperature = 1, top_k = null, top_p = null, min_p = null } = {}) {
  const given = (v) => v !== null && v !== undefined;
  return {
    temperature: _check_temperature(temperature, true),
    top_k: given(top_k) ? _check_k(top_k, "top_k") : null,
    top_p: given(top_p) ? _check_probability("top_p", top_p) : null,
    min_p: given(min_p) ? _check_probability("min_p", min_p) : null,
  };
}

/** Los valores de mayor a menor (copia). */
function _sorted_descending(x) {
  return Float64Array.from(x).sort().reverse();
}

/** Suma por parejas, la de NumPy (`np.sum`), para redondear igual que Python. */
function _pairwise_sum(a, start, n) {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[start + i];
    return res;
  }
  if (n <= 128) {
    const r = Array.from(a.subarray(start, start + 8));
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += a[start + i + j];
    let res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += a[start + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return _pairwise_sum(a, start, n2) + _pairwise_sum(a, start + n2, n - n2);
}

function _masked(x, keep) {
  return x.map((z, i) => (keep(z, i) ? z : -Infinity));
}

/** Divide los logits entre la temperatura T > 0: T < 1 afila, T > 1 aplana. */
export function apply_temperature(logits, temperature) {
  _check_temperature(temperature, false);
  const [x, m] = _prepare(logits);
  if (Math.abs(m) > Number.MAX_VALUE * temperature) {
    return x.map((z) => (z - m) / temperature); // z / T desbordaría: misma distribución
  }
  return x.map((z) => z / temperature);
}

// [top_k_filter]
/** Conserva los k tokens de logit más alto; los empates con el k-ésimo se quedan. */
export function top_k_filter(logits, k) {
  _check_k(k);
  const [x] = _prepare(logits);
  const threshold = _sorted_descending(x)[Math.min(k, x.length) - 1];
  return _masked(x, (z) => z >= threshold);
}
// [/top_k_filter]

// [top_p_filter]
/** Núcleo (top-p): se conserva i si la masa de los tokens más probables que i es < p. */
export function top_p_filter(logits, p) {
  _check_probability("p", p);
  const [x, m] = _prepare(logits);
  const e = x.map((z) => Math.exp(z - m)); // (V,), probabilidades sin normalizar
  const target = p * _pairwise_sum(e, 0, e.length);
  const top = _sorted_descending(x); // (V,), de mayor a menor
  let mass = 0;
  let short = 0; // tokens que aún no reúnen la masa p
  let positive = 0; // tokens con probabilidad > 0
  for (const z of top) {
    const e_z = Math.exp(z - m);
    mass += e_z;
    if (mass < target) short += 1;
    if (e_z > 0) positive += 1;
  }
  // El siguiente a los `short` es el último que se queda (nunca uno de probabilidad 0).
  const threshold = top[Math.min(short, positive - 1)];
  return _masked(x, (z) => z >= threshold);
}
// [/top_p_filter]

/** Min-p: conserva i si p_i ≥ p · max_j p_j, es decir, si e^(z_i - max z) ≥ p. */
export function min_p_filter(logits, p) {
  _check_probability("p", p);
  const [x, m] = _prepare(logits);
  return _masked(x, (z) => Math.exp(z - m) >= p);
}

/** Decodificación voraz: el índice del logit máximo (en un empate, el primero). */
export function greedy(logits) {
  const [x, m] = _prepare(logits);
  return x.indexOf(m);
}

/** Temperatura → top-k → top-p → min-p, como `sample` de Python antes del sorteo.
 * `options`: { temperature, top_k, top_p, min_p }; las que falten no cortan nada. */
export function filter(logits, options = {}) {
  const { temperature, top_k, top_p, min_p } = _check_options(options);
  let z = apply_temperature(logits, temperature);
  if (top_k !== null) z = top_k_filter(z, top_k);
  if (top_p !== null) z = top_p_filter(z, top_p);
  if (min_p !== null) z = min_p_filter(z, min_p);
  return z;
}

/** Probabilidades softmax(z) (V,); los -inf reciben 0. */
export function softmax(logits) {
  const [x, m] = _prepare(logits);
  const e = x.map((z) => Math.exp(z - m));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

/** Generador de números uniformes en [0, 1) con semilla (sfc32, 53 bits por número).
 * La misma semilla da siempre la misma sucesión. */
export function make_rng(seed = 0) {
  if (!Number.isInteger(seed) || seed < 0) {
    throw new RangeError(`\`seed\` debe ser un entero ≥ 0, pero vale ${seed}`);
  }
  let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = seed >>> 0;
  a ^= Math.floor(seed / 4294967296);
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 15; i++) next(); // calentamiento: olvida la semilla
  return () => ((next() >>> 5) * 67108864 + (next() >>> 6)) / 9007199254740992;
}

// [sample]
/** Sortea un token: filtros y luego el truco de Gumbel-max, argmax(z_i + g_i) con
 * g_i = -log(-log u_i), que sigue exactamente softmax(z). temperature = 0 es voraz. */
export function sample(logits, options = {}, rng = make_rng(Math.floor(Math.random() * 2 ** 32))) {
  if (_check_options(options).temperature === 0) return greedy(logits);
  const z = filter(logits, options);
  let best = -1;
  let best_score = -Infinity;
  for (let i = 0; i < z.length; i++) {
    const score = z[i] - Math.log(-Math.log(rng()));
    if (score > best_score) [best, best_score] = [i, score];
  }
  return best === -1 ? greedy(z) : best;
}
// [/sample]

// ---------------------------------------------------------------------------
// El modelo (libroia/gpt.py, libroia/attention.py, capítulos 4 y 5)
// ---------------------------------------------------------------------------

/** Capa lineal: y = x Wᵀ + b, con x (T, n_in), W (n_out, n_in) -> y (T, n_out).
 * Es lo que más tiempo lleva del modelo: calcula cuatro salidas a la vez para leer
 * cada x[t, i] una sola vez, y así va unas tres veces más deprisa. */
function linear(x, W, b, n_in, n_out) {
  const T = x.length / n_in;
  const y = new Float32Array(T * n_out);
  const bias = (o) => (b ? b[o] : 0);
  for (let t = 0; t < T; t++) {
    const row = t * n_in;
    let o = 0;
    for (; o + 4 <= n_out; o += 4) {
      const w = o * n_in; // las filas o, o + 1, o + 2 y o + 3 de W empiezan en w + k·n_in
      let s0 = bias(o);
      let s1 = bias(o + 1);
      let s2 = bias(o + 2);
      let s3 = bias(o + 3);
      for (let i = 0; i < n_in; i++) {
        const xi = x[row + i];
        s0 += xi * W[w + i];
        s1 += xi * W[w + n_in + i];
        s2 += xi * W[w + 2 * n_in + i];
        s3 += xi * W[w + 3 * n_in + i];
      }
      const out = t * n_out + o;
      y[out] = s0;
      y[out + 1] = s1;
      y[out + 2] = s2;
      y[out + 3] = s3;
    }
    for (; o < n_out; o++) {
      let s = bias(o); // las salidas que sobran si n_out no es múltiplo de 4
      for (let i = 0; i < n_in; i++) s += x[row + i] * W[o * n_in + i];
      y[t * n_out + o] = s;
    }
  }
  return y;
}

/** LayerNorm (o RMSNorm) de cada fila de x (T, d): media 0 y varianza 1, por peso más sesgo. */
function norm(x, weight, bias, d, kind) {
  const y = new Float32Array(x.length);
  for (let row = 0; row < x.length; row += d) {
    let mean = 0;
    if (kind === "layernorm") {
      for (let i = 0; i < d; i++) mean += x[row + i];
      mean /= d;
    }
    let v = 0;
    for (let i = 0; i < d; i++) v += (x[row + i] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / d + 1e-5);
    for (let i = 0; i < d; i++) {
      y[row + i] = (x[row + i] - mean) * inv * weight[i] + (bias ? bias[i] : 0);
    }
  }
  return y;
}

/** erf con error < 1.2e-7 (Numerical Recipes, erfcc): GELU exacta la necesita. */
function erf(x) {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
    t * (-0.82215223 + t * 0.17087277))))))));
  const erfc = t * Math.exp(poly);
  return x >= 0 ? 1 - erfc : erfc - 1;
}

/** Activaciones de la MLP (libroia/activations.py). */
const ACTIVATIONS = {
  relu: (x) => Math.max(0, x),
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)), // x · Φ(x)
  silu: (x) => x / (1 + Math.exp(-x)), // x · sigmoide(x)
};

/** Ángulos de RoPE: cos y sin (T, d_h/2) de θ[p, i] = p · 10000^(−2i/d_h). */
function rotary_angles(context, d_h) {
  const cos = new Float32Array(context * (d_h / 2));
  const sin = new Float32Array(context * (d_h / 2));
  for (let p = 0; p < context; p++) {
    for (let i = 0; i < d_h / 2; i++) {
      const angle = p * 10000 ** (-(2 * i) / d_h);
      cos[p * (d_h / 2) + i] = Math.cos(angle);
      sin[p * (d_h / 2) + i] = Math.sin(angle);
    }
  }
  return [cos, sin];
}

/** Gira cada par (x_2i, x_2i+1) de un vector de ancho d_h que está en la posición p. */
function rotate_pairs(x, start, d_h, cos, sin, p) {
  for (let i = 0; i < d_h / 2; i++) {
    const c = cos[p * (d_h / 2) + i];
    const s = sin[p * (d_h / 2) + i];
    const even = x[start + 2 * i];
    const odd = x[start + 2 * i + 1];
    x[start + 2 * i] = even * c - odd * s;
    x[start + 2 * i + 1] = even * s + odd * c;
  }
}

/** Tabla senoidal (T, d): PE[p, 2i] = sin(p ω_i), PE[p, 2i + 1] = cos(p ω_i). */
function sinusoidal_positions(context, d) {
  const pe = new Float32Array(context * d);
  for (let p = 0; p < context; p++) {
    for (let i = 0; i < d / 2; i++) {
      const angle = p * 10000 ** (-(2 * i) / d);
      pe[p * d + 2 * i] = Math.sin(angle);
      pe[p * d + 2 * i + 1] = Math.cos(angle);
    }
  }
  return pe;
}

/** Claves y valores ya calculados: por capa y cabeza, (T_pasado, d_h). */
export class KVCache {
  constructor(config) {
    const { n_layers, n_heads, context, d_model } = config;
    const size = context * (d_model / n_heads);
    const make = () => Array.from({ length: n_heads }, () => new Float32Array(size));
    this.keys = Array.from({ length: n_layers }, make);
    this.values = Array.from({ length: n_layers }, make);
    this.length = 0; // posiciones guardadas
  }
}

// [multi_head_attention]
/** Atención causal de h cabezas (MultiHeadAttention.forward de libroia/attention.py):
 * x (T, d) -> (T, d) y los pesos (h, T, T_k). Con caché, las T filas nuevas ven
 * también las T_pasado guardadas: T_k = T_pasado + T. */
function multi_head_attention(x, p, config, cache, layer, offset, rope) {
  const { d_model: d, n_heads: h } = config;
  const d_h = d / h;
  const T = x.length / d;
  const q = linear(x, p.q_w, p.q_b, d, d); // (T, d) = h cabezas de (T, d_h)
  const k = linear(x, p.k_w, p.k_b, d, d);
  const v = linear(x, p.v_w, p.v_b, d, d);
  const T_k = offset + T;
  const out = new Float32Array(T * d);
  const weights = [];
  const scores = new Float64Array(T_k);
  for (let j = 0; j < h; j++) {
    const keys = cache.keys[layer][j]; // (context, d_h)
    const values = cache.values[layer][j];
    for (let t = 0; t < T; t++) {
      if (rope) {
        rotate_pairs(q, t * d + j * d_h, d_h, rope[0], rope[1], offset + t);
        rotate_pairs(k, t * d + j * d_h, d_h, rope[0], rope[1], offset + t);
      }
      keys.set(k.subarray(t * d + j * d_h, t * d + (j + 1) * d_h), (offset + t) * d_h);
      values.set(v.subarray(t * d + j * d_h, t * d + (j + 1) * d_h), (offset + t) * d_h);
    }
    const w = new Float32Array(T * T_k); // (T, T_k): la fila t suma 1
    for (let t = 0; t < T; t++) {
      const seen = offset + t + 1; // máscara causal: la posición offset + t ve 0 … offset + t
      let m = -Infinity;
      for (let s = 0; s < seen; s++) {
        let dot = 0;
        for (let i = 0; i < d_h; i++) dot += q[t * d + j * d_h + i] * keys[s * d_h + i];
        scores[s] = dot / Math.sqrt(d_h);
        if (scores[s] > m) m = scores[s];
      }
      let total = 0;
      for (let s = 0; s < seen; s++) total += (scores[s] = Math.exp(scores[s] - m));
      for (let s = 0; s < seen; s++) {
        const a = scores[s] / total; // softmax(q·k / √d_h)
        w[t * T_k + s] = a;
        for (let i = 0; i < d_h; i++) out[t * d + j * d_h + i] += a * values[s * d_h + i];
      }
    }
    weights.push(w);
  }
  return [linear(out, p.out_w, p.out_b, d, d), weights]; // (T, d), h × (T, T_k)
}
// [/multi_head_attention]

// [mlp]
/** MLP de cada posición (MLP.forward de libroia/activations.py): (T, d) -> (T, d).
 * Con SwiGLU, SiLU(compuerta) · subida; con las demás, activación(subida). */
function mlp(x, p, config, hidden) {
  const d = config.d_model;
  const up = linear(x, p.up_w, p.up_b, d, hidden); // (T, hidden)
  if (config.activation === "swiglu") {
    const gate = linear(x, p.gate_w, p.gate_b, d, hidden);
    for (let i = 0; i < up.length; i++) up[i] *= ACTIVATIONS.silu(gate[i]);
  } else {
    const act = ACTIVATIONS[config.activation];
    for (let i = 0; i < up.length; i++) up[i] = act(up[i]);
  }
  return linear(up, p.down_w, p.down_b, hidden, d); // (T, d)
}
// [/mlp]

export class GPT {
  /** `config`: los campos de GPTConfig; `params`: tensores Float32Array por nombre. */
  constructor(config, params) {
    this.config = config;
    const { n_layers, d_model, n_heads, context } = config;
    this.hidden = config.mlp_hidden ?? config.mlp_ratio * d_model;
    const get = (name) => params[name];
    this.tok = get("tok.weight"); // (V, d)
    this.pos = get("pos.weight"); // (context, d), posiciones aprendidas
    this.blocks = [];
    for (let l = 0; l < n_layers; l++) {
      const b = (name) => get(`blocks.${l}.${name}`);
      this.blocks.push({
        norm1_w: b("norm1.weight"), norm1_b: b("norm1.bias"),
        norm2_w: b("norm2.weight"), norm2_b: b("norm2.bias"),
        q_w: b("attn.q_proj.weight"), q_b: b("attn.q_proj.bias"),
        k_w: b("attn.k_proj.weight"), k_b: b("attn.k_proj.bias"),
        v_w: b("attn.v_proj.weight"), v_b: b("attn.v_proj.bias"),
        out_w: b("attn.out_proj.weight"), out_b: b("attn.out_proj.bias"),
        up_w: b("mlp.up.weight"), up_b: b("mlp.up.bias"),
        gate_w: b("mlp.gate.weight"), gate_b: b("mlp.gate.bias"),
        down_w: b("mlp.down.weight"), down_b: b("mlp.down.bias"),
      });
    }
    this.norm_w = get("norm.weight");
    this.norm_b = get("norm.bias");
    this.head = config.tie_embeddings ? this.tok : get("head.weight"); // (V, d)
    if (config.positions === "rope") this.rope = rotary_angles(context, d_model / n_heads);
    if (config.positions === "sinusoidal") this.pos_table = sinusoidal_positions(context, d_model);
  }

  // [_run]
  /** ids (T,) -> logits (T, V) y pesos de atención (L × h × (T, T_k)). Con `cache`,
   * `ids` son los tokens que siguen a los ya guardados. Con `last_only`, solo la fila
   * de la última posición, (1, V): es la que se usa al generar. */
  _run(ids, cache = new KVCache(this.config), last_only = false) {
    const { d_model: d, vocab_size: V, context, positions } = this.config;
    const offset = cache.length;
    const T = ids.length;
    _check_ids(ids, V);
    if (T < 1 || offset + T > context) {
      throw new RangeError(
        `\`ids\` tiene ${T} posiciones (más ${offset} en la caché), pero el contexto del ` +
          `modelo es de ${context}`,
      );
    }
    let x = new Float32Array(T * d); // (T, d): incrustación de cada token
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < d; i++) {
        let e = this.tok[ids[t] * d + i];
        if (positions === "learned") e += this.pos[(offset + t) * d + i];
        if (positions === "sinusoidal") {
          e = e * Math.sqrt(d) + this.pos_table[(offset + t) * d + i];
        }
        x[t * d + i] = e;
      }
    }
    const all_weights = [];
    this.blocks.forEach((p, layer) => {
      // Bloque pre-norm: x + Atención(Norm(x)) y luego x + MLP(Norm(x)).
      const kind = this.config.norm;
      const [a, weights] = multi_head_attention(norm(x, p.norm1_w, p.norm1_b, d, kind), p,
        this.config, cache, layer, offset, this.rope); // (T, d), h × (T, T_k)
      x = x.map((xi, i) => xi + a[i]); // (T, d)
      const f = mlp(norm(x, p.norm2_w, p.norm2_b, d, kind), p, this.config, this.hidden);
      x = x.map((xi, i) => xi + f[i]); // (T, d)
      all_weights.push(weights);
    });
    cache.length = offset + T;
    const out = last_only ? x.subarray((T - 1) * d) : x; // (T, d) o (1, d)
    const logits = linear(norm(out, this.norm_w, this.norm_b, d, this.config.norm), this.head,
      null, d, V); // (T, V) o (1, V)
    const rows = Array.from({ length: logits.length / V }, (_, t) =>
      logits.subarray(t * V, (t + 1) * V));
    return [rows, all_weights];
  }
  // [/_run]

  /** Logits (T, V): una fila Float32Array(V) por posición. Con `cache`, solo los tokens
   * nuevos. */
  forward(ids, cache) {
    return this._run(ids, cache)[0];
  }

  /** Los logits (V,) del token que sigue a `ids`, `forward(ids, cache).at(-1)` sin
   * calcular la cabeza de las demás posiciones. */
  next_logits(ids, cache) {
    return this._run(ids, cache, true)[0][0];
  }

  /** Pesos de atención: L capas × h cabezas × Float32Array (T, T); pesos[l][j][t * T + s]. */
  attention_weights(ids) {
    return this._run(ids)[1];
  }

  /** Alarga `ids` con `max_new_tokens` tokens elegidos por `next_token(logits)` (por defecto,
   * voraz). Usa la caché; si la secuencia supera el contexto, el modelo ve los últimos
   * `context` tokens y la caché se rehace para esa ventana, como GPT.generate. */
  generate(ids, max_new_tokens, next_token = greedy) {
    const context = this.config.context;
    const out = ids.slice();
    let cache = new KVCache(this.config);
    let pending = out.slice(-context);
    for (let n = 0; n < max_new_tokens; n++) {
      if (cache.length + pending.length > context) {
        cache = new KVCache(this.config);
        pending = out.slice(-context);
      }
      const logits = this.next_logits(pending, cache); // (V,)
      const id = next_token(logits);
      out.push(id);
      pending = [id];
    }
    return out;
  }
}

function _check_ids(ids, V) {
  if (!Array.isArray(ids) && !ArrayBuffer.isView(ids)) {
    throw new TypeError(`\`ids\` debe ser una lista de enteros, pero es ${typeof ids}`);
  }
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= V) {
      throw new RangeError(`los valores de \`ids\` deben estar en [0, ${V}), pero hay ${id}`);
    }
  }
}

/** Logits de un texto de cualquier longitud: hasta `context` tokens, una sola pasada.
 * Si es más largo, ventanas de `context` tokens que avanzan `context / 2`: cada
 * posición t ≥ context se predice en la ventana donde tiene más contexto detrás
 * (entre context/2 y context − 1 tokens), como la perplejidad «con paso» de
 * Hugging Face. */
export function strided_logits(model, ids) {
  const C = model.config.context;
  if (ids.length <= C) return model.forward(ids);
  const S = Math.max(1, Math.floor(C / 2));
  const rows = [];
  for (let start = 0; rows.length < ids.length; start += S) {
    const window = model.forward(ids.slice(start, start + C)); // (≤ C, V)
    const first = start === 0 ? 0 : C - S; // las posiciones nuevas de esta ventana
    for (let t = first; t < window.length; t++) rows.push(window[t]);
  }
  return rows;
}

// ---------------------------------------------------------------------------
// Carga: modelo.json + modelo.bin, o el objeto que define modelo-datos.js
// ---------------------------------------------------------------------------

/** float16 (IEEE 754 binario16) -> número. */
function _half_to_float(h) {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 31;
  const fraction = h & 1023;
  if (exponent === 0) return sign * fraction * 2 ** -24; // subnormal
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** Tensores Float32Array por nombre a partir de los bytes (little-endian) y su índice.
 * INT8: w = q · s con una escala por fila (libroia.quantization.dequantize). */
function _read_tensors(meta, buffer) {
  const params = {};
  for (const t of meta.tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    let w;
    if (t.dtype === "float32") {
      w = new Float32Array(buffer.slice(t.offset, t.offset + 4 * n));
    } else if (t.dtype === "float16") {
      const half = new Uint16Array(buffer.slice(t.offset, t.offset + 2 * n));
      w = Float32Array.from(half, _half_to_float);
    } else if (t.dtype === "int8") {
      const q = new Int8Array(buffer.slice(t.offset, t.offset + n));
      const rows = t.shape[0];
      const scale = new Float32Array(buffer.slice(t.scale_offset, t.scale_offset + 4 * rows));
      const per_row = n / rows;
      w = new Float32Array(n);
      for (let i = 0; i < n; i++) w[i] = q[i] * scale[Math.floor(i / per_row)];
    } else {
      throw new Error(`formato de pesos desconocido: ${t.dtype}`);
    }
    params[t.name] = w;
  }
  return params;
}

function _base64_to_buffer(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

/** Carga el modelo. `source`: la URL de modelo.json (lee también modelo.bin) o el
 * objeto que define modelo-datos.js (los pesos van dentro, en base64: así funciona
 * también con la página abierta desde el disco, donde `fetch` está bloqueado). */
export async function load(source) {
  let meta, buffer;
  if (typeof source === "string" || source instanceof URL) {
    const url = new URL(source, globalThis.location?.href);
    meta = await (await fetch(url)).json();
    buffer = await (await fetch(new URL(meta.weights.file, url))).arrayBuffer();
  } else {
    meta = source;
    buffer = _base64_to_buffer(meta.weights.base64);
  }
  if (meta.format !== "libroia-gpt") {
    throw new Error(`se esperaba un modelo con formato "libroia-gpt", pero es ${meta.format}`);
  }
  return new Modelo(meta, _read_tensors(meta.weights, buffer));
}

/** Lo que devuelve `load`: el tokenizador, el GPT y los filtros, en un solo objeto. */
export class Modelo {
  constructor(meta, params) {
    this.meta = meta;
    this.config = meta.config;
    this.tokenizer = new BPETokenizer(meta.tokenizer.merges, meta.tokenizer.pattern);
    this.gpt = new GPT(meta.config, params);
  }

  encode(text) {
    return this.tokenizer.encode(text);
  }

  decode(ids) {
    return this.tokenizer.decode(ids);
  }

  /** Una fila Float32Array(V) por posición (ver `strided_logits` si T > context). */
  logits(ids) {
    return strided_logits(this.gpt, ids);
  }

  /** Pesos de atención por capa y cabeza, (T, T) cada uno; T ≤ context. */
  attention(ids) {
    return this.gpt.attention_weights(ids);
  }

  filter(logits, options) {
    return filter(logits, options);
  }

  sample(logits, options, rng) {
    return sample(logits, options, rng);
  }

  generate(ids, max_new_tokens, options = { temperature: 0 }, rng = make_rng()) {
    return this.gpt.generate(ids, max_new_tokens, (z) => sample(z, options, rng));
  }
}
