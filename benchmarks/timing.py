"""Fair timing of two frameworks in one process: threads, alternation, memory.

- `pin_threads(n)` (call before jax is imported) gives both frameworks the
  same n cores: the process's CPU affinity (XLA sizes its intra-op thread
  pool from it; there is no XLA flag that sets it reliably) and
  `torch.set_num_threads(n)` with one inter-op thread.
- `alternate(contenders, ...)` runs the contenders' steps round-robin after
  warm-up, rotating who goes first in each round, so a burst of load from
  other processes on a shared machine hits each of them alike and their
  ratio stays fair even when absolute times do not.
- Peak memory of a step: the process's peak resident set (VmHWM, reset with
  /proc/self/clear_refs before the step) minus the resident set before it,
  i.e. what the step itself adds on top of the state both keep resident.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
import statistics
import time
from typing import Callable


def pin_threads(n: int | None) -> int:
  """Restricts this process to n cores (default: all it may use)."""
  cores = sorted(os.sched_getaffinity(0))
  n = len(cores) if not n else min(n, len(cores))
  os.sched_setaffinity(0, cores[:n])
  try:
    import torch
    torch.set_num_threads(n)
    torch.set_num_interop_threads(1)
  except ImportError:
    pass
  return n


def _status_kib(key: str) -> int:
  with open("/proc/self/status") as f:
    for line in f:
      if line.startswith(key + ":"):
        return int(line.split()[1])
  return 0


def rss_bytes() -> int:
  return _status_kib("VmRSS") * 1024


def reset_peak() -> bool:
  try:
    with open("/proc/self/clear_refs", "w") as f:
      f.write("5")
    return True
  except OSError:
    return False


def peak_bytes() -> int:
  return _status_kib("VmHWM") * 1024


def step_memory(fn: Callable[[], object]) -> dict[str, int]:
  """Peak resident memory one call of `fn` adds (bytes), and the peak."""
  before = rss_bytes()
  if not reset_peak():
    return {}
  fn()
  peak = peak_bytes()
  return {"step_peak_above_resident": max(peak - before, 0),
          "process_peak": peak, "resident_before": before}


@dataclasses.dataclass
class Timings:
  seconds: list[float]

  @property
  def median(self) -> float:
    return statistics.median(self.seconds)

  @property
  def spread(self) -> tuple[float, float]:
    return min(self.seconds), max(self.seconds)

  def as_dict(self) -> dict:
    lo, hi = self.spread
    return {"median_s": self.median, "min_s": lo, "max_s": hi,
            "all_s": self.seconds}


def alternate(contenders: dict[str, Callable[[], object]], *, warmup: int,
              repeats: int, log: Callable[[str], None] = print
              ) -> dict[str, Timings]:
  """Round-robin timing; each round starts with the next contender."""
  names = list(contenders)
  for _ in range(warmup):
    for name in names:
      contenders[name]()
  times = {name: [] for name in names}
  for r in range(repeats):
    order = names[r % len(names):] + names[:r % len(names)]
    for name in order:
      start = time.perf_counter()
      contenders[name]()
      times[name].append(time.perf_counter() - start)
    log("    round %d: %s (load %.2f)" % (r + 1, ", ".join(
        f"{n} {times[n][-1]:.3f}s" for n in names), os.getloadavg()[0]))
  return {name: Timings(t) for name, t in times.items()}


def machine() -> dict:
  """What the numbers were measured on."""
  model = platform.processor() or platform.machine()
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          model = line.split(":", 1)[1].strip()
          break
  except OSError:
    pass
  ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
  versions = {}
  for mod in ("jax", "jaxlib", "flax", "optax", "torch", "transformers",
              "numpy"):
    try:
      versions[mod] = __import__(mod).__version__
    except ImportError:
      versions[mod] = None
  return {"cpu": model, "cores_online": os.cpu_count(),
          "cores_used": len(os.sched_getaffinity(0)),
          "ram_gib": round(ram / 2 ** 30, 1),
          "python": platform.python_version(), "versions": versions,
          "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime(
              "%Y-%m-%d %H:%M UTC")}


def save_json(report: dict, path: str, echo: bool = False) -> None:
  """Writes a benchmark's report to `path` (if given); prints it if `echo`."""
  if echo:
    print(json.dumps(report, indent=1))
  if path:
    with open(path, "w") as f:
      json.dump(report, f, indent=1)
