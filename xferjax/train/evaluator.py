"""Evaluation of a model on SeqIO tasks (e.g. every language of a target).

Metrics plug in per head type: a metric function takes the logits of every
example and the task's converted arrays and returns `(metrics, predictions)`
(metrics on XTREME's 0-100 scale, one prediction per example).
`METRICS_BY_HEAD` lists them; a head without one cannot have `eval_tasks`.

Predictions are written per task as TSV (`index, prediction, label`), so the
study can bootstrap over examples later without re-running the model.

`Evaluator` loads each task's examples and compiles the predict step once,
so evaluating every N steps during training costs only the forward passes.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import jax
import numpy as np
from jax.experimental import multihost_utils

from xferjax import partitioning
from xferjax.data import features as features_lib
from xferjax.data import pipeline
from xferjax.train import results_io
from xferjax.train.steps import make_predict_step

MetricFn = Callable[[np.ndarray, dict[str, np.ndarray]],
                    tuple[dict[str, float], np.ndarray]]


def classification_metrics(logits: np.ndarray, arrays: dict[str, np.ndarray]
                           ) -> tuple[dict[str, float], np.ndarray]:
  predictions = logits.argmax(-1)
  return ({"accuracy": float(100.0 * np.mean(predictions == arrays["label"]))},
          predictions)


METRICS_BY_HEAD: dict[str, MetricFn] = {
    "classification": classification_metrics,
}


def predict_logits(prepared, params, arrays: dict[str, np.ndarray],
                   batch_size: int, predict: Callable | None = None
                   ) -> np.ndarray:
  """Logits for every example, in order, on any mesh and process count."""
  p: partitioning.Partitioner = prepared.partitioner
  shards = p.data_parallel_size * jax.process_count()
  batch_size = -(-batch_size // shards) * shards  # round up to divide evenly
  predict = predict or jax.jit(make_predict_step(prepared.model))
  outputs = []
  for batch, real in pipeline.eval_batches(arrays, batch_size):
    rows = pipeline.host_slice(np.arange(batch_size))
    local = {k: v[rows] for k, v in batch.items()
             if k in ("input_ids", "attention_mask")}
    with p.context():
      logits = predict(params, partitioning.host_local_to_global(local, p))
    logits = multihost_utils.process_allgather(logits, tiled=True)
    outputs.append(np.asarray(logits)[:real])
  return np.concatenate(outputs)


def _write_predictions(path: str, task, predictions: np.ndarray,
                       labels: np.ndarray) -> None:
  names = features_lib.label_names_of(task)
  lines = ["index\tprediction\tlabel"] + [
      f"{i}\t{names[p]}\t{names[l]}"
      for i, (p, l) in enumerate(zip(predictions, labels))]
  results_io.atomic_write_text(path, "\n".join(lines) + "\n")


class Evaluator:
  """Evaluates params on fixed tasks; data and compiled step are reused."""

  def __init__(self, prepared, task_names, split: str,
               task_feature_lengths: dict[str, int],
               converter_fn: Callable[[Any], Any], batch_size: int,
               head: str = "classification"):
    self.prepared = prepared
    self.task_names = tuple(task_names)
    self.split = split
    self.batch_size = batch_size
    self.metric_fn = METRICS_BY_HEAD[head]
    self._lengths = task_feature_lengths
    self._converter_fn = converter_fn
    self._arrays: dict[str, dict[str, np.ndarray]] = {}
    self._predict = jax.jit(make_predict_step(prepared.model))

  def _examples(self, name: str):
    task = pipeline.get_task_or_mixture(name)
    if name not in self._arrays:
      self._arrays[name] = pipeline.load_examples(
          name, self.split, self._lengths, self._converter_fn(task))
    return task, self._arrays[name]

  def evaluate(self, params, predictions_dir: str | None = None
               ) -> dict[str, dict[str, Any]]:
    results = {}
    for name in self.task_names:
      task, arrays = self._examples(name)
      logits = predict_logits(self.prepared, params, arrays, self.batch_size,
                              self._predict)
      metrics, predictions = self.metric_fn(logits, arrays)
      results[name] = {**metrics, "num_examples": int(len(predictions))}
      if predictions_dir and jax.process_index() == 0:
        _write_predictions(
            os.path.join(predictions_dir, f"{name}.{self.split}.tsv"),
            task, predictions, arrays["label"])
    return results


def evaluate_classification_tasks(
    prepared, params, task_names, split: str,
    task_feature_lengths: dict[str, int],
    converter_fn: Callable[[Any], Any], batch_size: int,
    predictions_dir: str | None = None) -> dict[str, dict[str, Any]]:
  """Accuracy (0-100, as XTREME reports it) on each task's split."""
  return Evaluator(prepared, task_names, split, task_feature_lengths,
                   converter_fn, batch_size).evaluate(params, predictions_dir)
