"""`xferjax eval`: evaluate a trained run's latest checkpoint on tasks."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import gin

from xferjax import errors, partitioning
from xferjax.train import checkpointing, results_io
from xferjax.train.evaluator import evaluate_classification_tasks
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


def run_eval(run: EvalRun, model_cfg: Any = None,
             partitioner: partitioning.Partitioner | None = None
             ) -> dict[str, Any]:
  if not run.checkpoint_dir or not run.tasks or not run.task_feature_lengths:
    raise errors.ConfigError(
        "EvalRun needs checkpoint_dir, tasks and task_feature_lengths",
        "set CHECKPOINT_DIR and EVAL_TASKS (see gin_configs/runs/eval.gin)")
  family, model_cfg = resolve_model_config(model_cfg)
  partitioner = partitioner or partitioning.create_partitioner()
  task, model, special = build_model_for_task(run.tasks[0], "classification",
                                              model_cfg, family)
  prepared = prepare_model(model, partitioner)
  ckpt = checkpointing.Checkpointer(run.checkpoint_dir)
  try:
    params = ckpt.restore_params(prepared.abstract_params)
  finally:
    ckpt.close()
  output_dir = run.output_dir or os.path.join(run.checkpoint_dir, "eval")
  results = evaluate_classification_tasks(
      prepared, params, run.tasks, run.split, run.task_feature_lengths,
      lambda t: converter(t, "classification", special), run.batch_size,
      os.path.join(output_dir, "predictions"))
  import jax
  if jax.process_index() == 0:  # multi-host: one writer
    results_io.write_json(os.path.join(output_dir, "eval_results.json"),
                          results)
  return results
