"""Evaluation of a classification model on SeqIO tasks (e.g. every language).

Predictions are written per task as TSV (`index, prediction, label`), so the
study can bootstrap over examples later without re-running the model.
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


def predict_logits(prepared, params, arrays: dict[str, np.ndarray],
                   batch_size: int) -> np.ndarray:
  """Logits for every example, in order, on any mesh and process count."""
  p: partitioning.Partitioner = prepared.partitioner
  shards = p.data_parallel_size * jax.process_count()
  batch_size = -(-batch_size // shards) * shards  # round up to divide evenly
  predict = jax.jit(make_predict_step(prepared.model))
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


def evaluate_classification_tasks(
    prepared, params, task_names, split: str,
    task_feature_lengths: dict[str, int],
    converter_fn: Callable[[Any], Any], batch_size: int,
    predictions_dir: str | None = None) -> dict[str, dict[str, Any]]:
  """Accuracy (0-100, as XTREME reports it) on each task's split."""
  results = {}
  for name in task_names:
    task = pipeline.get_task_or_mixture(name)
    arrays = pipeline.load_examples(name, split, task_feature_lengths,
                                    converter_fn(task))
    logits = predict_logits(prepared, params, arrays, batch_size)
    predictions = logits.argmax(-1)
    labels = arrays["label"]
    results[name] = {
        "accuracy": float(100.0 * np.mean(predictions == labels)),
        "num_examples": int(len(labels)),
    }
    if predictions_dir and jax.process_index() == 0:
      names = features_lib.label_names_of(task)
      lines = ["index\tprediction\tlabel"] + [
          f"{i}\t{names[p]}\t{names[l]}"
          for i, (p, l) in enumerate(zip(predictions, labels))]
      results_io.atomic_write_text(
          os.path.join(predictions_dir, f"{name}.{split}.tsv"),
          "\n".join(lines) + "\n")
  return results
