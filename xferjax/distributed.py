"""Multi-host start-up: `jax.distributed.initialize` from the environment.

Every process of a multi-host job must call `initialize()` before anything
else touches jax. Where the coordinator comes from, first match wins:

  explicit   arguments (gin: `initialize.coordinator_address = 'host:port'`,
             `initialize.num_processes`, `initialize.process_id`), or the
             environment `XFERJAX_COORDINATOR_ADDRESS`,
             `XFERJAX_NUM_PROCESSES`, `XFERJAX_PROCESS_ID` (what `launch
             local` and custom launchers set)
  slurm      `SLURM_JOB_ID` with more than one task (`SLURM_NTASKS`): the
             first host of `SLURM_STEP_NODELIST`/`SLURM_JOB_NODELIST` on
             `XFERJAX_COORDINATOR_PORT` (default 8476), process id
             `SLURM_PROCID`
  tpu_vm     a multi-host Cloud TPU VM slice (`TPU_WORKER_HOSTNAMES` with
             several hosts, or `TPU_ACCELERATOR_TYPE` set): jax reads the
             coordinator from the TPU metadata itself
  single     none of these: one process, nothing to initialise

`resolve(env)` is the pure decision (tested without a cluster);
`initialize()` acts on it once per process.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Mapping

import gin

from xferjax import errors

DEFAULT_PORT = 8476
ENV_PREFIX = "XFERJAX_"


@dataclasses.dataclass(frozen=True)
class Cluster:
  source: str  # explicit | slurm | tpu_vm | single
  coordinator_address: str | None = None
  num_processes: int | None = None
  process_id: int | None = None

  @property
  def multi_process(self) -> bool:
    return self.source != "single"


def _int(env: Mapping[str, str], name: str) -> int | None:
  value = env.get(name)
  if value in (None, ""):
    return None
  try:
    return int(value)
  except ValueError:
    raise errors.ConfigError(f"{name}={value!r} is not an integer",
                             f"set {name} to a whole number") from None


def first_host(nodelist: str) -> str:
  """'node[03-05,9],gpu1' -> 'node03' (SLURM's compressed host lists)."""
  match = re.match(r"([^,\[]+)(?:\[([^\]]+)\])?", nodelist.strip())
  if not match:
    raise errors.ConfigError(f"cannot read SLURM node list {nodelist!r}",
                             "set XFERJAX_COORDINATOR_ADDRESS=host:port")
  prefix, ranges = match.groups()
  if not ranges:
    return prefix
  return prefix + ranges.split(",")[0].split("-")[0]


def resolve(env: Mapping[str, str] | None = None,
            coordinator_address: str | None = None,
            num_processes: int | None = None,
            process_id: int | None = None) -> Cluster:
  """Which kind of job this process belongs to, and its coordinates."""
  env = os.environ if env is None else env
  explicit = {
      "coordinator_address": coordinator_address or env.get(
          ENV_PREFIX + "COORDINATOR_ADDRESS") or None,
      "num_processes": num_processes if num_processes is not None else
                       _int(env, ENV_PREFIX + "NUM_PROCESSES"),
      "process_id": process_id if process_id is not None else
                    _int(env, ENV_PREFIX + "PROCESS_ID"),
  }
  given = [k for k, v in explicit.items() if v is not None]
  if given:
    missing = [k for k, v in explicit.items() if v is None]
    if missing:
      raise errors.ConfigError(
          f"multi-host settings {given} are set but {missing} are not",
          "set all three (initialize.<name> in gin, or "
          "XFERJAX_COORDINATOR_ADDRESS / XFERJAX_NUM_PROCESSES / "
          "XFERJAX_PROCESS_ID), or none")
    _check(explicit["num_processes"], explicit["process_id"])
    if ":" not in explicit["coordinator_address"]:
      raise errors.ConfigError(
          f"coordinator address {explicit['coordinator_address']!r} has no "
          "port", "write it as host:port, e.g. 10.0.0.2:8476")
    return Cluster("explicit", **explicit)
  if env.get("SLURM_JOB_ID") and (_int(env, "SLURM_NTASKS") or 1) > 1:
    nodes = env.get("SLURM_STEP_NODELIST") or env.get("SLURM_JOB_NODELIST")
    if not nodes:
      raise errors.ConfigError("SLURM job without SLURM_JOB_NODELIST",
                               "run under srun, or set the XFERJAX_* "
                               "coordinator variables")
    port = _int(env, ENV_PREFIX + "COORDINATOR_PORT") or DEFAULT_PORT
    n, i = _int(env, "SLURM_NTASKS"), _int(env, "SLURM_PROCID")
    if i is None:
      raise errors.ConfigError("SLURM job without SLURM_PROCID",
                               "start one task per host with srun")
    _check(n, i)
    return Cluster("slurm", f"{first_host(nodes)}:{port}", n, i)
  hosts = [h for h in env.get("TPU_WORKER_HOSTNAMES", "").split(",") if h]
  if len(hosts) > 1 or (not hosts and env.get("TPU_ACCELERATOR_TYPE") and
                        env.get("TPU_WORKER_ID") not in (None, "")):
    return Cluster("tpu_vm")
  return Cluster("single")


def _check(num_processes: int, process_id: int) -> None:
  if num_processes < 1 or not 0 <= process_id < num_processes:
    raise errors.ConfigError(
        f"process id {process_id} is not in 0..{num_processes - 1} "
        f"(num_processes {num_processes})",
        "give each process a distinct id below the process count")


@gin.configurable
def initialize(coordinator_address: str | None = None,
               num_processes: int | None = None,
               process_id: int | None = None,
               local_device_ids: tuple[int, ...] | None = None) -> Cluster:
  """Initialises jax.distributed as the environment says; idempotent."""
  import jax
  cluster = resolve(None, coordinator_address, num_processes, process_id)
  if not cluster.multi_process or jax.distributed.is_initialized():
    return cluster
  kwargs = {}
  if cluster.source != "tpu_vm":
    kwargs = dict(coordinator_address=cluster.coordinator_address,
                  num_processes=cluster.num_processes,
                  process_id=cluster.process_id)
  if local_device_ids is not None:
    kwargs["local_device_ids"] = list(local_device_ids)
  jax.distributed.initialize(**kwargs)
  return cluster
