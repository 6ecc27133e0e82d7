"""The training loop: steps, logging, evaluation, checkpoints, stopping.

Step numbering: "step s" is the state after s updates; the s-th update
used batch s - 1. metrics.jsonl, checkpoints and messages all count so.

The loop never waits for the device without a reason: per-step metrics stay
on the device until a log line, an evaluation or a checkpoint needs them.
Before anything is saved they are fetched and checked, so no checkpoint is
written past a non-finite step.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import jax
import numpy as np

from xferjax import errors, partitioning
from xferjax.train.checkpointing import Checkpointer
from xferjax.train.early_stopping import EarlyStopping
from xferjax.train.metrics import MetricsLogger, Throughput, count_tokens
from xferjax.train.preemption import PreemptedError, PreemptionWatcher
from xferjax.train.run_state import Progress
from xferjax.train.steps import COUNT_METRIC, TrainState

NONFINITE_POLICIES = ("stop", "skip")


# Per-step metrics that are not means over targets: averaged per step.
_PER_STEP = (COUNT_METRIC, "grad_norm")


def summarise(records: list[dict[str, float]]) -> dict[str, float]:
  """Means over the finite steps of a logging interval: per-target metrics
  (loss, accuracy) weighted by each step's `num_targets`, so an interval's
  loss is the loss over all its targets; the others per step."""
  good = [r for r in records if not r.get("nonfinite")]
  if not good:
    return {}
  counts = np.array([r.get(COUNT_METRIC, 1.0) for r in good])
  weights = counts / counts.sum() if counts.sum() > 0 else None
  out = {}
  for k in good[0]:
    if k == "nonfinite":
      continue
    values = np.array([r[k] for r in good])
    per_step = k in _PER_STEP or weights is None
    out[k] = float(values.mean() if per_step else (values * weights).sum())
  return out


def numeric(metrics: dict[str, Any]) -> dict[str, float]:
  return {k: v for k, v in metrics.items() if isinstance(v, (int, float))}


@dataclasses.dataclass(eq=False)
class TrainLoop:
  """Runs one TrainRun's steps from `state` (fresh or resumed)."""

  run: Any  # xferjax.train.trainer.TrainRun
  state: TrainState
  # One step, or (multi-task) a step per task, when batch_fn returns
  # (task, batch) pairs.
  train_step: Callable | dict[str, Callable]
  batch_fn: Callable[[int], Any]
  partitioner: partitioning.Partitioner
  ckpt: Checkpointer
  logger: MetricsLogger
  progress: Progress
  # (step, progress) -> the JSON run state saved with that step.
  run_state_fn: Callable[[int, Progress], dict[str, Any]]
  watcher: PreemptionWatcher
  evaluator: Any = None  # evaluator.Evaluator / EvaluatorGroup
  tracker: EarlyStopping | None = None

  def __post_init__(self):
    self.step = int(jax.device_get(self.state.step))
    self._device_pending: list[dict[str, jax.Array]] = []
    self._throughput = Throughput()

  def train(self) -> int:
    """Trains to num_steps (or an early stop); returns the final step."""
    run = self.run
    while self.step < run.num_steps and not self.progress.stopped_early:
      batch = self.batch_fn(self.step)
      train_step = self.train_step
      if isinstance(batch, tuple):  # multi-task: (task, batch), step per task
        task, batch = batch
        train_step = self.train_step[task]
      self._throughput.add(run.batch_size,
                           count_tokens(batch) * jax.process_count())
      with self.partitioner.context():
        self.state, metrics = train_step(
            self.state,
            partitioning.host_local_to_global(batch, self.partitioner))
      self._device_pending.append(metrics)
      self.logger.advance()
      self.step += 1
      done = self.step
      if done % run.log_every == 0 or done == run.num_steps:
        self._log_train(done)
      improved = self._maybe_evaluate(done)
      if (improved or self.progress.stopped_early or
          (run.checkpoint_every and done % run.checkpoint_every == 0)):
        self._save(done, keep=improved)
      if self.watcher.requested(done):
        self._preempt(done)
    self._save(self.step)
    self.ckpt.confirm()
    return self.step

  # --- metrics and the non-finite guard ------------------------------------

  def _fetch(self, done: int) -> None:
    """Brings per-step metrics to the host and applies the NaN policy."""
    if not self._device_pending:
      return
    fetched = jax.device_get(self._device_pending)
    self._device_pending = []
    first = done - len(fetched) + 1
    for i, metrics in enumerate(fetched):
      record = {k: float(v) for k, v in metrics.items()}
      if record.get("nonfinite"):
        self._on_nonfinite(first + i)
      self.progress.pending.append(record)

  def _on_nonfinite(self, step: int) -> None:
    run = self.run
    if run.nonfinite_policy == "skip":
      self.progress.skipped_steps += 1
      if self.progress.skipped_steps <= run.max_skipped_steps:
        return
    self.ckpt.confirm()
    what = (f"{self.progress.skipped_steps} steps had a non-finite loss or "
            f"gradient (the last at step {step}, more than max_skipped_steps="
            f"{run.max_skipped_steps})"
            if run.nonfinite_policy == "skip" else
            f"non-finite loss or gradient at step {step}")
    raise errors.TrainingError(
        f"{what} in {run.model_dir}; that update was not applied and "
        f"training stopped. {self.ckpt.describe_last_good().capitalize()} "
        "and is intact",
        "lower the learning rate, clip gradients (grad_clip_norm) or compute "
        "in float32 (in a new model_dir, or resume from that checkpoint "
        "with init_from); TrainRun.nonfinite_policy='skip' skips such steps")

  def _log_train(self, done: int) -> None:
    self._fetch(done)
    summary = summarise(self.progress.pending)
    if self.run.nonfinite_policy == "skip" or self.progress.skipped_steps:
      summary["skipped_steps"] = self.progress.skipped_steps
    summary.update(self._throughput.report())
    self.logger.write(done, "train", summary)
    self.progress.pending = []

  # --- evaluation, checkpoints, preemption ---------------------------------

  def _maybe_evaluate(self, done: int) -> bool:
    """Evaluates every eval_every steps (and at the end); True if best."""
    run = self.run
    if not (self.evaluator and run.eval_every):
      return False
    if done % run.eval_every and done != run.num_steps:
      return False
    start = time.perf_counter()
    self._fetch(done)
    results = self.evaluator.evaluate(self.state.params)
    for name, metrics in results.items():
      self.logger.write(done, f"eval/{name}", numeric(metrics))
    self.progress.eval_history.append({"step": done, "results": results})
    improved = False
    if self.tracker:
      improved = self.tracker.update(done, results)
      self.progress.early_stopping = self.tracker.state_dict()
      if self.tracker.should_stop:
        self.progress.stopped_early = True
        print(f"[xferjax] {run.model_dir}: stopping early at step {done}: "
              f"{self.tracker.metric} has not improved for "
              f"{self.tracker.patience} evaluations (best "
              f"{self.tracker.best_value:.4f} at step "
              f"{self.tracker.best_step})", flush=True)
    self._throughput.exclude(time.perf_counter() - start)
    return improved

  def _save(self, done: int, keep: bool = False) -> None:
    start = time.perf_counter()
    self._fetch(done)
    self.ckpt.save(self.state, self.run_state_fn(done, self.progress),
                   keep=keep)
    self._throughput.exclude(time.perf_counter() - start)

  def _preempt(self, done: int) -> None:
    self._save(done)
    self.ckpt.confirm()
    print(f"[xferjax] {self.run.model_dir}: preempted; checkpoint of step "
          f"{done} saved", flush=True)
    raise PreemptedError(
        f"preempted at step {done} of {self.run.num_steps}; the checkpoint "
        f"of step {done} is complete in {self.ckpt.directory}",
        "re-run the same command to resume from it (exit code "
        f"{PreemptedError.exit_code} means: preempted, safe to resume)")

  # --- the parameters the final evaluation uses ----------------------------

  def final_params(self, abstract_params) -> tuple[Any, str]:
    """The best checkpoint's params when tracking a metric, else the last."""
    best = self.tracker.best_step if self.tracker else None
    if best is None or best == self.step:
      return self.state.params, "last" if best is None else "best"
    if best not in self.ckpt.all_steps():
      print(f"[xferjax] warning: the best checkpoint (step {best}) is gone; "
            "evaluating the last parameters instead", flush=True)
      return self.state.params, "last"
    return self.ckpt.restore_params(abstract_params, step=best), "best"
