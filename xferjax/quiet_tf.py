"""Imports TensorFlow without its start-up chatter.

TF 2.21 prints C++ log lines before absl logging is initialised ("oneDNN
custom operations are on", "Could not find cuda drivers", "failed call to
cuInit"), ignoring TF_CPP_MIN_LOG_LEVEL. They are harmless here (TF is only
a data library and must not touch GPUs), but they look like errors, so the
CLI imports TF once with the process' stderr file descriptor pointed at
/dev/null. Set XFERJAX_VERBOSE_TF=1 to see them.
"""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def _stderr_fd_silenced():
  sys.stderr.flush()
  saved = os.dup(2)
  devnull = os.open(os.devnull, os.O_WRONLY)
  try:
    os.dup2(devnull, 2)
    yield
  finally:
    os.dup2(saved, 2)
    os.close(saved)
    os.close(devnull)


def import_tensorflow():
  """Imports TF (and jax's CPU client) quietly; hides GPUs from TF."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  if os.environ.get("XFERJAX_VERBOSE_TF") == "1" or "tensorflow" in sys.modules:
    import tensorflow as tf
    return tf
  with _stderr_fd_silenced():
    import jax
    import tensorflow as tf
    tf.config.set_visible_devices([], "GPU")
    jax.devices()
  return tf
