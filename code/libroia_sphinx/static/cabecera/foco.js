/* Foco de teclado en los bloques de código que se desplazan (libroia_sphinx.cabecera).
 *
 * Un bloque más ancho que la columna se desplaza; para desplazarlo con el teclado
 * tiene que poder recibir el foco (tabindex="0"). Cada <pre> sale así del HTML.
 * Los que caben enteros no necesitan foco: el tema (pydata-sphinx-theme) lo
 * decidía midiendo todos los bloques al cargar la página, y esas medidas obligaban
 * a maquetar la página entera de golpe (una tarea larga en un teléfono). El
 * libro mide la primera vez que el lector pulsa el tabulador, antes de que el
 * foco se mueva: solo quien navega con el teclado paga la medida, y una sola vez.
 * Después, el tema vuelve a medir cuando cambia el tamaño de la ventana o el
 * contenido (lo llama a través de window.libroiaFoco).
 */
(function () {
  "use strict";

  var SELECTOR = "pre, .cell_output > .output, .pst-scrollable-table-container";
  var measuring = false;

  function measure(el) {
    el.tabIndex = el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight ? 0 : -1;
  }

  window.libroiaFoco = function (el) {
    if (measuring) measure(el);
  };

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Tab" || measuring) return;
    measuring = true;
    document.querySelectorAll(SELECTOR).forEach(measure);
  }, true);
})();
