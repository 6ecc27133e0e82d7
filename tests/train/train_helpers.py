"""Helpers for the trainer tests: training processes and metrics files.

(Not a conftest.py: `from conftest import ...` must keep meaning
tests/conftest.py; test modules import the fixture from here.)
"""

import json
import multiprocessing
import os
import threading
import time

import pytest


@pytest.fixture(scope="session")
def train_processes(tmp_path_factory):
  """A forkserver context whose children train (`resumable_run.child`).

  The server imports TensorFlow, seqio and xferjax once; every child it
  forks shares one persistent JAX compilation cache, so a restarted
  training process costs about two seconds instead of twenty."""
  cache = tmp_path_factory.mktemp("jax_cache")
  env = {"JAX_COMPILATION_CACHE_DIR": str(cache),
         "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
         "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
  saved = {k: os.environ.get(k) for k in env}
  os.environ.update(env)
  ctx = multiprocessing.get_context("forkserver")
  ctx.set_forkserver_preload(["xferjax_tasks", "xferjax.train.trainer"])
  from multiprocessing import forkserver
  forkserver.ensure_running()
  for k, v in saved.items():
    if v is None:
      os.environ.pop(k)
    else:
      os.environ[k] = v
  return ctx


def train_records(model_dir) -> list[dict]:
  from xferjax.train.metrics import read_records
  return [r for r in read_records(str(model_dir)) if r["split"] == "train"]


def losses_by_step(model_dir) -> dict[int, float]:
  return {r["step"]: r["loss"] for r in train_records(model_dir)}


def last_step(model_dir) -> int:
  records = train_records(model_dir)
  return records[-1]["step"] if records else 0


def wait_for_step(model_dir, step: int, process, timeout: float = 120):
  """Polls metrics.jsonl until `step` is logged (or the process ends)."""
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    if last_step(model_dir) >= step or not process.is_alive():
      return last_step(model_dir)
    time.sleep(0.005)
  raise AssertionError(f"step {step} not reached in {timeout}s")


def read_json_lines(path):
  with open(path) as f:
    return [json.loads(l) for l in f if l.strip()]


def start_training(ctx, model_dir, overrides, **hooks):
  """Starts `resumable_run.child` for `model_dir`. Its output comes through
  a pipe (a child that fills its disk on purpose cannot write a log file)
  and lands in `<model_dir>.log` (see `log_of`, `finish`)."""
  import resumable_run
  read_end, write_end = ctx.Pipe(duplex=False)
  p = ctx.Process(target=resumable_run.child,
                  args=(write_end, str(model_dir), overrides), kwargs=hooks)
  p.start()
  write_end.close()
  log_path = f"{model_dir}.log"

  def drain():
    with open(log_path, "ab") as f:
      while True:
        try:
          f.write(read_end.recv_bytes())
        except EOFError:
          return
        f.flush()

  p.log_thread = threading.Thread(target=drain, daemon=True)
  p.log_thread.start()
  return p


def finish(p, timeout=180):
  """Waits for a training child and for its last output."""
  p.join(timeout)
  assert p.exitcode is not None, f"training did not end in {timeout}s"
  p.log_thread.join(30)
  return p.exitcode


def train(ctx, model_dir, overrides, timeout=180, **hooks):
  """Runs a training child to its end; returns (exit code, its output)."""
  p = start_training(ctx, model_dir, overrides, **hooks)
  return finish(p, timeout), log_of(model_dir)


def log_of(model_dir) -> str:
  path = f"{model_dir}.log"
  if not os.path.exists(path):
    return ""
  with open(path) as f:
    return f.read()


@pytest.fixture(autouse=True)
def clean_gin():
  """No gin bindings left by an earlier in-process `cli.main` (e.g.
  EncoderConfig.dtype) leak into configs this module builds, nor out."""
  import gin
  gin.clear_config()
  yield
  gin.clear_config()
