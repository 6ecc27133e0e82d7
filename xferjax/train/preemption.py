"""Preemption: SIGTERM or a scheduler's notice -> save, then exit 75.

Schedulers (Kubernetes/GKE, SLURM, spot and maintenance-evicted TPU and GCE
VMs, whose shutdown reaches the workload as SIGTERM) announce an eviction
and give a grace period. The run must not die mid-step: the notice only sets
a flag, the trainer sees it at the next step boundary, saves a checkpoint of
exactly that step, waits for it to be complete and raises `PreemptedError`.
The CLI exits with `PREEMPTED_EXIT_CODE` (75, EX_TEMPFAIL: "try again
later"), distinct from a crash (1), a user error (2) and an unhandled
SIGTERM (143), so a launcher can simply re-run the same command, which
resumes from that checkpoint.

Where the notice comes from (`PreemptionWatcher.source`):
- `jax.distributed` is initialised (pods, multi-host, or one host started
  with it): JAX's preemption service. Its notifier catches SIGTERM on any
  host and the hosts agree on one safe step
  (`multihost_utils.reached_preemption_sync_point`, polled every step), so
  all of them save the same step. No Python handler is installed: it would
  replace the service's own.
- one process without it: a Python SIGTERM handler.
- several processes with the preemption service disabled
  (`jax_enable_preemption_service=False`): the Python handler on each host,
  and every `sync_every` steps the hosts all-gather their flags, so they stop
  at the same step (a signal that lands on one host only is still seen).
"""

from __future__ import annotations

import signal
import sys
import threading

import jax
import numpy as np
from jax._src import distributed
from jax.experimental import multihost_utils

from xferjax import errors

PREEMPTED_EXIT_CODE = 75


class PreemptedError(errors.XferjaxError):
  """Training stopped for a preemption after saving a checkpoint."""

  exit_code = PREEMPTED_EXIT_CODE


def _sync_manager_available() -> bool:
  state = distributed.global_state
  return (state.client is not None and
          getattr(state, "preemption_sync_manager", None) is not None)


class PreemptionWatcher:
  """Context manager; `requested(step)` is True once training should stop.

  Call `requested` at every step boundary, on every process, with the same
  step ids (the preemption service's protocol needs every step)."""

  def __init__(self, sync_every: int = 10):
    self.sync_every = sync_every
    self._signalled = threading.Event()
    self._previous = None
    self._installed = False
    if _sync_manager_available():
      self.source = "jax_preemption_service"
    elif jax.process_count() == 1:
      self.source = "sigterm"
    else:
      self.source = "sigterm_allgather"

  def __enter__(self):
    if (self.source != "jax_preemption_service"
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
    """True at the step boundary where every process should save and stop."""
    if self.source == "jax_preemption_service":
      if multihost_utils.reached_preemption_sync_point(step):
        print(f"[xferjax] preemption notice: all processes stop at step "
              f"{step}", file=sys.stderr, flush=True)
        return True
      return False
    if self.source == "sigterm":
      return self._signalled.is_set()
    if step % self.sync_every:
      return False
    flags = multihost_utils.process_allgather(
        np.asarray(self._signalled.is_set()))
    return bool(np.any(flags))
