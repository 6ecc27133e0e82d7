"""Multi-task mixing rates and multi-head mixtures.

Rates (gin-selectable): a task with `size` training examples gets
`min(size, maximum) ** (1 / temperature)`; temperature 1 is examples-
proportional mixing, larger temperatures flatten it toward uniform (T5's
temperature-scaled mixing). Bind them in gin:

  xferjax.data.mixing.MixingRates.temperature = 2.0
  xferjax.data.mixing.MixingRates.maximum = 524288

Text-to-text tasks share one feature set, so their mixture is a plain
`seqio.Mixture`. Encoder tasks with different heads (classification, span,
tagging, multiple choice) cannot share a batch: a `MultiTaskMixture` names
them and their rates, and `MultiTaskBatcher` draws, for each global step,
which task that step's batch comes from (seeded by step, so resumption and
any number of hosts see the same sequence of tasks), as jiant does.
`MixedBatcher` mixes tasks of one layout per example instead (T5's
mixing), for text-to-text mixtures, with the same guarantees.

An epoch of a mixture is defined as sum of its tasks' (capped) training
sizes / batch size steps: as many examples as the tasks hold together
(`xferjax.study.schedule` turns a mixture's epochs into steps so).
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import gin
import numpy as np

from xferjax import errors


@gin.configurable(module="xferjax.data.mixing")
@dataclasses.dataclass(frozen=True)
class MixingRates:
  temperature: float = 1.0
  maximum: int | None = None

  def __post_init__(self):
    if self.temperature <= 0:
      raise errors.ConfigError(
          f"mixing temperature {self.temperature} must be > 0",
          "use 1.0 (proportional) or e.g. 2.0 (temperature-scaled)")
    if self.maximum is not None and self.maximum < 1:
      raise errors.ConfigError(f"mixing maximum {self.maximum} must be >= 1",
                               "unset it or use a positive example count")

  def rate(self, size: int) -> float:
    capped = size if self.maximum is None else min(size, self.maximum)
    return float(capped) ** (1.0 / self.temperature)


def rate_fn(size: int, rates: MixingRates | None = None):
  """A seqio mixing-rate callable, evaluated when the mixture is read (so
  the gin binding in force then is used)."""

  def rate(task=None):
    del task
    return (rates or MixingRates()).rate(size)

  return rate


@dataclasses.dataclass(frozen=True)
class MultiTaskMixture:
  """Encoder tasks of possibly different heads, each with its train size."""

  name: str
  sizes: Mapping[str, int]
  rates: MixingRates | None = None

  @property
  def task_names(self) -> tuple[str, ...]:
    return tuple(self.sizes)

  def probabilities(self) -> dict[str, float]:
    rates = self.rates or MixingRates()
    raw = {t: rates.rate(n) for t, n in self.sizes.items()}
    total = sum(raw.values())
    return {t: r / total for t, r in raw.items()}


_MULTITASK: dict[str, MultiTaskMixture] = {}


def add_multitask(name: str, sizes: Mapping[str, int],
                  rates: MixingRates | None = None) -> MultiTaskMixture:
  mixture = MultiTaskMixture(name, dict(sizes), rates)
  _MULTITASK[name] = mixture
  return mixture


def get_multitask(name: str) -> MultiTaskMixture | None:
  return _MULTITASK.get(name)


def multitask_names() -> list[str]:
  return sorted(_MULTITASK)


class MultiTaskBatcher:
  """`batch(step) -> (task name, batch)`: one task per step, drawn with the
  mixture's probabilities from a generator seeded by (seed, step)."""

  def __init__(self, batchers: Mapping[str, object],
               probabilities: Mapping[str, float], seed: int):
    missing = set(probabilities) - set(batchers)
    if missing:
      raise errors.ConfigError(f"no batcher for mixture tasks "
                               f"{sorted(missing)}",
                               "build one StepBatcher per task")
    self.names: Sequence[str] = sorted(probabilities)
    self.p = np.array([probabilities[n] for n in self.names], np.float64)
    self.p /= self.p.sum()
    self.batchers = batchers
    self.seed = seed

  BLOCK = 4096

  def _block(self, b: int) -> np.ndarray:
    """Task indices of steps [b * BLOCK, (b + 1) * BLOCK)."""
    u = np.random.default_rng([self.seed, b, 7]).random(self.BLOCK)
    cdf = np.cumsum(self.p)
    return np.minimum(np.searchsorted(cdf, u, side="right"),
                      len(self.names) - 1)

  def _counts_before(self, b: int) -> np.ndarray:
    """How often each task was drawn before block b (cached, cumulative)."""
    cache = self.__dict__.setdefault("_cum", [np.zeros(len(self.names),
                                                       np.int64)])
    while len(cache) <= b:
      last = len(cache) - 1
      cache.append(cache[-1] + np.bincount(self._block(last),
                                           minlength=len(self.names)))
    return cache[b]

  def task_at(self, step: int) -> str:
    return self.names[int(self._block(step // self.BLOCK)[step % self.BLOCK])]

  def draws(self, start: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """For draws start..start+count-1: each one's task index and how many
    earlier draws picked the same task (its position in that task's
    stream). A pure function of (seed, draw index)."""
    tasks = np.empty(count, np.int64)
    positions = np.empty(count, np.int64)
    done = 0
    while done < count:
      b, offset = divmod(start + done, self.BLOCK)
      block = self._block(b)
      take = min(count - done, self.BLOCK - offset)
      seen = self._counts_before(b) + np.stack(
          [np.sum(block[:offset] == t) for t in range(len(self.names))])
      for i, t in enumerate(block[offset:offset + take]):
        tasks[done + i] = t
        positions[done + i] = seen[t]
        seen[t] += 1
      done += take
    return tasks, positions

  def batch(self, step: int):
    """(task, its batch): a task's k-th draw is its StepBatcher's step k."""
    (t,), (k,) = self.draws(step, 1)
    name = self.names[int(t)]
    return name, self.batchers[name].batch(int(k))


class MixedBatcher(MultiTaskBatcher):
  """Tasks of one feature layout (a text-to-text seqio.Mixture) mixed per
  example, as T5 mixes: row r of step s is draw s * batch_size + r, whose
  task is drawn with the mixture's rates and whose example is that task's
  next one in its own seeded epoch order (`StepBatcher.examples_at`).
  `batch(step)` is this process' rows of the global batch."""

  def __init__(self, batchers, probabilities, seed: int, batch_size: int,
               host_slice=None):
    super().__init__(batchers, probabilities, seed)
    self.batch_size = batch_size
    self._host_slice = host_slice or (lambda rows: rows)
    keys = {n: sorted(b.arrays) for n, b in batchers.items()}
    if len({tuple(k) for k in keys.values()}) != 1:
      raise errors.ConfigError(
          f"mixture tasks have different features ({keys}), so they cannot "
          "share a batch", "mix tasks of one head and feature lengths")

  def batch(self, step: int):
    tasks, positions = self.draws(step * self.batch_size, self.batch_size)
    rows = self._host_slice(np.arange(self.batch_size))
    tasks, positions = tasks[rows], positions[rows]
    out = None
    for t, name in enumerate(self.names):
      picked = np.flatnonzero(tasks == t)
      if not picked.size:
        continue
      batcher = self.batchers[name]
      examples = batcher.examples_at(positions[picked])
      if out is None:
        out = {k: np.empty((len(rows),) + v.shape[1:], v.dtype)
               for k, v in batcher.arrays.items()}
      for k, v in batcher.arrays.items():
        out[k][picked] = v[examples]
    return out
