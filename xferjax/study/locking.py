"""Cross-process locks for run directories.

`xferjax study --cell K` may run in several processes at once (a SLURM array,
a pod job queue). Cells share phases (a model's pretraining), so each phase
is trained under an exclusive `flock` on `<run_dir>.lock`: a second process
that needs the same phase waits, then finds it finished and skips it.
Locks are released by the kernel when a process dies, so a killed cell never
leaves a stale lock behind.

The processes of one multi-host job are one user of a directory (they train
it together): process 0 holds the lock for all of them and the others wait
for it at a barrier. Each taking the lock itself would deadlock, since
process 0 cannot train without the others.
"""

from __future__ import annotations

import contextlib
import fcntl
import os


@contextlib.contextmanager
def run_dir_lock(run_dir: str):
  path = os.path.abspath(run_dir).rstrip(os.sep) + ".lock"
  os.makedirs(os.path.dirname(path), exist_ok=True)
  import jax
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils
    with (_flock(path) if jax.process_index() == 0 else
          contextlib.nullcontext()):
      multihost_utils.sync_global_devices(f"xferjax lock {path}")
      yield
      multihost_utils.sync_global_devices(f"xferjax unlock {path}")
    return
  with _flock(path):
    yield


@contextlib.contextmanager
def _flock(path: str):
  with open(path, "a") as handle:
    fcntl.flock(handle, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(handle, fcntl.LOCK_UN)
