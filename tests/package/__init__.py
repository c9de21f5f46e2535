"""Pruebas del paquete libroia: un fichero por módulo."""
