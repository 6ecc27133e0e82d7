"""What goes wrong in real runs: preemption, damaged checkpoints, NaN, full
disks, unwritable or mismatched run directories. Each ends with a clear
message, the right exit code, and every good checkpoint intact.

Training runs are child processes (see conftest.train_processes); checks
that need no training run in-process.
"""

import os
import re
import shutil
import socket

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from train_helpers import (clean_gin,  # noqa: F401  (autouse fixture)
                           train_processes,  # noqa: F401  (fixture)
                           finish, last_step, log_of, start_training, train,
                           train_records, wait_for_step)
import resumable_run
import xferjax_tasks  # noqa: F401  (registers the synthetic tasks)
from xferjax import errors
from xferjax.train import checkpoint_manifest
from xferjax.train.preemption import PREEMPTED_EXIT_CODE

LONG = {"num_steps": 120, "checkpoint_every": 10, "keep_checkpoints": 2}
SHORT = {"num_steps": 12, "checkpoint_every": 3, "keep_checkpoints": 5}


def _steps(model_dir):
  d = os.path.join(model_dir, "checkpoints")
  return sorted(int(s) for s in os.listdir(d) if s.isdigit())


def _files(path):
  """{relative path: size} of every file under `path`."""
  out = {}
  for root, _, names in os.walk(path):
    for name in names:
      full = os.path.join(root, name)
      out[os.path.relpath(full, path)] = os.path.getsize(full)
  return out


def _restored_params(step_dir):
  with ocp.StandardCheckpointer() as c:
    return c.restore(os.path.join(step_dir, "params.encoder"))


def _copy(run, tmp_path):
  target = tmp_path / "run"
  shutil.copytree(run, target)
  return target


@pytest.fixture(scope="module")
def preempted(train_processes, tmp_path_factory):
  """A run that got SIGTERM after step 12: (dir, step seen, exit code)."""
  model_dir = tmp_path_factory.mktemp("preempted") / "run"
  p = start_training(train_processes, model_dir, LONG, step_delay=0.03)
  wait_for_step(model_dir, 12, p)
  seen = last_step(model_dir)
  p.terminate()  # SIGTERM, as a scheduler sends it
  return model_dir, seen, finish(p, 60)


def test_sigterm_saves_the_current_step_and_exits_75(preempted):
  model_dir, seen, code = preempted
  log = log_of(model_dir)
  assert code == PREEMPTED_EXIT_CODE, log
  assert "SIGTERM received" in log
  step = int(re.search(r"preempted; checkpoint of step (\d+) saved",
                       log).group(1))
  # Saved at the step boundary after the signal, not at a periodic save.
  assert seen <= step <= seen + 5 and step % 10, (seen, step)
  assert _steps(model_dir)[-1] == step
  step_dir = model_dir / "checkpoints" / str(step)
  assert checkpoint_manifest.exists(step_dir)
  assert checkpoint_manifest.problem(step_dir) is None
  assert last_step(model_dir) == step
  assert not (model_dir / "results.json").exists()


def test_resume_after_preemption_finishes(preempted, train_processes,
                                          tmp_path):
  model_dir = _copy(preempted[0], tmp_path)
  step = _steps(model_dir)[-1]
  code, log = train(train_processes, model_dir, LONG)
  assert code == 0, log
  assert f"resuming from step {step}" in log
  assert [r["step"] for r in train_records(model_dir)] == list(range(1, 121))
  assert (model_dir / "results.json").exists()


def _free_port():
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def test_preemption_through_jax_preemption_service(train_processes,
                                                   tmp_path):
  """With jax.distributed (pods) the notice goes through JAX's preemption
  sync point, so every host saves the same step."""
  model_dir = tmp_path / "run"
  p = start_training(train_processes, model_dir, LONG, step_delay=0.03,
                     distributed_port=_free_port())
  wait_for_step(model_dir, 3, p)
  p.terminate()
  code = finish(p, 60)
  log = log_of(model_dir)
  assert code == PREEMPTED_EXIT_CODE, log
  assert "preemption notice: all processes stop at step" in log
  step = int(re.search(r"checkpoint of step (\d+) saved", log).group(1))
  assert checkpoint_manifest.problem(
      model_dir / "checkpoints" / str(step)) is None


