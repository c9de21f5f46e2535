"""libroia: el paquete compañero de «¿Cómo funciona ChatGPT?».

Cada módulo implementa una idea de un capítulo y se comprueba contra PyTorch
en ``tests/``. Se importa como ``libroia`` (no como ``code``: ese nombre es de la
biblioteca estándar de Python).
"""

from libroia.functional import log_softmax, softmax

__version__ = "0.1.0"

__all__ = ["__version__", "log_softmax", "softmax"]
