"""Where training metrics go: `metrics.jsonl`, TensorBoard, a progress bar.

Plain JSON lines are what scripts and the study read back; TensorBoard
events (clu's SummaryWriter) are what people look at; tqdm shows steps/s and
the ETA on a terminal. Only process 0 writes.

A resumed run first drops the lines written after the checkpoint it resumes
from, so `metrics.jsonl` of an interrupted-and-resumed run equals that of an
uninterrupted one (TensorBoard keeps both; it shows the newer points).
"""

from __future__ import annotations

import json
import os
import sys
import time

import jax
import numpy as np
from clu import metric_writers
from tqdm import tqdm

from xferjax.train import results_io

METRICS_FILE = "metrics.jsonl"


def read_records(run_dir: str) -> list[dict]:
  path = os.path.join(run_dir, METRICS_FILE)
  if not os.path.exists(path):
    return []
  records = []
  with open(path) as f:
    for line in f:
      try:
        records.append(json.loads(line))
      except json.JSONDecodeError:
        break  # a line cut short by a crash: everything after it is gone
  return records


def drop_records_after(run_dir: str, step: int) -> None:
  """Rewrites metrics.jsonl without lines for steps after `step`."""
  path = os.path.join(run_dir, METRICS_FILE)
  if not os.path.exists(path):
    return
  records = read_records(run_dir)
  kept = [r for r in records if r.get("step", 0) <= step]
  with open(path) as f:
    unchanged = len(kept) == len(records) and f.read().endswith("\n")
  if not unchanged:
    results_io.atomic_write_text(
        path, "".join(json.dumps(r) + "\n" for r in kept))


def count_tokens(batch: dict) -> int:
  """Non-padding tokens the model reads in a host batch: the attention mask
  of encoder inputs, or encoder inputs plus decoder targets (pad id 0) of
  text-to-text batches."""
  if "attention_mask" in batch:
    return int(np.sum(batch["attention_mask"]))
  return int(sum(np.count_nonzero(batch[k]) for k in
                 ("encoder_input_tokens", "decoder_target_tokens")
                 if k in batch))


class Throughput:
  """Examples, tokens and wall time of the training steps since the last
  report (time spent evaluating or checkpointing is excluded)."""

  def __init__(self):
    self._reset()

  def _reset(self):
    self._start = time.perf_counter()
    self._excluded = 0.0
    self._steps = self._examples = self._tokens = 0

  def add(self, examples: int, tokens: int) -> None:
    self._steps += 1
    self._examples += examples
    self._tokens += tokens

  def exclude(self, seconds: float) -> None:
    self._excluded += seconds

  def report(self) -> dict[str, float]:
    elapsed = max(time.perf_counter() - self._start - self._excluded, 1e-9)
    out = {"steps_per_sec": self._steps / elapsed,
           "examples_per_sec": self._examples / elapsed,
           "tokens_per_sec": self._tokens / elapsed,
           "step_time": elapsed / max(self._steps, 1)}
    self._reset()
    return out


class MetricsLogger:
  """Appends `{"step", "split", metric...}` lines and TensorBoard scalars."""

  def __init__(self, run_dir: str, total_steps: int, initial_step: int = 0,
               description: str = "train"):
    self.primary = jax.process_index() == 0
    self._jsonl = None
    self._tb = None
    if self.primary:
      os.makedirs(run_dir, exist_ok=True)
      drop_records_after(run_dir, initial_step)
      self._jsonl = open(os.path.join(run_dir, METRICS_FILE), "a")
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
    if split == "train" and "loss" in clean:
      self._bar.set_postfix(loss=f"{clean['loss']:.4f}")

  def advance(self, steps: int = 1) -> None:
    self._bar.update(steps)

  def close(self) -> None:
    self._bar.close()
    if self.primary:
      self._jsonl.close()
      self._tb.flush()
      self._tb.close()
