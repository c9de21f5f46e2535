# «¿Cómo funciona ChatGPT?»: construir, probar y previsualizar el libro.
#   make html   entorno .venv + sitio en _build/html (ejecutando cada celda, con caché)
#   make test   todas las pruebas (paquete, sitio, navegador, estilo, ortografía)
#   make serve  vista previa que se recarga al guardar un capítulo
#   make bench  mediciones de velocidad (no son pruebas)
#   make zip    el sitio entero en un .zip para leerlo sin conexión
#   make wheel  la rueda de libroia (con la prosa del libro) en _build/dist
#   make clean  borra _build (no el entorno)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_BOOK := $(VENV)/.instalado-libro
STAMP_TEST := $(VENV)/.instalado-pruebas
# Con dos núcleos compartidos, los hilos de OpenMP que esperan dando vueltas entre
# operaciones pequeñas hacen que un entrenamiento tarde diez veces más (medido en el
# capítulo 3: 33 s frente a 2.6 s). PASSIVE los duerme; no cambia ningún resultado.
export OMP_WAIT_POLICY ?= PASSIVE
JB_FLAGS := -W -n --keep-going
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: html test serve bench zip clean lint venv wheel

# Instala solo cuando cambian los requisitos (fichero sello en .venv). Dos paquetes
# editables: libroia (el del lector, en la raíz) y libroia-sphinx (las extensiones
# que construyen el sitio, code/libroia_sphinx/). pip comprueba las dependencias que
# declara cada uno; requirements.txt ya las fija, así que no descarga nada más.
$(STAMP_BOOK): requirements.txt pyproject.toml code/libroia_sphinx/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-build-isolation -e . -e code/libroia_sphinx
	touch $@

$(STAMP_TEST): $(STAMP_BOOK) requirements-test.txt
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	touch $@

venv: $(STAMP_BOOK)

# La extensión libroia_sphinx.wheel deja además la rueda de libroia en
# _build/html/_static/libroia-<versión>-py3-none-any.whl.
html: $(STAMP_BOOK)
	$(BIN)/jupyter-book build . $(JB_FLAGS)

wheel: $(STAMP_BOOK)
	$(BIN)/python -m libroia_sphinx.wheel _build/dist

# Dos procesos (uno por núcleo); cada fichero de pruebas se queda en un proceso.
test: $(STAMP_TEST) html
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(STAMP_TEST)
	$(BIN)/ruff check code tests benchmarks

# Jupyter Book escribe conf.py (ignorado por git) y sphinx-autobuild recarga el navegador.
serve: $(STAMP_BOOK)
	$(BIN)/jupyter-book config sphinx . > /dev/null
	$(BIN)/sphinx-autobuild . _build/html --host $(HOST) --port $(PORT) \
		--watch code/libroia --watch code/libroia_sphinx --ignore "*/libroia/datos/*" \
		--ignore "*/_build/*" --ignore "*/.venv/*" --ignore "*/conf.py"

# OMP_WAIT_POLICY=PASSIVE: los hilos de OpenMP no esperan dando vueltas entre operaciones
# pequeñas (ver benchmarks/bench_attention.py); se aplica igual a libroia y a PyTorch.
bench: $(STAMP_TEST) html
	OMP_WAIT_POLICY=PASSIVE $(BIN)/python benchmarks/run_all.py

zip: html
	$(BIN)/python -c "import shutil; shutil.make_archive('_build/como-funciona-chatgpt', 'zip', '_build', 'html')"
	@echo "Sitio comprimido en _build/como-funciona-chatgpt.zip"

clean:
	rm -rf _build

# El libro entero sin la web: PDF y EPUB 3 en español (libroia_sphinx.pdf y .epub).
#   make pdf    _build/pdf/como-funciona-chatgpt.pdf  (Chromium de Debian y pdftotext)
#   make epub   _build/epub/como-funciona-chatgpt.epub (se valida con epubcheck)
# Sin red y sin descargar navegador; reutilizan la caché de ejecución de `make html`.
# Necesitan Playwright y pyphen (requisitos de las pruebas).
.PHONY: pdf epub
pdf: $(STAMP_TEST)
	$(BIN)/python -m libroia_sphinx.pdf

epub: $(STAMP_TEST)
	$(BIN)/python -m libroia_sphinx.epub
