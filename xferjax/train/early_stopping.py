"""Best-checkpoint tracking and early stopping on an evaluation metric.

jiant's default: evaluate every N steps, remember the best value of one
metric, and stop after `patience` evaluations in a row without improvement.
The tracker's state is plain JSON saved with every checkpoint, so a resumed
run makes the same decisions as an uninterrupted one.

Metric names: `accuracy` is the mean over all evaluation tasks;
`synthetic_nli.en/accuracy` is one task's value.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from xferjax import errors

MODES = ("max", "min")


def metric_value(name: str, results: dict[str, dict[str, Any]]) -> float:
  """The value of `name` in {task: {metric: value}} evaluation results."""
  if "/" in name:
    task, metric = name.rsplit("/", 1)
    values = [results.get(task, {}).get(metric)]
  else:
    values = [m.get(name) for m in results.values()]
  if not values or any(not isinstance(v, (int, float)) for v in values):
    available = sorted({f"{t}/{k}" for t, m in results.items() for k, v in
                        m.items() if isinstance(v, (int, float))})
    raise errors.ConfigError(
        f"early-stopping metric {name!r} is not among the evaluation "
        f"results", f"use a metric name (mean over eval tasks) or one of "
        f"{available}")
  return float(sum(values) / len(values))


@dataclasses.dataclass
class EarlyStopping:
  """Tracks the best evaluation; `should_stop` once patience runs out."""

  metric: str
  mode: str = "max"
  patience: int = 0  # 0: track the best checkpoint, never stop early
  best_step: int | None = None
  best_value: float | None = None
  evals_without_improvement: int = 0

  def __post_init__(self):
    if self.mode not in MODES:
      raise errors.ConfigError(
          f"early-stopping mode {self.mode!r} is unknown",
          f"use one of {list(MODES)} (max for accuracy, min for loss)")

  def update(self, step: int, results: dict[str, dict[str, Any]]) -> bool:
    """Records an evaluation; True if it is a new best."""
    value = metric_value(self.metric, results)
    better = self.best_value is None or (
        value > self.best_value if self.mode == "max"
        else value < self.best_value)
    if better:
      self.best_step, self.best_value = step, value
      self.evals_without_improvement = 0
    else:
      self.evals_without_improvement += 1
    return better

  @property
  def should_stop(self) -> bool:
    return bool(self.patience) and (
        self.evals_without_improvement >= self.patience)

  def state_dict(self) -> dict[str, Any]:
    return {"best_step": self.best_step, "best_value": self.best_value,
            "evals_without_improvement": self.evals_without_improvement}

  def load(self, state: dict[str, Any] | None) -> None:
    for key, value in (state or {}).items():
      setattr(self, key, value)

  def summary(self) -> dict[str, Any]:
    return {"metric": self.metric, "mode": self.mode,
            "step": self.best_step, "value": self.best_value}
