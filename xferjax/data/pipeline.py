"""From a SeqIO task to the batches of a training or evaluation run.

The batch of global step `s` is a pure function of (examples, seed, s): the
examples are materialised once, each epoch is a seeded permutation, and the
step indexes into the concatenation of epochs. That makes resumption exact
(a resumed run sees the same batches as an uninterrupted one) and keeps the
data identical on any device count. Each process reads only its own rows of
every global batch (`host_slice`).
"""

from __future__ import annotations

import difflib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import jax
import numpy as np
import seqio
import tensorflow as tf

from xferjax import errors
from xferjax.data import features
# Eager: mixing registers gin configurables (MixingRates), which must exist
# before gin parses and locks its config; a lazy import at the first task
# lookup would come too late.
from xferjax.data import mixing

tf.config.set_visible_devices([], "GPU")  # TF is only a data library here.


def get_task_or_mixture(name: str):
  """The registered task or mixture (a seqio one, or a multi-head
  `mixing.MultiTaskMixture`), or an error listing close names."""
  multitask = mixing.get_multitask(name)
  if multitask is not None:
    return multitask
  try:
    return seqio.get_mixture_or_task(name)
  except ValueError:
    names = sorted(seqio.TaskRegistry.names()) + sorted(
        seqio.MixtureRegistry.names()) + mixing.multitask_names()
    raise errors.UnknownTaskError(
        f"no SeqIO task or mixture is registered as {name!r}",
        _unknown_name_hint(name, names)) from None


def _unknown_name_hint(name: str, names: list[str]) -> str:
  """Close names; for `<task>.<code>` with a known task, its valid codes."""
  stem, _, code = name.rpartition(".")
  siblings = sorted(n[len(stem) + 1:] for n in names
                    if stem and n.startswith(stem + ".")
                    and "." not in n[len(stem) + 1:])
  if siblings:
    return (f"{code!r} is not a language of {stem}; valid codes: "
            f"{', '.join(siblings)}")
  close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
  return (f"did you mean {', '.join(close)}? " if close else "") + (
      "`xferjax tasks list` shows every registered name; register your own "
      "task in a module and pass --gin.import or --module")


def load_examples(name: str, split: str, task_feature_lengths: dict[str, int],
                  feature_converter: seqio.FeatureConverter) -> dict[str, np.ndarray]:
  """All examples of one split, converted and stacked into numpy arrays."""
  task = get_task_or_mixture(name)
  if not isinstance(task, (seqio.Task, seqio.Mixture)):
    raise errors.ConfigError(
        f"{name!r} mixes tasks of different heads ({', '.join(task.task_names)})"
        ", so it has no single batch layout",
        "load each task with its own converter and draw steps with "
        "xferjax.data.mixing.MultiTaskBatcher")
  if split not in task.splits:
    raise errors.ConfigError(
        f"{name!r} has no split {split!r}",
        f"use one of {sorted(task.splits)}")
  # Trim with the text lengths only (seqio cannot slice scalar features), then
  # convert with every task feature's length, as seqio.get_dataset would.
  ds = task.get_dataset(sequence_length=task_feature_lengths, split=split,
                        shuffle=False, num_epochs=1, use_cached=False)
  ds = feature_converter(ds, features.with_scalar_lengths(
      feature_converter, task_feature_lengths))
  # Batching inside tf.data keeps Python out of the per-example loop.
  chunks = list(ds.batch(4096).as_numpy_iterator())
  if not chunks:
    raise errors.DataError(f"{name!r} split {split!r} yielded no examples",
                           "check the task's source and preprocessors")
  return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}


def _to_python(value):
  """numpy/bytes from tf.data -> plain Python (str, int, float, lists)."""
  if isinstance(value, dict):
    return {k: _to_python(v) for k, v in value.items()}
  if isinstance(value, bytes):
    return value.decode("utf-8")
  if isinstance(value, np.ndarray):
    return [_to_python(v) for v in value] if value.ndim else _to_python(
        value.item())
  if isinstance(value, np.generic):
    return value.item()
  return value


def raw_examples(name: str, split: str) -> list[dict]:
  """A task's source examples of one split, before preprocessing, in the
  order `load_examples` converts them (what evaluation reads gold answers,
  original words and contexts from)."""
  task = get_task_or_mixture(name)
  if not isinstance(task, seqio.Task):
    raise errors.ConfigError(f"{name!r} is a mixture, not a task",
                             "evaluate its tasks one by one")
  if split not in task.splits:
    raise errors.ConfigError(f"{name!r} has no split {split!r}",
                             f"use one of {sorted(task.splits)}")
  ds = task.source.get_dataset(split=split, shuffle=False)
  return [_to_python(ex) for ex in ds.as_numpy_iterator()]


def num_examples(arrays: dict[str, np.ndarray]) -> int:
  return len(next(iter(arrays.values())))


class StepBatcher:
  """Global batch for any step: epoch-wise seeded permutations, no state."""

  def __init__(self, arrays: dict[str, np.ndarray], batch_size: int,
               seed: int, shuffle: bool = True):
    self.arrays = arrays
    self.batch_size = batch_size
    self.seed = seed
    self.shuffle = shuffle
    self.size = num_examples(arrays)
    self._perm_cache: dict[int, np.ndarray] = {}

  def _epoch_order(self, epoch: int) -> np.ndarray:
    if epoch not in self._perm_cache:
      if len(self._perm_cache) > 4:
        self._perm_cache.clear()
      self._perm_cache[epoch] = (
          np.random.default_rng([self.seed, epoch]).permutation(self.size)
          if self.shuffle else np.arange(self.size))
    return self._perm_cache[epoch]

  def examples_at(self, positions: np.ndarray) -> np.ndarray:
    """Example indices at stream positions (position p is the p-th example
    drawn since the start: epoch p // size, offset p % size)."""
    epochs, offsets = np.divmod(np.asarray(positions, np.int64), self.size)
    return np.array([self._epoch_order(e)[o] for e, o in zip(epochs, offsets)],
                    np.int64)

  def indices(self, step: int) -> np.ndarray:
    start = step * self.batch_size
    return self.examples_at(np.arange(start, start + self.batch_size))

  def batch(self, step: int) -> dict[str, np.ndarray]:
    idx = host_slice(self.indices(step))
    return {k: v[idx] for k, v in self.arrays.items()}


def host_slice(global_rows: np.ndarray) -> np.ndarray:
  """This process' contiguous share of a global batch's rows."""
  n = jax.process_count()
  if len(global_rows) % n:
    raise errors.ShapeError(
        f"global batch of {len(global_rows)} rows cannot be split over {n} "
        "processes", f"use a batch size that is a multiple of {n}")
  per = len(global_rows) // n
  i = jax.process_index()
  return global_rows[i * per:(i + 1) * per]


def eval_batches(arrays: dict[str, np.ndarray], batch_size: int):
  """Fixed-size batches over every example once; the last is padded.

  Yields (batch, num_real_rows): padding rows repeat row 0 and must be
  dropped from predictions (fixed shapes avoid recompiling the eval step).
  """
  size = num_examples(arrays)
  for start in range(0, size, batch_size):
    idx = np.arange(start, start + batch_size)
    real = int(min(batch_size, size - start))
    idx[real:] = 0
    yield {k: v[idx] for k, v in arrays.items()}, real
