"""Size ladders: nested, deterministic, and the same union on any host count."""

import numpy as np
import pytest
import seqio
import tensorflow as tf

from xferjax.data import ladders, mixing, pipeline
from xferjax import errors
from tests.tasks.fixtures import bind_macros, env, tfds_mock  # noqa: F401


def _source(n):
  return seqio.FunctionDataSource(
      lambda split, shuffle_files, seed=None: tf.data.Dataset.range(n).map(
          lambda i: {"i": i}), splits=["train", "validation"])


def _ids(ds):
  return [int(ex["i"]) for ex in ds.as_numpy_iterator()]


def test_ladders_are_nested_and_deterministic():
  base = _source(500)
  subsets = [set(_ids(ladders.LadderSource(base, n).get_dataset("train")))
             for n in (10, 50, 200, 1000)]
  assert [len(s) for s in subsets] == [10, 50, 200, 500]
  assert subsets[0] < subsets[1] < subsets[2] < subsets[3]
  again = set(_ids(ladders.LadderSource(_source(500), 50).get_dataset(
      "train")))
  assert again == subsets[1]
  other_seed = set(_ids(ladders.LadderSource(base, 50, seed=1).get_dataset(
      "train")))
  assert other_seed != subsets[1]
  # Non-train splits are untouched.
  assert len(_ids(ladders.LadderSource(base, 10).get_dataset(
      "validation"))) == 500
  with pytest.raises(errors.ConfigError):
    ladders.kept_positions(10, 0)


def test_host_shards_partition_the_same_subset():
  task = seqio.Task("xferjax_test_ladder_shards",
                    source=ladders.LadderSource(_source(300), 64),
                    output_features={}, preprocessors=[])
  whole = _ids(task.get_dataset(None, "train", shuffle=False))
  shards = [_ids(task.get_dataset(None, "train", shuffle=False,
                                  shard_info=seqio.ShardInfo(i, 2)))
            for i in range(2)]
  assert len(whole) == 64
  assert sorted(shards[0] + shards[1]) == sorted(whole)
  assert not set(shards[0]) & set(shards[1])


def test_step_batches_have_the_same_rows_on_1_and_2_processes(monkeypatch):
  arrays = {"x": np.arange(64)}
  one = pipeline.StepBatcher(arrays, 8, seed=3)
  for step in range(12):
    want = one.batch(step)["x"]
    parts = []
    for index in range(2):
      monkeypatch.setattr(pipeline.jax, "process_count", lambda: 2)
      monkeypatch.setattr(pipeline.jax, "process_index", lambda i=index: i)
      parts.append(pipeline.StepBatcher(arrays, 8, seed=3).batch(step)["x"])
    monkeypatch.undo()
    np.testing.assert_array_equal(np.concatenate(parts), want)


def test_mixing_rates_proportional_and_temperature():
  sizes = {"a": 1000, "b": 100}
  p = mixing.MultiTaskMixture("m", sizes).probabilities()
  assert p["a"] == pytest.approx(1000 / 1100)
  t = mixing.MultiTaskMixture("m", sizes, mixing.MixingRates(
      temperature=2.0)).probabilities()
  assert t["a"] == pytest.approx(1000 ** .5 / (1000 ** .5 + 100 ** .5))
  capped = mixing.MixingRates(maximum=100).rate(1000)
  assert capped == 100
  with pytest.raises(errors.ConfigError):
    mixing.MixingRates(temperature=0)


def test_multitask_batcher_is_deterministic_and_follows_rates():
  batchers = {n: pipeline.StepBatcher({"x": np.arange(40) + 100 * k}, 4, 0)
              for k, n in enumerate(("a", "b"))}
  b = mixing.MultiTaskBatcher(batchers, {"a": 0.75, "b": 0.25}, seed=1)
  draws = [b.batch(s) for s in range(400)]
  again = mixing.MultiTaskBatcher(batchers, {"a": 0.75, "b": 0.25}, seed=1)
  assert all(name == again.batch(s)[0] for s, (name, _) in
             zip(range(0, 400, 37), draws[::37]))
  share = np.mean([name == "a" for name, _ in draws])
  assert 0.68 < share < 0.82
  # Each task walks its own batches in order: its k-th draw is step k.
  a_batches = [batch["x"] for name, batch in draws if name == "a"]
  for k, got in enumerate(a_batches[:10]):
    np.testing.assert_array_equal(got, batchers["a"].batch(k)["x"])


def test_gin_selects_temperature_for_the_t2t_mixture():
  import gin
  from xferjax_tasks import intermediate  # noqa: F401
  mixture = seqio.get_mixture_or_task("mt5.intermediate_mixture")
  mnli = seqio.get_mixture_or_task("mt5.mnli")
  assert mixture.get_rate(mnli) == pytest.approx(392702)
  gin.parse_config("xferjax.data.mixing.MixingRates.temperature = 2.0")
  assert mixture.get_rate(mnli) == pytest.approx(392702 ** 0.5)
