"""Gin files shipped with xferjax (models/, runs/, demo.gin), importable so
that a pip-installed package finds them on its gin search path."""
