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
from xferjax.train.multitask import HEAD_PREFIX, head_key
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
  # A multi-task run's checkpoint has a head per task (params.head.<task>):
  # the trained task whose head evaluates every task here. None: the first
  # eval task's own head, when the checkpoint has one.
  head_of_task: str | None = None


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
    sources = head_sources(run, prepared.abstract_params, ckpt.collections())
    params = ckpt.restore_params(prepared.abstract_params, sources=sources)
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


def head_sources(run: EvalRun, abstract_params: dict[str, Any],
                 saved: list[str]) -> dict[str, str]:
  """Which saved collection is the evaluation model's 'head'.

  A single-task checkpoint has 'head'; a multi-task one has 'head.<task>'
  for each of its tasks, and `run.head_of_task` (default: the first eval
  task) names the one to use."""
  if "head" not in abstract_params:  # retrieval: the encoder alone
    return {}
  task_heads = sorted(c[len(HEAD_PREFIX):] for c in saved
                      if c.startswith(HEAD_PREFIX))
  if run.head_of_task is None:
    # A single-task run; or no head at all, which check_shapes reports.
    if "head" in saved or not task_heads:
      return {}
  elif not task_heads:
    raise errors.ConfigError(
        f"EvalRun.head_of_task={run.head_of_task!r}, but "
        f"{run.checkpoint_dir} is a single-task run (one 'head')",
        "drop EvalRun.head_of_task: that head is used")
  wanted = run.head_of_task or run.tasks[0]
  if wanted not in task_heads:
    raise errors.ConfigError(
        f"the multi-task checkpoint {run.checkpoint_dir} has no head for "
        f"{wanted!r}; it has heads for {task_heads}",
        "set EvalRun.head_of_task to one of those tasks (its head then "
        "evaluates every EVAL_TASKS task, e.g. an MNLI head on XNLI)")
  return {"head": head_key(wanted)}
