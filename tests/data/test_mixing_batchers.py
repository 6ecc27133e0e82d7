"""Per-example mixing of one-layout tasks, and mixing's gin configurables."""

import subprocess
import sys

import numpy as np
import pytest

from xferjax import errors
from xferjax.data import mixing, pipeline


def _batchers():
  # Task a's examples are 0..29, task b's 100..109: a row says its source.
  return {"a": pipeline.StepBatcher({"x": np.arange(30)[:, None]}, 8, seed=1),
          "b": pipeline.StepBatcher({"x": 100 + np.arange(10)[:, None]}, 8,
                                    seed=2)}


def test_mixed_batches_follow_rates_and_each_task_stream_in_order():
  batcher = mixing.MixedBatcher(_batchers(), {"a": 0.75, "b": 0.25}, seed=3,
                                batch_size=8)
  rows = np.concatenate([batcher.batch(s)["x"][:, 0] for s in range(200)])
  from_b = rows >= 100
  assert 0.2 < from_b.mean() < 0.3
  # Each task's rows are its own StepBatcher stream, in order: every epoch
  # of b (10 examples) is a permutation of its examples.
  b_rows = rows[from_b]
  for epoch in range(len(b_rows) // 10):
    assert sorted(b_rows[10 * epoch:10 * epoch + 10]) == list(range(100, 110))
  assert np.array_equal(
      b_rows[:20], 100 + _batchers()["b"].examples_at(np.arange(20)))
  # A pure function of (seed, step): any step again, in any order.
  again = mixing.MixedBatcher(_batchers(), {"a": 0.75, "b": 0.25}, seed=3,
                              batch_size=8)
  assert np.array_equal(again.batch(57)["x"], batcher.batch(57)["x"])


def test_host_slices_make_up_the_global_batch():
  full = mixing.MixedBatcher(_batchers(), {"a": 0.5, "b": 0.5}, 0, 8)
  halves = [mixing.MixedBatcher(_batchers(), {"a": 0.5, "b": 0.5}, 0, 8,
                                lambda r, i=i: r[4 * i:4 * i + 4])
            for i in (0, 1)]
  for step in (0, 5):
    assert np.array_equal(
        np.concatenate([h.batch(step)["x"] for h in halves]),
        full.batch(step)["x"])


def test_tasks_of_different_features_cannot_share_a_batch():
  batchers = _batchers()
  batchers["b"] = pipeline.StepBatcher({"y": np.arange(10)}, 8, seed=0)
  with pytest.raises(errors.ConfigError, match="different features"):
    mixing.MixedBatcher(batchers, {"a": 0.5, "b": 0.5}, 0, 8)


def test_task_lookup_under_a_locked_gin_config():
  # mixing's configurables are registered when pipeline is imported, not
  # at the first lookup (registering under a locked config is an error).
  code = ("import gin\n"
          "from xferjax.data import pipeline\n"
          "gin.parse_config('xferjax.data.mixing.MixingRates.temperature "
          "= 2.0')\n"
          "gin.finalize()\n"
          "from xferjax import errors\n"
          "from xferjax.data import mixing\n"
          "assert mixing.MixingRates().temperature == 2.0\n"
          "try:\n"
          "  pipeline.get_task_or_mixture('no_such_task')\n"
          "except errors.XferjaxError:\n"
          "  print('CONFIG_ERROR')\n")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=300)
  assert "CONFIG_ERROR" in out.stdout, out.stderr[-2000:]
