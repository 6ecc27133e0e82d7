"""Nested size ladders: the first N training examples of a seeded order.

`<task>_n<N>` keeps the examples whose positions are the first N of one
seeded permutation of the whole training split. The permutation depends on
(seed, split size) only, so for N < M the N-subset is a prefix of the
M-subset (nested), the same on every run and every host (deterministic),
and the kept examples stay in their original order. Selection happens
inside the source, before SeqIO shards a split over hosts, so the shards of
any process count partition the same subset.
"""

from __future__ import annotations

import numpy as np
import seqio
import tensorflow as tf

from xferjax import errors

DEFAULT_SEED = 0
DEFAULT_SIZES = (1000, 4000, 16000, 64000)


def ladder_name(base: str, size: int) -> str:
  return f"{base}_n{size}"


def kept_positions(total: int, size: int, seed: int = DEFAULT_SEED
                   ) -> np.ndarray:
  """Sorted positions of the `size`-subset of a split of `total` examples."""
  if size <= 0:
    raise errors.ConfigError(f"ladder size {size} must be positive",
                             "use a size such as 1000")
  order = np.random.default_rng([seed, total]).permutation(total)
  return np.sort(order[:min(size, total)])


def count_examples(ds: tf.data.Dataset) -> int:
  return int(ds.reduce(np.int64(0), lambda n, _: n + 1).numpy())


def subset(ds: tf.data.Dataset, size: int, seed: int = DEFAULT_SEED,
           total: int | None = None) -> tf.data.Dataset:
  """The examples of `ds` at `kept_positions(total, size, seed)`."""
  total = count_examples(ds) if total is None else total
  keep = np.zeros(total, bool)
  keep[kept_positions(total, size, seed)] = True
  keep = tf.constant(keep)
  return ds.enumerate().filter(lambda i, ex: keep[i]).map(
      lambda i, ex: ex)


class LadderSource(seqio.DataSource):
  """`base` with its `split` capped to a nested, seeded subset of `size`."""

  def __init__(self, base: seqio.DataSource, size: int,
               seed: int = DEFAULT_SEED, split: str = "train"):
    super().__init__(splits=base.splits,
                     caching_permitted=base.caching_permitted)
    self._base = base
    self._size = size
    self._seed = seed
    self._split = split

  @property
  def supports_arbitrary_sharding(self) -> bool:
    return False

  @property
  def size(self) -> int:
    return self._size

  def list_shards(self, split):
    return self._base.list_shards(split)

  def num_input_examples(self, split):
    base = self._base.num_input_examples(split)
    if split != self._split:
      return base
    return self._size if base is None else min(self._size, base)

  def get_dataset(self, split="train", shuffle=True, seed=None,
                  shard_info=None, *, sequence_length=None, use_cached=False,
                  num_epochs=1):
    del shuffle, seed  # Ordered: shuffling is the batcher's job.
    if shard_info and shard_info.num_shards > 1:
      raise ValueError("LadderSource is sharded by seqio.Task after "
                       "selection, not by the source")
    ds = self._base.get_dataset(split=split, shuffle=False)
    if split != self._split:
      return ds
    return subset(ds, self._size, self._seed,
                  self._base.num_input_examples(split))
