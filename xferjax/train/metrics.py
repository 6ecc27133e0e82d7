"""Where training metrics go: `metrics.jsonl`, TensorBoard, a progress bar.

Plain JSON lines are what scripts and the study read back; TensorBoard
events (clu's SummaryWriter) are what people look at. Only process 0 writes.
"""

from __future__ import annotations

import json
import os
import sys
import time

import jax
from clu import metric_writers
from tqdm import tqdm


class MetricsLogger:
  """Appends `{"step", "split", metric...}` lines and TensorBoard scalars."""

  def __init__(self, run_dir: str, total_steps: int, initial_step: int = 0,
               description: str = "train"):
    self.primary = jax.process_index() == 0
    self._jsonl = None
    self._tb = None
    if self.primary:
      os.makedirs(run_dir, exist_ok=True)
      self._jsonl = open(os.path.join(run_dir, "metrics.jsonl"), "a")
      self._tb = metric_writers.SummaryWriter(
          os.path.join(run_dir, "tensorboard"))
    # tqdm hides itself when stderr is not a terminal (CI logs stay clean).
    self._bar = tqdm(total=total_steps, initial=initial_step,
                     desc=description, disable=None if self.primary else True,
                     dynamic_ncols=True, file=sys.stderr)

  def write(self, step: int, split: str, metrics: dict[str, float]) -> None:
    if not self.primary:
      return
    clean = {k: float(v) for k, v in metrics.items()}
    record = {"step": step, "split": split, "time": time.time(), **clean}
    self._jsonl.write(json.dumps(record) + "\n")
    self._jsonl.flush()
    self._tb.write_scalars(step, {f"{split}/{k}": v for k, v in clean.items()})
    if split == "train":
      self._bar.set_postfix(loss=f"{clean.get('loss', float('nan')):.4f}")

  def advance(self, steps: int = 1) -> None:
    self._bar.update(steps)

  def close(self) -> None:
    self._bar.close()
    if self.primary:
      self._jsonl.close()
      self._tb.flush()
      self._tb.close()
