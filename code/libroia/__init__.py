"""libroia: el paquete compañero de «¿Cómo funciona ChatGPT?».

Cada módulo implementa una idea de un capítulo y se comprueba contra PyTorch o
la biblioteca de referencia en ``tests/``. Se importa como ``libroia`` (no como
``code``: ese nombre es de la biblioteca estándar de Python). Ningún módulo
necesita Sphinx: la maquinaria que construye el libro vive en otro paquete.

Dónde está el código de cada capítulo
-------------------------------------
1. Aprender una función: ``regression``, ``optim``, ``fourier``.
2. Tokens y datos: ``tokenizer``, ``corpus``, ``language_tax``,
   ``parallel_sentences``, ``data`` (dónde se busca el texto del libro).
3. Redes recurrentes: ``rnn``, ``rnn_train``, ``tasks``.
4. Atención: ``functional`` (la softmax), ``masks``, ``attention``, ``bahdanau``;
   ``rnn_train`` y ``tasks`` (la tarea del capítulo 3, resuelta con atención).
5. El transformer: ``positions``, ``activations``, ``gpt`` (el modelo),
   ``gpt_train`` (entrenarlo y su caché), ``gpt_analysis``.
6. Escala: ``scaling``, ``scaling_law``.
7. Memoria: ``memory``, ``quantization``.
8. Posentrenamiento: ``posttrain_data``, ``preference``, ``posttrain``.
9. Muestreo: ``sampling``, ``decoding``, ``constrained``.
10. Alucinaciones y evaluación: ``evaluation``.
11. Servir el modelo: ``inference``, ``batching``, ``speculative``.

Las figuras de cada capítulo están en ``libroia.plots.<tema>``; las comprobaciones
de argumentos compartidas, en ``libroia._checks``.
"""

from libroia.functional import log_softmax, softmax

__version__ = "0.1.0"

__all__ = ["__version__", "log_softmax", "softmax"]
