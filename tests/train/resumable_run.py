"""A tiny training run in a process of its own, for the kill/preempt tests.

`child(...)` is the target of a forkserver child (the server imports
TensorFlow, seqio and xferjax once, and all children share one persistent
compilation cache, so a restart costs about two seconds); `python
resumable_run.py MODEL_DIR JSON` runs it directly. Exits like the CLI:
0 done, 75 preempted, 2 a user error (non-finite loss, disk full, ...).

Test hooks (all off by default), applied inside the child only:
  step_delay        seconds slept per batch, so that a signal lands mid-run
  distributed_port  jax.distributed with one process: preemption goes
                    through JAX's preemption service
  nan_batches       batch indices whose loss is made NaN (token SENTINEL at
                    [0, 1]; the loss turns NaN wherever it appears)
  fsize_limit       (batch index, bytes): from that batch on, no file may
                    grow past `bytes` (RLIMIT_FSIZE; writes fail with EFBIG
                    "File too large", as on a full disk)
"""

import json
import os
import resource
import signal
import sys
import time

TINY = dict(vocab_size=256, d_model=16, num_layers=1, num_heads=2, d_ff=32,
            max_len=32, dropout_rate=0.1)
BASE = dict(task="synthetic_nli.en",
            task_feature_lengths={"text_a": 14, "text_b": 7}, batch_size=8,
            learning_rate=1e-3, log_every=1, checkpoint_every=3, seed=5)
SENTINEL = 255  # above every piece id of the synthetic vocabulary


def _hook_batches(pipeline, step_delay, nan_batches, fsize_limit):
  batch = pipeline.StepBatcher.batch

  def hooked(self, step):
    if step_delay:
      time.sleep(step_delay)
    if fsize_limit and step == fsize_limit[0]:
      signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
      resource.setrlimit(resource.RLIMIT_FSIZE,
                         (fsize_limit[1], resource.RLIM_INFINITY))
    out = batch(self, step)
    if step in nan_batches:
      out = dict(out, input_ids=out["input_ids"].copy())
      out["input_ids"][0, 1] = SENTINEL
    return out

  pipeline.StepBatcher.batch = hooked


def _nan_on_sentinel(steps):
  import jax.numpy as jnp
  make_loss_fn = steps.api.make_loss_fn

  def patched(model, **options):
    loss_fn = make_loss_fn(model, **options)

    def nan_loss(params, batch, rng=None):
      loss, metrics = loss_fn(params, batch, rng)
      poison = jnp.where(jnp.any(batch["input_ids"] == SENTINEL),
                         jnp.nan, 0.0)
      return loss + poison, {**metrics, "loss": metrics["loss"] + poison}

    return nan_loss

  steps.api.make_loss_fn = patched  # in this child process only


def run(model_dir: str, overrides: dict, step_delay: float = 0.0,
        distributed_port: int | None = None, nan_batches=(),
        fsize_limit=None) -> int:
  import jax
  if distributed_port:
    jax.distributed.initialize(
        coordinator_address=f"localhost:{distributed_port}",
        num_processes=1, process_id=0)
  import xferjax_tasks  # noqa: F401
  from xferjax import errors
  from xferjax.data import pipeline
  from xferjax.models.encoder import EncoderConfig
  from xferjax.train import steps
  from xferjax.train.trainer import TrainRun, run_training

  _hook_batches(pipeline, step_delay, set(nan_batches), fsize_limit)
  if nan_batches:
    _nan_on_sentinel(steps)
  train_run = TrainRun(model_dir=model_dir, **{**BASE, **overrides})
  try:
    results = run_training(train_run, EncoderConfig(**TINY))
  except errors.XferjaxError as e:
    from xferjax import cli
    cli.print_error(e)  # as `xferjax train` reports it
    return e.exit_code
  print(f"FINAL_STEP={results['final_step']}", flush=True)
  return 0


def child(connection, *args, **kwargs):
  """multiprocessing target: stdout and stderr go to `connection` (one
  message per write), the exit code is run()'s."""
  read_fd, write_fd = os.pipe()
  os.dup2(write_fd, 1)
  os.dup2(write_fd, 2)
  os.close(write_fd)

  def forward():
    while chunk := os.read(read_fd, 65536):
      connection.send_bytes(chunk)

  import threading
  thread = threading.Thread(target=forward, daemon=True)
  thread.start()
  code = run(*args, **kwargs)
  sys.stdout.flush()
  sys.stderr.flush()
  os.close(1)
  os.close(2)
  thread.join(10)
  connection.close()
  os._exit(code)


if __name__ == "__main__":
  sys.exit(run(sys.argv[1], json.loads(sys.argv[2])))