def test_truncated_latest_checkpoint_falls_back_to_previous(
    preempted, train_processes, tmp_path):
  model_dir = _copy(preempted[0], tmp_path)
  previous, latest = _steps(model_dir)[-2:]
  latest_dir = model_dir / "checkpoints" / str(latest)
  files = _files(latest_dir)
  biggest = max((f for f in files if f.startswith("params.encoder")),
                key=files.get)
  with open(latest_dir / biggest, "r+b") as f:
    f.truncate(files[biggest] // 2)  # as a full disk or a bad copy leaves it
  damaged = _files(latest_dir)
  code, log = train(train_processes, model_dir, LONG)
  assert code == 0, log
  assert (f"warning: checkpoint step {latest} in {model_dir}/checkpoints "
          f"is damaged (file {biggest} has") in log
  assert f"resuming from step {previous}" in log
  # Moved aside whole, never deleted.
  assert _files(model_dir / "checkpoints_corrupt" / str(latest)) == damaged


def test_changed_model_shape_is_refused_and_nothing_changes(preempted,
                                                            tmp_path):
  from xferjax.models.encoder import EncoderConfig
  from xferjax.train.trainer import TrainRun, run_training
  model_dir = _copy(preempted[0], tmp_path)
  before = _files(model_dir)
  run = TrainRun(model_dir=str(model_dir), **{**resumable_run.BASE, **LONG})
  bigger = EncoderConfig(**{**resumable_run.TINY, "d_model": 32})
  with pytest.raises(errors.ConfigError, match=r"different model \(differs "
                     r"in: d_model\)") as e:
    run_training(run, bigger)
  assert "nothing was changed on disk" in e.value.fix
  assert _files(model_dir) == before


def test_unwritable_model_dir_fails_before_training(tmp_path):
  from xferjax.models.encoder import EncoderConfig
  from xferjax.train.trainer import TrainRun, run_training
  blocker = tmp_path / "a_file"
  blocker.write_text("not a directory")
  run = TrainRun(model_dir=str(blocker / "run"), **resumable_run.BASE)
  with pytest.raises(errors.CheckpointError,
                     match="cannot write to the run directory") as e:
    run_training(run, EncoderConfig(**resumable_run.TINY))
  assert "MODEL_DIR" in e.value.fix
  assert blocker.read_text() == "not a directory"


def test_disk_full_mid_run_keeps_last_checkpoint(train_processes, tmp_path):
  model_dir = tmp_path / "run"
  full = {**LONG, "log_every": 100, "async_checkpoints": False}
  # From batch 15 on no file may grow past 16 KiB: the step-20 save's
  # array files do not fit.
  code, log = train(train_processes, model_dir, full,
                    fsize_limit=(15, 16384))
  assert code == 2, log
  # Orbax's writer threads print their failures around ours; our message
  # is one write, the fix right under it.
  assert re.search(
      r"^xferjax: error: the disk is full \(File too large\): writing "
      r"checkpoint step 20 failed .*\n  fix: free space or move MODEL_DIR"
      r".*: the last good checkpoint is step 10 in "
      + re.escape(f"{model_dir}/checkpoints") + "\n", log, re.M), log
  assert _steps(model_dir) == [10]
  assert checkpoint_manifest.problem(model_dir / "checkpoints" / "10") is None
  assert not (model_dir / "results.json").exists()
  code, log = train(train_processes, model_dir, full)  # space again
  assert code == 0, log
  assert "resuming from step 10" in log


def test_nan_stops_naming_step_and_last_good_checkpoint(train_processes,
                                                        tmp_path):
  model_dir = tmp_path / "run"
  # Batch 6 is the 7th update: step 7.
  code, log = train(train_processes, model_dir, SHORT, nan_batches=[6])
  assert code == 2, log
  assert "non-finite loss or gradient at step 7" in log
  assert "The last good checkpoint is step 6" in log
  assert "nonfinite_policy='skip'" in log
  assert _steps(model_dir) == [3, 6]
  step_dir = model_dir / "checkpoints" / "6"
  assert checkpoint_manifest.problem(step_dir) is None
  for leaf in jax.tree.leaves(_restored_params(step_dir)):
    assert np.all(np.isfinite(leaf))
  assert not (model_dir / "results.json").exists()


def test_nan_skip_policy_counts_and_stops_past_the_limit(train_processes,
                                                         tmp_path):
  import json
  skip = {**SHORT, "nonfinite_policy": "skip", "max_skipped_steps": 2}
  code, log = train(train_processes, tmp_path / "ok", skip,
                    nan_batches=[2, 8])
  assert code == 0, log
  with open(tmp_path / "ok" / "results.json") as f:
    assert json.load(f)["skipped_steps"] == 2
  records = train_records(tmp_path / "ok")
  assert [r["skipped_steps"] for r in records][2:4] == [1, 1]
  assert records[-1]["skipped_steps"] == 2
  # A skipped step logs no loss (its interval had no finite step).
  assert [r["step"] for r in records if "loss" not in r] == [3, 9]
  assert all(np.isfinite(r["loss"]) for r in records if "loss" in r)

  code, log = train(train_processes, tmp_path / "over", skip,
                    nan_batches=[2, 5, 8])
  assert code == 2, log
  assert ("3 steps had a non-finite loss or gradient (the last at step 9, "
          "more than max_skipped_steps=2)") in log
