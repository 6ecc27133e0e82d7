"""Preemption: SIGTERM or a TPU maintenance notice -> save, then exit 75.

Schedulers (Kubernetes, SLURM, TPU VMs) announce an eviction with SIGTERM
and a grace period. The run must not die mid-step: the handler only sets a
flag, the trainer sees it at the next step boundary, saves a checkpoint of
exactly that step, waits for it to be complete and raises `PreemptedError`.
The CLI exits with `PREEMPTED_EXIT_CODE` (75, EX_TEMPFAIL: "try again
later"), distinct from a crash (1), a user error (2) and an unhandled
SIGTERM (143), so a launcher can simply re-run the same command, which
resumes from that checkpoint.

On several processes a signal reaches the hosts at different steps, so the
decision is JAX's preemption sync point (`jax.distributed` installs its own
SIGTERM notifier and agrees on one step for all hosts); the Python handler
is only installed for single-process runs.
"""

from __future__ import annotations

import signal
import sys
import threading

import jax
from jax.experimental import multihost_utils

from xferjax import errors

PREEMPTED_EXIT_CODE = 75


class PreemptedError(errors.XferjaxError):
  """Training stopped for a preemption after saving a checkpoint."""

  exit_code = PREEMPTED_EXIT_CODE


class PreemptionWatcher:
  """Context manager; `requested(step)` is True once training should stop."""

  def __init__(self):
    self._signalled = threading.Event()
    self._previous = None
    self._installed = False

  def __enter__(self):
    if (jax.process_count() == 1
        and threading.current_thread() is threading.main_thread()):
      self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)
      self._installed = True
    return self

  def __exit__(self, *exc):
    if self._installed:
      signal.signal(signal.SIGTERM, self._previous)
      self._installed = False
    return False

  def _on_sigterm(self, signum, frame):
    del signum, frame
    if not self._signalled.is_set():
      print("[xferjax] SIGTERM received: saving a checkpoint at the next "
            "step boundary, then exiting", file=sys.stderr, flush=True)
    self._signalled.set()

  def requested(self, step: int) -> bool:
    """Checked at every step boundary (all processes, same step ids)."""
    if jax.process_count() > 1:
      return multihost_utils.reached_preemption_sync_point(step)
    return self._signalled.is_set()
