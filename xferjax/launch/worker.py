"""The worker side of a launch: join the job's cluster before jax starts.

`xferjax train|eval|study` call `join_cluster` first thing (from
`xferjax.cli`), because `jax.distributed.initialize` must run before any
jax call starts a backend. The coordinates come from the environment
(`xferjax.distributed.resolve`: `XFERJAX_*` set by `launch local`, SLURM's
variables, or a Cloud TPU VM slice). A process of a multi-host job then
says, on stderr, which host of how many it is, so every log names its host.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Sequence

from xferjax.launch.job import WORKER_COMMANDS


def join_cluster(argv: Sequence[str]):
  """Initialises jax.distributed for a worker command; returns the Cluster
  (None for other commands, which never join one)."""
  if not argv or argv[0] not in WORKER_COMMANDS:
    return None
  from xferjax import distributed
  cluster = distributed.initialize()
  if cluster.multi_process:
    import jax
    print(f"[xferjax] host {jax.process_index()} of {jax.process_count()} "
          f"({socket.gethostname()}, pid {os.getpid()}), joined via "
          f"{cluster.source}: {jax.local_device_count()} local of "
          f"{jax.device_count()} {jax.default_backend()} devices",
          file=sys.stderr, flush=True)
  return cluster
