"""`xferjax launch local`: 2 processes x 2 CPU devices train like 1 process
x 4 (same losses; every process writes its checkpoint shards, process 0 the
results), a failing process stops the others, and the processes of one job
share a study phase's lock instead of deadlocking on it."""

import fcntl
import io
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np

from conftest import REPO, XFERJAX
from xferjax.launch import local

HERE = os.path.dirname(os.path.abspath(__file__))


def _train(model_dir, processes, devices):
  """`xferjax launch local ... -- train` (tiny, 4 steps) as a subprocess."""
  args = [
      XFERJAX, "launch", "local", f"--num_processes={processes}",
      f"--devices_per_process={devices}", "--timeout=500", "--", "train",
      "--gin_file=models/tiny.gin", "--gin_file=runs/finetune.gin",
      f"--gin.MODEL_DIR='{model_dir}'",
      "--gin.TASK='synthetic_entailment_n500'",
      "--gin.TASK_FEATURE_LENGTHS={'text_a': 14, 'text_b': 7}",
      "--gin.TrainRun.num_steps=4", "--gin.TrainRun.batch_size=8",
      "--gin.TrainRun.log_every=1", "--gin.TrainRun.checkpoint_every=2",
      "--gin.TrainRun.warmup_steps=0", "--gin.EncoderConfig.d_model=32",
      "--gin.EncoderConfig.num_layers=1", "--gin.EncoderConfig.num_heads=2",
      "--gin.EncoderConfig.d_ff=64",
      # fsdp over every device: parameters and batches split across hosts.
      "--gin.create_partitioner.data=1", "--gin.create_partitioner.fsdp=4",
      "--gin.create_partitioner.rules=%xferjax.partitioning.FSDP_RULES"]
  return subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)


def _losses(model_dir):
  with open(os.path.join(model_dir, "metrics.jsonl")) as f:
    return [r["loss"] for r in map(json.loads, f) if r["split"] == "train"]


def test_two_processes_train_like_one_with_four_devices(tmp_path):
  two, one = tmp_path / "two", tmp_path / "one"
  procs = [_train(two, 2, 2), _train(one, 1, 4)]  # both at once: wall time
  outs = [p.communicate(timeout=600)[0] for p in procs]
  for p, out in zip(procs, outs):
    assert p.returncode == 0, out[-4000:]
  out = outs[0]
  assert "[xferjax launch] all 2 processes finished" in out
  for i in range(2):  # every log line names its process; each says its host
    assert f"[p{i}] [xferjax] host {i} of 2 (" in out
    assert f"joined via explicit: 2 local of 4 cpu devices" in out
  losses = _losses(two)
  assert len(losses) == 4 and len(set(np.round(losses, 5))) > 1
  np.testing.assert_allclose(losses, _losses(one), rtol=0, atol=1e-5)
  # Orbax: each process writes its own shards of every item.
  for step in ("2", "4"):
    item = two / "checkpoints" / step / "params.encoder"
    assert {p.name for p in item.glob("ocdbt.process_*")} == {
        "ocdbt.process_0", "ocdbt.process_1"}, step
  results = json.loads((two / "results.json").read_text())
  assert results["num_devices"] == 4 and results["final_step"] == 4


def _python(code):
  return [sys.executable, "-c", code]


def test_one_failing_process_stops_the_others():
  out = io.StringIO()
  start = time.monotonic()
  code = local.run_processes(
      [_python("import time; print('up', flush=True); time.sleep(120)"),
       _python("import sys, time; time.sleep(0.5); print('failing'); "
               "sys.exit(3)")],
      [dict(os.environ)] * 2, out, grace=2)
  assert code == 3
  assert time.monotonic() - start < 30  # the sleeper did not run to its end
  text = out.getvalue()
  assert "[p0] up" in text and "[p1] failing" in text
  assert "process 1 exited with code 3; stopping the others" in text
  assert "exit codes: [143, 3]" in text  # p0 ended by SIGTERM


class _Lines(io.StringIO):
  """Output that several threads write and the test reads."""

  def __init__(self):
    super().__init__()
    self.lock = threading.Lock()

  def write(self, s):
    with self.lock:
      return super().write(s)

  def text(self):
    with self.lock:
      return self.getvalue()


def test_processes_of_one_job_share_a_phase_lock(tmp_path):
  run_dir = tmp_path / "study" / "phase"
  lock_path = str(run_dir) + ".lock"
  os.makedirs(tmp_path / "study")
  port = local.free_port()
  envs = [local.process_env(i, 2, 1, port) for i in range(2)]
  argv = [sys.executable, os.path.join(HERE, "multihost_lock.py"),
          str(run_dir)]
  out, result = _Lines(), {}
  with open(lock_path, "a") as other_job:  # another job holds the phase
    fcntl.flock(other_job, fcntl.LOCK_EX)
    thread = threading.Thread(target=lambda: result.update(code=(
        local.run_processes([argv, argv], envs, out, grace=2, timeout=240))))
    thread.start()
    deadline = time.monotonic() + 200
    while out.text().count("WAITING") < 2 and time.monotonic() < deadline:
      time.sleep(0.2)
    time.sleep(1.0)
    assert "ENTERED" not in out.text()  # both wait for the other job
    released = time.time()
    fcntl.flock(other_job, fcntl.LOCK_UN)
  thread.join(timeout=260)
  assert result.get("code") == 0, out.text()
  entered = [json.loads(line.split("ENTERED ", 1)[1])
             for line in out.text().splitlines() if "ENTERED " in line]
  assert sorted(e["process"] for e in entered) == [0, 1]
  assert all(e["all"] == [0, 1] and e["entered"] >= released
             for e in entered)
