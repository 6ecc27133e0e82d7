"""xferjax: does English intermediate-task training still help zero-shot
cross-lingual transfer past 1B parameters? A JAX/TPU framework to find out."""

__version__ = "0.1.0"
