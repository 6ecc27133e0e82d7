"""`xferjax eval`: evaluate a trained run's latest checkpoint on tasks.

Any head with a metric (`evaluator.METRICS_BY_HEAD`): the head defaults to
the first task's (`features.head_of`), so retrieval tasks (BUCC, Tatoeba)
are evaluated from the encoder of any checkpoint, e.g. a fine-tuned one,
without training. Only the collections the evaluation model has are
restored (an embedding model: the encoder alone).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import gin
import jax

from xferjax import errors, partitioning
from xferjax.data import features as features_lib
from xferjax.data import pipeline
from xferjax.models.t5 import TEXT_TO_TEXT
from xferjax.train import checkpointing, results_io
from xferjax.train.eval_heads import RetrievalSettings
from xferjax.train.evaluator import Evaluator
from xferjax.train.trainer import (build_model_for_task, converter,
                                   prepare_model, resolve_model_config)


@gin.configurable
@dataclasses.dataclass(frozen=True)
class EvalRun:
  """Which checkpoint to evaluate, on what. Bound in gin (runs/eval.gin)."""

  checkpoint_dir: str | None = None  # a run directory with checkpoints/
  tasks: tuple[str, ...] = ()
  split: str = "validation"
  task_feature_lengths: dict[str, int] | None = None
  batch_size: int = 128
  # Where results and predictions go; defaults to <checkpoint_dir>/eval.
  output_dir: str | None = None
  # None: the first task's head (its features say which).
  head: str | None = None
  # Per head, as TrainRun.converter_options (e.g. span max_length).
  converter_options: dict[str, dict[str, Any]] | None = None
  # Retrieval (embedding head): layer, pooling, BUCC threshold tuning.
  retrieval_layer: int | None = None
  retrieval_pooling: str = "mean"
  retrieval_tune_split: str = "validation"


def run_eval(run: EvalRun, model_cfg: Any = None,
             partitioner: partitioning.Partitioner | None = None
             ) -> dict[str, Any]:
  """{task: metrics}; writes eval_results.json and predictions/ (per-example
  files and the XTREME submission layout, see `evaluator`)."""
  if not run.checkpoint_dir or not run.tasks or not run.task_feature_lengths:
    raise errors.ConfigError(
        "EvalRun needs checkpoint_dir, tasks and task_feature_lengths",
        "set CHECKPOINT_DIR and EVAL_TASKS (see gin_configs/runs/eval.gin)")
  family, model_cfg = resolve_model_config(model_cfg)
  partitioner = partitioner or partitioning.create_partitioner()
  head = run.head or features_lib.head_of(
      pipeline.get_task_or_mixture(run.tasks[0]))
  # The mT5 family has one model for every task: its sentence embeddings
  # come from the text-to-text model's encoder.
  model_head = TEXT_TO_TEXT if family == "encoder_decoder" else head
  _, model, special = build_model_for_task(run.tasks[0], model_head,
                                           model_cfg, family)
  prepared = prepare_model(model, partitioner)
  retrieval = RetrievalSettings(layer=run.retrieval_layer,
                                pooling=run.retrieval_pooling,
                                tune_split=run.retrieval_tune_split)
  evaluator = Evaluator(
      prepared, run.tasks, run.split, run.task_feature_lengths,
      lambda t: converter(t, head, special, run.converter_options),
      run.batch_size, head=head, retrieval=retrieval)
  ckpt = checkpointing.Checkpointer(run.checkpoint_dir)
  try:
    params = ckpt.restore_params(prepared.abstract_params)
  finally:
    ckpt.close()
  output_dir = run.output_dir or os.path.join(run.checkpoint_dir, "eval")
  results = evaluator.evaluate(params, os.path.join(output_dir,
                                                    "predictions"))
  for name, details in evaluator.details.items():
    results[name]["retrieval"] = details
  if jax.process_index() == 0:  # multi-host: one writer
    results_io.write_json(os.path.join(output_dir, "eval_results.json"),
                          results)
  return results
