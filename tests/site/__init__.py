"""Pruebas del libro construido: sitio, navegador, cuadernos, PDF y EPUB, estilo."""
