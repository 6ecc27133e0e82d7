"""`xferjax plan`: per-device memory and FLOPs of a model's train step on a
topology, compiled for fake CPU devices (nothing is allocated)."""

from __future__ import annotations

import dataclasses
import json
import os
import sys

from xferjax import errors
from xferjax.commands import gin_flags

HELP = ("memory and FLOPs per device of a model's sharded train step on a "
        "TPU/GPU topology, without the hardware")
TOPOLOGY_DIR = "topologies"


def add_arguments(parser):
  gin_flags.add_arguments(parser)
  parser.add_argument("--topology", required=True,
                      help="a file in gin_configs/topologies/ (e.g. v4-128, "
                      "v5e-16, v5p-64, gpu-8xh100) or a gin file path")
  parser.add_argument("--json", action="store_true",
                      help="print the report as JSON")
  for name, kind in (("batch_size", int), ("length", int),
                     ("target_length", int), ("grad_accum_steps", int),
                     ("head", str), ("optimizer", str)):
    parser.add_argument(f"--{name}", type=kind, default=None,
                        help=f"override PlanSettings.{name}")


def topology_file(name: str) -> str:
  from xferjax import config
  if os.path.isfile(name):
    return os.path.abspath(name)
  directory = os.path.join(config.packaged_gin_dir(), TOPOLOGY_DIR)
  stem = os.path.basename(name).removesuffix(".gin")
  path = os.path.join(directory, f"{stem}.gin")
  if not os.path.isfile(path):
    known = sorted(f[:-4] for f in os.listdir(directory) if f.endswith(".gin"))
    raise errors.ConfigError(f"unknown topology {name!r}",
                             f"use one of {', '.join(known)}")
  return path


def _gin_files(args) -> list[str]:
  from xferjax.models import presets
  if not args.gin_file:
    raise errors.ConfigError("`xferjax plan` needs --gin_file (a model "
                             "preset)", "e.g. --gin_file=models/mt5_xxl.gin")
  files = []
  for f in args.gin_file:
    under_models = f.startswith(presets.PRESET_DIR + "/")
    files.append(presets.resolve(f) if under_models else f)
  return files + [topology_file(args.topology)]


def _fake_devices(topology_path: str) -> int:
  """Makes jax run on as many fake CPU devices as the topology has chips.

  The device count is fixed when jax's backend starts, and the CLI starts
  it early (quiet_tf), so a mismatch re-executes this command with the
  count in the environment (`JAX_NUM_CPU_DEVICES`) before anything else.
  """
  import gin

  from xferjax import planning
  gin.clear_config()
  gin.parse_config_file(topology_path)
  n = planning.Topology().num_devices
  gin.clear_config()
  from jax._src import xla_bridge
  if not xla_bridge.backends_are_initialized():
    import jax
    jax.config.update("jax_platforms", "cpu")
    jax.config.update("jax_num_cpu_devices", n)
    return n
  import jax
  if jax.device_count() == n and jax.default_backend() == "cpu":
    return n
  if os.environ.get(_CHILD) or sys.argv[1:2] != ["plan"]:
    raise errors.ConfigError(
        f"jax already runs on {jax.device_count()} "
        f"{jax.default_backend()} devices; planning {os.path.basename(topology_path)}"
        f" needs {n} CPU devices", f"run `xferjax plan` from the shell, or "
        f"set JAX_PLATFORMS=cpu JAX_NUM_CPU_DEVICES={n} before jax starts")
  env = dict(os.environ, JAX_PLATFORMS="cpu", JAX_NUM_CPU_DEVICES=str(n),
             **{_CHILD: "1"})
  sys.stdout.flush()
  sys.stderr.flush()
  os.execve(sys.executable, [sys.executable, "-m", "xferjax.cli",
                             *sys.argv[1:]], env)


_CHILD = "XFERJAX_PLAN_CHILD"


def run(args) -> int:
  from xferjax import config
  files = _gin_files(args)
  n = _fake_devices(files[-1])
  config.import_modules(args.module)
  config.parse(files, args.gin_bindings, args.gin_search_paths)
  import jax

  from xferjax import partitioning, planning
  from xferjax.models import presets

  topology = planning.Topology()
  if jax.device_count() != n:
    raise errors.ConfigError(
        f"jax started with {jax.device_count()} devices, the topology needs "
        f"{topology.num_devices}", "run `xferjax plan` in a fresh process")
  partitioner = partitioning.create_partitioner()
  family, model_config = presets.config_from_gin()
  overrides = {k: getattr(args, k) for k in (
      "batch_size", "length", "target_length", "grad_accum_steps", "head",
      "optimizer") if getattr(args, k) is not None}
  settings = dataclasses.replace(planning.PlanSettings(), **overrides)
  report = planning.plan(family, model_config, topology, partitioner,
                         settings)
  print(json.dumps(report, indent=2) if args.json else
        planning.format_report(report))
  return 0
