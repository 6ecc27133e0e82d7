"""`xferjax launch local --num_processes N`: a multi-host job on one machine.

Each process gets its own fake CPU devices
(`--xla_force_host_platform_device_count`) and the coordinator's address on
a free local port (`XFERJAX_*`, read by `xferjax.distributed`), so the code
path is the pod's: jax.distributed, per-host data slices, process 0 writing
results, every process writing its checkpoint shards. Output lines are
prefixed with the process index. When one process fails the others are
stopped (SIGTERM, then SIGKILL after a grace period) and the launcher exits
with the failing process' code; a SIGTERM to the launcher is passed on to
every process (the trainer saves and exits 75, as on a preempted pod).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Sequence, TextIO

from xferjax import errors
from xferjax.launch import shell

CLUSTER_VARS = ("XFERJAX_COORDINATOR_ADDRESS", "XFERJAX_NUM_PROCESSES",
                "XFERJAX_PROCESS_ID", "JAX_NUM_CPU_DEVICES")
DEVICE_COUNT_FLAG = "--xla_force_host_platform_device_count"
TIMEOUT_EXIT_CODE = 124  # as coreutils' timeout


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def process_env(index: int, num_processes: int, devices: int, port: int,
                base: dict[str, str] | None = None) -> dict[str, str]:
  """The environment of process `index`: its devices and the coordinator;
  cluster variables of an enclosing SLURM or TPU job are dropped."""
  base = dict(os.environ if base is None else base)
  env = {k: v for k, v in base.items()
         if not k.startswith(("SLURM_", "TPU_")) and k not in CLUSTER_VARS}
  flags = [f for f in env.get("XLA_FLAGS", "").split()
           if not f.startswith(DEVICE_COUNT_FLAG)]
  env.update(JAX_PLATFORMS="cpu", JAX_NUM_CPU_DEVICES=str(devices),
             XLA_FLAGS=" ".join(flags + [f"{DEVICE_COUNT_FLAG}={devices}"]),
             PYTHONUNBUFFERED="1")
  if num_processes > 1:
    env.update(XFERJAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}",
               XFERJAX_NUM_PROCESSES=str(num_processes),
               XFERJAX_PROCESS_ID=str(index))
  return env


def _exit_code(returncode: int) -> int:
  return 128 - returncode if returncode < 0 else returncode


class _Group:
  """Started processes, their prefixed output, and stopping them."""

  def __init__(self, out: TextIO):
    self.out = out
    self.procs: list[subprocess.Popen] = []
    self._threads: list[threading.Thread] = []
    self._lock = threading.Lock()

  def start(self, argv: Sequence[str], env: dict[str, str]) -> None:
    index = len(self.procs)
    proc = subprocess.Popen(list(argv), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            errors="replace")
    self.procs.append(proc)
    thread = threading.Thread(target=self._pump, args=(index, proc),
                              daemon=True)
    thread.start()
    self._threads.append(thread)

  def _pump(self, index: int, proc: subprocess.Popen) -> None:
    for line in proc.stdout:
      with self._lock:
        self.out.write(f"[p{index}] {line.rstrip()}\n")
        self.out.flush()

  def say(self, text: str) -> None:
    with self._lock:
      self.out.write(f"[xferjax launch] {text}\n")
      self.out.flush()

  def signal_all(self, sig: int) -> None:
    for proc in self.procs:
      if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
          proc.send_signal(sig)

  def stop(self, grace: float) -> None:
    """SIGTERM to every running process, SIGKILL after `grace` seconds."""
    self.signal_all(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(
        p.poll() is None for p in self.procs):
      time.sleep(0.1)
    self.signal_all(signal.SIGKILL)
    for proc in self.procs:
      proc.wait()

  def drain(self) -> None:
    for thread in self._threads:
      thread.join(timeout=5)


def run_processes(commands: Sequence[Sequence[str]],
                  envs: Sequence[dict[str, str]], out: TextIO | None = None,
                  grace: float = 10.0, timeout: float | None = None) -> int:
  """Runs one process per command; 0 if all succeed, else the code of the
  first that failed (the others are stopped). Past `timeout` seconds all
  are stopped and the result is TIMEOUT_EXIT_CODE."""
  group = _Group(out or sys.stdout)
  forwarded = []

  def forward(signum, frame):  # a preemption notice: pass it on
    forwarded.append(signum)
    group.say(f"got signal {signum}; passing it to every process")
    group.signal_all(signum)

  in_main = threading.current_thread() is threading.main_thread()
  previous = signal.signal(signal.SIGTERM, forward) if in_main else None
  try:
    for argv, env in zip(commands, envs):
      group.start(argv, env)
    failed = None
    deadline = None if timeout is None else time.monotonic() + timeout
    while failed is None and any(p.poll() is None for p in group.procs):
      for i, proc in enumerate(group.procs):
        if proc.poll() not in (None, 0):
          failed = i
          break
      if deadline is not None and time.monotonic() > deadline:
        group.say(f"still running after {timeout:g} s; stopping every "
                  "process")
        group.stop(grace)
        return TIMEOUT_EXIT_CODE
      time.sleep(0.05)
    if failed is None:
      failed = next((i for i, p in enumerate(group.procs) if p.returncode),
                    None)
    if failed is not None and any(p.poll() is None for p in group.procs):
      group.say(f"process {failed} exited with code "
                f"{_exit_code(group.procs[failed].returncode)}; stopping "
                "the others")
      group.stop(grace)
  except BaseException:
    group.stop(grace)
    raise
  finally:
    if in_main:
      signal.signal(signal.SIGTERM, previous)
    group.drain()
  codes = [_exit_code(p.returncode) for p in group.procs]
  if failed is None:
    group.say(f"all {len(codes)} processes finished")
    return 0
  group.say(f"exit codes: {codes}")
  return codes[failed]


def launch(job, num_processes: int, devices_per_process: int,
           port: int | None, runner: shell.Runner, grace: float,
           timeout: float | None = None) -> int:
  """Runs `job` (a checked `launch.job.Job`) as `num_processes` processes."""
  if num_processes < 1 or devices_per_process < 1:
    raise errors.ConfigError(
        f"--num_processes {num_processes} and --devices_per_process "
        f"{devices_per_process} must be at least 1", "e.g. --num_processes "
        "2 --devices_per_process 2")
  port = port or free_port()
  argv = [sys.executable, "-m", "xferjax.cli", *job.argv()]
  envs = [process_env(i, num_processes, devices_per_process, port)
          for i in range(num_processes)]
  runner.say(f"# {num_processes} processes x {devices_per_process} CPU "
             f"devices, coordinator 127.0.0.1:{port}")
  if runner.dry_run:
    for i, env in enumerate(envs):
      shown = {k: env[k] for k in ("JAX_PLATFORMS", "XLA_FLAGS",
                                   *CLUSTER_VARS) if k in env}
      runner.say(f"# process {i}\n" + " ".join(
          f"{k}={shlex.quote(v)}" for k, v in shown.items()) + " " +
          shlex.join(argv))
    return 0
  return run_processes([argv] * num_processes, envs, runner.out, grace,
                       timeout)
