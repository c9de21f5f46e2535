/* Secciones compuestas poco a poco, después de cargar (libroia_sphinx.cabecera).
 *
 * movil.css deja sin maquetar las secciones de un capítulo que están lejos de la
 * pantalla (content-visibility: auto): la página se pinta antes y no hay una
 * tarea larga que maquete cientos de fórmulas de golpe. Pero una sección sin
 * maquetar no tiene geometría fiable, y las herramientas que la miden (un
 * lector de pantalla que calcula posiciones, axe al medir el contraste) pueden
 * leer mal lo que hay detrás de un texto. Cuando la página ya ha cargado, este
 * script compone las secciones de una en una, cada una en un momento libre del
 * navegador: trabajos pequeños que no bloquean la lectura, y al cabo de poco la
 * página entera está maquetada como sin movil.css.
 */
(function () {
  "use strict";

  var SECTION = ".bd-article > section > section:not(.libroia-compuesta)";
  var idle = window.requestIdleCallback || function (work) { return setTimeout(work, 1); };

  function composeNext() {
    var section = document.querySelector(SECTION);
    if (!section) return;
    section.classList.add("libroia-compuesta");
    // La siguiente, después de que el navegador haya pintado esta.
    requestAnimationFrame(function () { idle(composeNext); });
  }

  if (document.readyState === "complete") idle(composeNext);
  else window.addEventListener("load", function () { idle(composeNext); });
})();
