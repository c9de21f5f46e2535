// laboratorio.js — cargador de los laboratorios de una página (pequeño a propósito).
//
// No descarga nada hasta que un laboratorio aparece en pantalla o el lector lo
// toca (clic, toque o foco con el teclado). Entonces pide, como scripts clásicos
// que funcionan también con la página abierta desde el disco (file://), el
// tiempo de ejecución (modelo.classic.js), el modelo (modelo-datos.js) y los
// paneles (laboratorio-paneles.js), una sola vez para toda la página.
(function () {
  "use strict";
  const current = document.currentScript;
  const base = current ? current.src.replace(/[^/]*$/, "") : "";
  let ready = null;

  function addScript(name) {
    return new Promise(function (resolve, reject) {
      const script = document.createElement("script");
      script.src = base + name;
      script.onload = resolve;
      script.onerror = function () {
        reject(new Error("no se pudo leer " + name));
      };
      document.head.appendChild(script);
    });
  }

  function loadModel() {
    if (!ready) {
      const files = ["modelo.classic.js", "modelo-datos.js", "laboratorio-paneles.js"];
      ready = Promise.all(files.map(addScript))
        .then(function () {
          performance.mark("laboratorio:scripts");
          return globalThis.libroiaModelo.load(globalThis.LIBROIA_MODELO_DATOS);
        })
        .then(function (model) {
          performance.mark("laboratorio:modelo");
          return model;
        });
    }
    return ready;
  }

  function start(widget) {
    if (widget.dataset.estado) return;
    widget.dataset.estado = "cargando";
    const started = performance.now(); // para medir cuánto tarda la primera distribución
    performance.mark("laboratorio:inicio");
    const status = widget.querySelector(".laboratorio-estado");
    status.textContent = "Cargando el modelo…";
    loadModel()
      .then(function (model) {
        globalThis.libroiaLaboratorio.mount(widget, model, started);
      })
      .catch(function (err) {
        widget.dataset.estado = "error";
        status.textContent = "No se pudo cargar el modelo: " + err.message;
      });
  }

  function init() {
    const widgets = document.querySelectorAll(".laboratorio");
    const observer =
      "IntersectionObserver" in window
        ? new IntersectionObserver(function (entries) {
            entries.forEach(function (entry) {
              if (entry.isIntersecting) {
                observer.unobserve(entry.target);
                start(entry.target);
              }
            });
          })
        : null;
    widgets.forEach(function (widget) {
      const touch = function () {
        start(widget);
      };
      widget.addEventListener("click", touch);
      widget.addEventListener("pointerdown", touch);
      widget.addEventListener("focusin", touch);
      if (observer) observer.observe(widget);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
