/* Figuras de plotly del libro: se dibujan cuando se acercan a la pantalla.
 *
 * Cada figura llega como <figure class="libroia-plotly"> con un <div
 * class="plotly-graph-div"> vacío. Sus datos no están en la página: el <div> lleva
 * en data-datos la URL de un script (_static/figuras/datos/<clave>.js, escrito al
 * construir por libroia_sphinx.movil) que los deja en window.libroiaFiguras[clave].
 * (Sin construir el sitio, p. ej. en las pruebas de plotly_mime, los datos van en
 * un <script type="application/json"> junto al <div>.) Este fichero (diferido)
 * observa las figuras; cuando una se acerca a la pantalla, añade plotly.js y los
 * datos de la figura con etiquetas <script src> (funciona también desde file://,
 * donde fetch no puede leer ficheros) y la dibuja.
 *
 * Al dibujar, la figura se adapta:
 *  - al tema del sitio (html[data-theme]): fondo, textos, rejilla y grises
 *    invertidos en modo oscuro; cambia sola cuando el lector cambia de tema;
 *  - a pantallas estrechas: título y títulos de ejes partidos en líneas, leyenda
 *    debajo del gráfico, márgenes automáticos.
 * Ver code/libroia_sphinx/plotly_mime.py (el HTML) y tests/test_movil.py.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var PLOTLY_URL = new URL("../plotly/plotly-libro.min.js", script.src).href;
  var NARROW = 600; // px: por debajo, leyenda debajo y títulos partidos
  var plotlyPromise = null;
  var drawn = [];

  /* Añade <script src="url"> y espera a que se ejecute. */
  function loadScript(url, what) {
    return new Promise(function (resolve, reject) {
      var tag = document.createElement("script");
      tag.src = url;
      tag.onload = function () { resolve(); };
      tag.onerror = function () { reject(new Error("no se pudo cargar " + what + " desde " + url)); };
      document.head.appendChild(tag);
    });
  }

  function loadPlotly() {
    if (window.Plotly) return Promise.resolve(window.Plotly);
    if (!plotlyPromise) {
      plotlyPromise = loadScript(PLOTLY_URL, "plotly.js").then(function () {
        return window.Plotly;
      }, function (error) {
        plotlyPromise = null;
        throw error;
      });
    }
    return plotlyPromise;
  }

  /* --- Colores ----------------------------------------------------------- */

  function isDark() {
    return document.documentElement.dataset.theme === "dark";
  }

  function cssVar(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  var NAMED = { black: "#000000", white: "#ffffff", gray: "#808080", grey: "#808080",
                dimgray: "#696969", darkgray: "#a9a9a9", lightgray: "#d3d3d3" };

  function parseColor(color) {
    if (typeof color !== "string") return null;
    var c = NAMED[color.toLowerCase()] || color.trim();
    var m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(c);
    if (m) {
      var hex = m[1].length === 3 ? m[1].replace(/(.)/g, "$1$1") : m[1];
      return [parseInt(hex.slice(0, 2), 16), parseInt(hex.slice(2, 4), 16),
              parseInt(hex.slice(4, 6), 16), 1];
    }
    m = /^rgba?\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*(?:,\s*([\d.]+)\s*)?\)$/i.exec(c);
    if (m) return [+m[1], +m[2], +m[3], m[4] === undefined ? 1 : +m[4]];
    return null;
  }

  /* En modo oscuro, los grises (negro incluido) se invierten: el negro pasa a
     blanco y el gris medio queda igual. Los colores con tono no cambian. */
  function darkColor(color) {
    var rgba = parseColor(color);
    if (!rgba) return color;
    var spread = Math.max(rgba[0], rgba[1], rgba[2]) - Math.min(rgba[0], rgba[1], rgba[2]);
    if (spread > 24) return color;
    var inv = rgba.slice(0, 3).map(function (v) { return Math.round(255 - v); });
    return "rgba(" + inv.join(",") + "," + rgba[3] + ")";
  }

  function get(obj, path) {
    var parts = path.split(".");
    for (var i = 0; i < parts.length; i++) {
      if (obj === null || obj === undefined) return undefined;
      obj = obj[parts[i]];
    }
    return obj;
  }

  /* Atributos de color de la figura que dependen del tema, con su valor en el
     JSON original (undefined: el de la plantilla). */
  function themeLayout(spec, gd) {
    var layout = spec.layout || {};
    var dark = isDark();
    var bg = cssVar("--pst-color-background", "#14181e");
    var fg = cssVar("--pst-color-text-base", "#ced6dd");
    var update = {};
    function set(attr, darkValue) {
      var original = get(layout, attr);
      if (!dark) update[attr] = original === undefined ? null : original;
      else update[attr] = darkValue === undefined ? darkColor(original) : darkValue;
    }
    set("paper_bgcolor", bg);
    set("plot_bgcolor", bg);
    set("font.color", fg);
    set("title.font.color", fg);
    set("legend.bgcolor", "rgba(0,0,0,0)");
    set("legend.font.color", fg);
    set("hoverlabel.bgcolor", undefined);
    Object.keys(gd._fullLayout || gd.layout).forEach(function (key) {
      if (!/^[xy]axis\d*$/.test(key)) return;
      set(key + ".gridcolor", "rgba(255,255,255,0.12)");
      set(key + ".linecolor", "rgba(255,255,255,0.3)");
      set(key + ".zerolinecolor", "rgba(255,255,255,0.3)");
      set(key + ".color", fg);
    });
    (layout.sliders || []).forEach(function (_, i) {
      var p = "sliders[" + i + "].";
      set(p + "font.color", fg);
      set(p + "currentvalue.font.color", fg);
      set(p + "bgcolor", "#8b949e");
      set(p + "activebgcolor", "#c9d1d9");
      set(p + "bordercolor", "#8b949e");
      set(p + "tickcolor", fg);
    });
    (layout.annotations || []).forEach(function (a, i) {
      var p = "annotations[" + i + "].";
      set(p + "font.color", get(a, "font.color") === undefined ? fg : undefined);
      set(p + "arrowcolor", undefined);
      set(p + "bgcolor", undefined);
      set(p + "bordercolor", undefined);
    });
    (layout.shapes || []).forEach(function (s, i) {
      set("shapes[" + i + "].line.color", undefined);
      set("shapes[" + i + "].fillcolor", undefined);
    });
    // Un atributo sin valor original en modo oscuro (undefined → darkColor) se omite.
    Object.keys(update).forEach(function (k) { if (update[k] === undefined) delete update[k]; });
    return update;
  }

  /* Colores de las trazas (solo los que son un único color, no una lista). */
  function themeData(spec) {
    var dark = isDark();
    var update = {};
    ["line.color", "marker.color", "marker.line.color", "fillcolor"].forEach(function (attr) {
      var values = (spec.data || []).map(function (trace) {
        var original = get(trace, attr);
        if (typeof original !== "string") return original === undefined ? null : original;
        return dark ? darkColor(original) : original;
      });
      if (values.some(function (v) { return typeof v === "string"; })) update[attr] = values;
    });
    return update;
  }

  /* --- Pantallas estrechas ----------------------------------------------- */

  /* Parte `text` en líneas de como mucho `width` caracteres (por espacios). */
  function wrap(text, width) {
    if (typeof text !== "string" || text.length <= width || /<br/i.test(text)) return text;
    var lines = [];
    var line = "";
    text.split(" ").forEach(function (word) {
      if (line && (line + " " + word).length > width) {
        lines.push(line);
        line = word;
      } else {
        line = line ? line + " " + word : word;
      }
    });
    if (line) lines.push(line);
    return lines.join("<br>");
  }

  function titleText(value) {
    return typeof value === "string" ? value : get(value, "text");
  }

  function sizeLayout(spec, gd) {
    var layout = spec.layout || {};
    var shrink = gd._libroiaShrink || {};
    var width = gd.clientWidth || gd.parentNode.clientWidth || 700;
    var narrow = width < NARROW;
    var fontSize = get(layout, "font.size") || 13;
    var update = {};
    var title = titleText(layout.title);
    if (title) {
      var titleSize = get(layout, "title.font.size") || Math.round(fontSize * 1.3);
      var perLine = Math.max(12, Math.floor((shrink.title || 1) * (width - 24) / (titleSize * 0.56)));
      update["title.text"] = narrow ? wrap(title, perLine) : title;
      update["title.automargin"] = narrow ? true : get(layout, "title.automargin") || null;
      update["title.yref"] = narrow ? "paper" : get(layout, "title.yref") || null;
      update["title.y"] = narrow ? 1 : get(layout, "title.y") === undefined ? null : layout.title.y;
      update["title.yanchor"] = narrow ? "bottom" : get(layout, "title.yanchor") || null;
      // Con menús (botones), el título sube para dejarles sitio encima del gráfico.
      update["title.pad.b"] = narrow ? ((layout.updatemenus || []).length ? 56 : 20) : null;
      if (narrow) update["title.font.size"] = Math.min(titleSize, 15);
    }
    var height = layout.height || 450;
    Object.keys(gd._fullLayout || gd.layout).forEach(function (key) {
      var m = /^([xy])axis\d*$/.exec(key);
      if (!m) return;
      var axisTitle = titleText(get(layout, key + ".title"));
      if (!axisTitle) return;
      var room = m[1] === "x" ? width - 110 : height - 140;
      var factor = shrink[m[1]] || 1;
      var chars = Math.max(10, Math.floor(factor * room / (fontSize * 0.58)));
      update[key + ".title.text"] = narrow ? wrap(axisTitle, chars) : axisTitle;
      update[key + ".automargin"] = narrow ? true : get(layout, key + ".automargin");
      if (update[key + ".automargin"] === undefined) update[key + ".automargin"] = null;
    });
    var legend = layout.legend || {};
    var xTitle = update["xaxis.title.text"];
    var extraLines = typeof xTitle === "string" ? xTitle.split("<br>").length - 1 : 0;
    var rows = narrow ? legendRows(spec, width) : 0;
    (layout.sliders || []).forEach(function (slider, i) {
      var padT = get(slider, "pad.t");
      update["sliders[" + i + "].pad.t"] = narrow ? (padT || 20) + 18 * extraLines + 10
                                                  : padT === undefined ? null : padT;
    });
    (layout.updatemenus || []).forEach(function (menu, i) {
      var p = "updatemenus[" + i + "].";
      // Una fila de botones no cabe en un teléfono: pasa a ser una lista desplegable.
      update[p + "type"] = narrow ? "dropdown" : menu.type || null;
      update[p + "direction"] = narrow ? "down" : menu.direction || null;
      update[p + "x"] = narrow ? 0 : menu.x === undefined ? null : menu.x;
      update[p + "xanchor"] = narrow ? "left" : menu.xanchor || null;
      update[p + "y"] = narrow ? 1 : menu.y === undefined ? null : menu.y;
      update[p + "yanchor"] = narrow ? "bottom" : menu.yanchor || null;
      update[p + "pad.b"] = narrow ? 8 : get(menu, "pad.b") === undefined ? null : menu.pad.b;
    });
    var extra = narrow ? 20 * rows + 18 * extraLines : 0;
    update.height = height + extra;
    gd.style.height = height + extra + "px";
    if (narrow) {
      update["legend.orientation"] = "h";
      update["legend.xref"] = "container";
      update["legend.x"] = 0;
      update["legend.xanchor"] = "left";
      update["legend.yref"] = "container";
      update["legend.y"] = 0;
      update["legend.yanchor"] = "bottom";
      update["margin.l"] = Math.min(get(layout, "margin.l") || 60, 48);
      update["margin.r"] = Math.min(get(layout, "margin.r") || 20, 12);
      update["margin.b"] = (get(layout, "margin.b") || 50) + 30 + 18 * rows;
    } else {
      ["orientation", "xref", "x", "xanchor", "yref", "y", "yanchor"].forEach(function (k) {
        update["legend." + k] = legend[k] === undefined ? null : legend[k];
      });
      ["l", "r", "b"].forEach(function (k) {
        var v = get(layout, "margin." + k);
        update["margin." + k] = v === undefined ? null : v;
      });
    }
    return update;
  }

  function legendRows(spec, width) {
    var names = (spec.data || []).filter(function (t) {
      return t.showlegend !== false && t.name;
    }).map(function (t) { return String(t.name); });
    if (!names.length || (spec.layout || {}).showlegend === false) return 0;
    var perRow = Math.max(1, Math.floor(width / 150));
    var sliders = ((spec.layout || {}).sliders || []).length ? 1 : 0;
    return Math.ceil(names.length / perRow) + sliders;
  }

  /* --- Dibujo ------------------------------------------------------------- */

  /* Los datos de la figura: dos copias independientes (ver más abajo por qué). */
  function loadSpecs(gd) {
    var holder = gd.parentNode.querySelector('script[type="application/json"]');
    if (holder) {
      return Promise.resolve([JSON.parse(holder.textContent), JSON.parse(holder.textContent)]);
    }
    var key = gd.dataset.clave;
    var store = window.libroiaFiguras || {};
    var ready = store[key] ? Promise.resolve()
                           : loadScript(gd.dataset.datos, "los datos de la figura");
    return ready.then(function () {
      var text = JSON.stringify(window.libroiaFiguras[key]);
      return [JSON.parse(text), JSON.parse(text)];
    });
  }

  /* Plotly modifica en el sitio los objetos que recibe: la figura se dibuja con una
     copia y el original queda para volver a los colores y tamaños de partida. */

  /* Nombres de las trazas partidos en líneas en pantallas estrechas (la leyenda). */
  function sizeData(spec, gd) {
    var width = gd.clientWidth || 700;
    var chars = Math.max(16, Math.floor((width - 70) / 7.5));
    var names = (spec.data || []).map(function (trace) {
      if (typeof trace.name !== "string") return trace.name === undefined ? null : trace.name;
      return width < NARROW ? wrap(trace.name, chars) : trace.name;
    });
    return names.some(function (n) { return typeof n === "string"; }) ? { name: names } : {};
  }

  function layoutFor(spec, gd) {
    var update = themeLayout(spec, gd);
    var size = sizeLayout(spec, gd);
    Object.keys(size).forEach(function (k) { update[k] = size[k]; });
    return update;
  }

  function draw(gd) {
    if (gd.dataset.estado) return Promise.resolve();
    gd.dataset.estado = "cargando";
    return Promise.all([loadPlotly(), loadSpecs(gd)]).then(function (loaded) {
      var Plotly = loaded[0];
      var spec = loaded[1][0];
      var copy = loaded[1][1];
      var config = Object.assign({ responsive: true, displaylogo: false, locale: "es" },
                                 spec.config || {});
      return Plotly.newPlot(gd, copy.data || [], copy.layout || {}, config).then(function () {
        gd._libroiaSpec = spec;
        drawn.push(gd);
        return adapt(gd);
      }).then(function () {
        gd.dataset.estado = "dibujada";
      });
    }).catch(function (error) {
      gd.dataset.estado = "";
      throw error;
    });
  }

  /* Comprueba que el título y los títulos de ejes caben en la figura; si alguno se
     sale, lo parte en líneas más cortas (como mucho tres intentos). */
  var CHECKS = { title: ".gtitle", x: ".g-xtitle", y: ".g-ytitle" };

  function overflowing(gd) {
    var box = gd.getBoundingClientRect();
    var out = {};
    Object.keys(CHECKS).forEach(function (key) {
      gd.querySelectorAll(CHECKS[key]).forEach(function (el) {
        var b = el.getBoundingClientRect();
        if (!b.width && !b.height) return;
        var excess = key === "y" ? Math.max(box.top - b.top, b.bottom - box.bottom)
                                 : Math.max(box.left - b.left, b.right - box.right);
        if (excess > 1) {
          var size = key === "y" ? b.height : b.width;
          out[key] = Math.min(out[key] || 1, Math.max(0.3, (size - excess - 8) / size));
        }
      });
    });
    return out;
  }

  function adapt(gd, attempt) {
    var spec = gd._libroiaSpec;
    attempt = attempt || 0;
    if (!attempt) gd._libroiaShrink = {};
    var data = themeData(spec);
    var names = sizeData(spec, gd);
    Object.keys(names).forEach(function (k) { data[k] = names[k]; });
    return window.Plotly.update(gd, data, layoutFor(spec, gd)).then(function () {
      var out = overflowing(gd);
      var keys = Object.keys(out);
      if (!keys.length || attempt >= 3) return;
      keys.forEach(function (k) { gd._libroiaShrink[k] = (gd._libroiaShrink[k] || 1) * out[k]; });
      return adapt(gd, attempt + 1);
    });
  }

  function adaptAll() {
    drawn.forEach(function (gd) {
      adapt(gd).catch(function (error) { console.error("figura sin adaptar:", error); });
    });
  }

  /* Una figura de una sección que movil.css aún no ha maquetado mide 0 px de
     ancho: plotly calcularía un gráfico de tamaño negativo. Se dibuja cuando
     la sección se compone y la figura tiene ancho. */
  function drawWhenSized(gd) {
    if (gd.clientWidth > 0 || !("ResizeObserver" in window)) return draw(gd);
    var sized = new ResizeObserver(function () {
      if (gd.clientWidth > 0) {
        sized.disconnect();
        draw(gd);
      }
    });
    sized.observe(gd);
  }

  function start() {
    var figures = Array.prototype.slice.call(
      document.querySelectorAll("figure.libroia-plotly .plotly-graph-div"));
    if (!figures.length) return;
    if (!("IntersectionObserver" in window)) {
      figures.forEach(draw);
    } else {
      var observer = new IntersectionObserver(function (entries) {
        entries.forEach(function (entry) {
          if (entry.isIntersecting) {
            observer.unobserve(entry.target);
            drawWhenSized(entry.target);
          }
        });
      }, { rootMargin: "600px 0px" });
      figures.forEach(function (gd) { observer.observe(gd); });
    }
    new MutationObserver(adaptAll).observe(document.documentElement,
                                           { attributes: true, attributeFilter: ["data-theme"] });
    var lastWidth = window.innerWidth;
    var timer = null;
    window.addEventListener("resize", function () {
      if (window.innerWidth === lastWidth) return;
      lastWidth = window.innerWidth;
      clearTimeout(timer);
      timer = setTimeout(adaptAll, 200);
    });
    window.addEventListener("beforeprint", function () { figures.forEach(draw); });
  }

  // Para las pruebas y para quien imprime: dibuja todas las figuras ya.
  window.libroiaDibujarFiguras = function () {
    var figures = document.querySelectorAll("figure.libroia-plotly .plotly-graph-div");
    return Promise.all(Array.prototype.map.call(figures, draw));
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
