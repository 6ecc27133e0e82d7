"""Metrics plumbing that needs no training: the progress bar with its ETA,
interval summaries weighted by targets, resumed metrics.jsonl."""

import io
import json

import pytest

from xferjax.train import metrics as metrics_lib
from xferjax.train.loop import summarise
from train_helpers import clean_gin  # noqa: F401  (autouse fixture)


class _Terminal(io.StringIO):
  def isatty(self):
    return True


def test_progress_bar_shows_position_and_eta(tmp_path, monkeypatch):
  terminal = _Terminal()
  monkeypatch.setattr("sys.stderr", terminal)
  logger = metrics_lib.MetricsLogger(str(tmp_path), total_steps=100,
                                     initial_step=40, description="run")
  for _ in range(5):
    logger.advance()
  logger.write(45, "train", {"loss": 0.5})
  logger.close()
  shown = terminal.getvalue().replace("\r", "\n").splitlines()[-1]
  assert "45/100" in shown
  # tqdm's [elapsed<remaining, rate]: the remaining time is the ETA.
  assert "<" in shown and ("it/s" in shown or "s/it" in shown), shown
  assert "loss=0.5000" in shown


def test_summary_weights_per_target_metrics_by_num_targets():
  records = [{"loss": 1.0, "accuracy": 0.0, "num_targets": 1.0,
              "grad_norm": 2.0, "nonfinite": 0.0},
             {"loss": 0.0, "accuracy": 1.0, "num_targets": 3.0,
              "grad_norm": 4.0, "nonfinite": 0.0},
             {"loss": float("nan"), "accuracy": 0.0, "num_targets": 9.0,
              "grad_norm": float("nan"), "nonfinite": 1.0}]
  out = summarise(records)
  assert out["loss"] == pytest.approx(0.25)  # 1 of 4 targets had loss 1
  assert out["accuracy"] == pytest.approx(0.75)
  assert out["grad_norm"] == pytest.approx(3.0)  # per step
  assert out["num_targets"] == pytest.approx(2.0)
  assert "nonfinite" not in out


def test_resume_drops_lines_after_the_checkpoint(tmp_path):
  path = tmp_path / metrics_lib.METRICS_FILE
  lines = [json.dumps({"step": s, "split": "train", "loss": s})
           for s in (1, 2, 3)]
  path.write_text("\n".join(lines) + "\n" + '{"step": 4, "spl')  # cut off
  metrics_lib.drop_records_after(str(tmp_path), 2)
  assert [r["step"] for r in metrics_lib.read_records(str(tmp_path))] == [
      1, 2]
  assert path.read_text().endswith("\n")


def test_tokens_are_counted_for_encoder_and_text_to_text_batches():
  import numpy as np
  assert metrics_lib.count_tokens(
      {"attention_mask": np.array([[1, 1, 0], [1, 0, 0]])}) == 3
  assert metrics_lib.count_tokens(
      {"encoder_input_tokens": np.array([[5, 6, 0]]),
       "decoder_target_tokens": np.array([[7, 1, 0, 0]])}) == 4
