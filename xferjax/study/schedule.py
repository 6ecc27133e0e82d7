"""Training length in epochs, as jiant's X-STILTs scripts set it.

The trainer counts optimizer steps; a sweep says "XNLI: 2 epochs, PAN-X: 10"
(Phang et al. 2020 train each target task for a fixed number of epochs over
its English training set). The study turns epochs into steps here:

  steps = ceil(epochs x training examples / batch size)
  warmup = round(warmup_proportion x steps)

The training-set size is counted from the task's source (exact; what the
run will see). Where the data is not on this machine, `--list` falls back to
the published sizes in `PUBLISHED_TRAIN_SIZES` and says so; a run never does.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re

from xferjax import errors

# Training-set sizes from the datasets' papers / TFDS metadata, used only by
# `xferjax study --list` to estimate costs when the data is not prepared
# locally. Keys are the registry's base task names.
PUBLISHED_TRAIN_SIZES = {
    "mnli": 392_702,        # MultiNLI train (also XNLI's English train set)
    "xnli": 392_702,
    "qqp": 363_846,         # GLUE QQP
    "squad_v1": 87_599,     # SQuAD v1.1 (also XQuAD's and MLQA's train set)
    "xquad": 87_599,
    "mlqa": 87_599,
    "squad_v2": 130_319,
    "hellaswag": 39_905,
    "cosmosqa": 25_262,
    "commonsenseqa": 9_741,
    "pawsx": 49_401,        # PAWS-X English train
    "panx": 20_000,         # WikiANN English train as XTREME splits it
    "tydiqa": 3_696,        # TyDiQA-GoldP English train
}
_LADDER = re.compile(r"^(?P<base>.+)_n(?P<n>\d+)$")


@dataclasses.dataclass(frozen=True)
class Length:
  """How long one phase trains: a number of epochs (None: the template's
  num_steps as bound) and the share of those steps spent warming up."""

  epochs: float | None = None
  warmup_proportion: float = 0.1

  def validate(self, what: str) -> None:
    if self.epochs is not None and not self.epochs > 0:
      raise errors.ConfigError(f"{what}: epochs = {self.epochs} is not "
                               "positive", "use e.g. 2 (or None to keep "
                               "TrainRun.num_steps)")
    if not 0 <= self.warmup_proportion < 1:
      raise errors.ConfigError(
          f"{what}: warmup_proportion = {self.warmup_proportion} is not in "
          "[0, 1)", "use e.g. 0.1 (jiant's default)")


def steps_for(epochs: float, n_examples: int, batch_size: int) -> int:
  return max(1, math.ceil(epochs * n_examples / batch_size))


def apply(run, length: Length, n_examples: int | None):
  """`run` (a TrainRun) with num_steps/warmup_steps from `length`."""
  if length.epochs is None:
    return run
  if n_examples is None:
    raise errors.DataError(
        f"cannot turn {length.epochs} epochs of {run.task!r} into steps: "
        "its training-set size is unknown", "prepare the task's data, or "
        "set epochs = None and bind the phase's TrainRun.num_steps")
  steps = steps_for(length.epochs, n_examples, run.batch_size)
  return dataclasses.replace(
      run, num_steps=steps,
      warmup_steps=int(round(length.warmup_proportion * steps)))


@functools.lru_cache(maxsize=None)
def count_train_examples(task_name: str, split: str = "train") -> int:
  """Examples in a registered task's split, counted from its source."""
  import seqio
  import tensorflow as tf

  from xferjax.data import pipeline

  task = pipeline.get_task_or_mixture(task_name)
  if isinstance(task, seqio.Mixture):
    raise errors.ConfigError(
        f"{task_name!r} is a mixture: an epoch of a mixture is not defined",
        "set the phase's epochs = None and bind its TrainRun.num_steps")
  try:
    known = task.num_input_examples(split)
    if known is not None:
      return int(known)
    ds = task.source.get_dataset(split=split, shuffle=False)
    n = int(ds.cardinality().numpy())
    if n < 0:  # unknown or infinite: count
      n = int(ds.reduce(tf.constant(0, tf.int64), lambda c, _: c + 1).numpy())
    return n
  except errors.XferjaxError:
    raise
  except Exception as e:  # pylint: disable=broad-except
    raise errors.DataError(
        f"cannot count the {split!r} examples of {task_name!r} (needed to "
        f"turn epochs into steps): {type(e).__name__}: {e}",
        "prepare the task's data (see `xferjax tasks list`), or set the "
        "phase's epochs = None and bind TrainRun.num_steps") from None


def published_train_size(task_name: str) -> int | None:
  """The published size (capped by a `_n<N>` ladder suffix), or None."""
  # 'mnli_n1000', 'xnli.en', 'mt5.mnli_n1000': the first dotted part that
  # names a known task (registries prefix families, suffix languages).
  for part in task_name.split("."):
    match = _LADDER.match(part)
    base, n = (match["base"], int(match["n"])) if match else (part, None)
    if base in PUBLISHED_TRAIN_SIZES:
      size = PUBLISHED_TRAIN_SIZES[base]
      return size if n is None else min(n, size)
  match = _LADDER.match(task_name)
  return int(match["n"]) if match else None


def estimate_train_examples(task_name: str) -> tuple[int | None, str]:
  """(size, how it was obtained) for cost estimates; never raises for data
  that is missing here."""
  try:
    return count_train_examples(task_name), "counted"
  except errors.XferjaxError:
    size = published_train_size(task_name)
    return size, ("published size" if size is not None else "unknown")
