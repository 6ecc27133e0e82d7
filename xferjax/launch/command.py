"""`xferjax launch tpu|slurm|local [flags] -- train|eval|study ...`

  xferjax launch tpu --name xf --zone us-central2-b --topology v4-64 \\
      [--spot|--queued] [--teardown] [--dry-run] -- study --gin_file=...
  xferjax launch slurm --nodes 2 --gpus_per_node 8 [--partition gpu] \\
      [--dry-run] -- study --gin_file=...     (cells as an array job)
  xferjax launch local --num_processes 2 --devices_per_process 2 \\
      -- train --gin_file=...

Everything after `--` is the job, the same command on every host. The
launcher checks it first (arguments, gin files, REQUIRED macros, the mesh
against the device count, the tools it needs), so a mistake is reported
before anything is created. See docs/pod.md.
"""

from __future__ import annotations

import argparse

HELP = ("run train/eval/study on every host of a TPU slice, a SLURM "
        "allocation, or N local processes (--dry-run prints the commands)")


def _common(p: argparse.ArgumentParser) -> None:
  p.add_argument("--dry-run", "--dry_run", dest="dry_run",
                 action="store_true",
                 help="print every command (and generated script) it would "
                 "run; create and run nothing")
  p.add_argument("job", nargs=argparse.REMAINDER,
                 help="-- train|eval|study [its flags]: the job")


def _tpu(p: argparse.ArgumentParser) -> None:
  p.add_argument("--name", required=True, help="TPU VM (and queued "
                 "resource) name; created if absent, reused if READY")
  p.add_argument("--zone", required=True, help="e.g. us-central2-b")
  p.add_argument("--project", default=None,
                 help="GCP project (default: gcloud's configured one)")
  p.add_argument("--topology", default=None, help="a file in gin_configs/"
                 "topologies/ (v4-8 .. v4-512, v5e-1 .. v5e-256, v5p-8 .. "
                 "v5p-512); sets the slice and the job's mesh")
  p.add_argument("--runtime_version", default=None,
                 help="TPU software version (default per generation)")
  p.add_argument("--spot", action="store_true", help="Spot capacity "
                 "(preemptible; combine with --max_restarts)")
  p.add_argument("--queued", action="store_true",
                 help="create through a queued resource (waits for "
                 "capacity)")
  p.add_argument("--wait_minutes", type=float, default=120,
                 help="how long to wait for the TPU to become ready")
  src = p.add_mutually_exclusive_group()
  src.add_argument("--wheel", default=None,
                   help="xferjax wheel to install (default: built from "
                   "this checkout with `pip wheel`)")
  src.add_argument("--pip_spec", default=None,
                   help="install xferjax from this pip spec instead, e.g. "
                   "git+https://github.com/ORG/xferjax@main")
  p.add_argument("--setup", action="append", default=[],
                 help="shell command run on every worker before installing "
                 "(e.g. mounting the shared filesystem); repeatable")
  p.add_argument("--copy", action="append", default=[],
                 help="extra local file or directory copied next to the "
                 "job (on PYTHONPATH); repeatable")
  p.add_argument("--python", default="python3.11",
                 help="Python (>= 3.11) on the workers for the venv")
  p.add_argument("--teardown", action="store_true",
                 help="delete the TPU when the job has ended")
  p.add_argument("--max_restarts", type=int, default=0,
                 help="re-run after a preemption (exit 75 or a preempted "
                 "Spot TPU) up to this many times; runs resume")
  p.add_argument("--log_dir", default=None,
                 help="where the workers' logs are copied back (default "
                 "xferjax_launch/NAME/logs)")
  mode = p.add_mutually_exclusive_group()
  mode.add_argument("--attach", action="store_true",
                    help="only stream worker 0's log of the running job")
  mode.add_argument("--delete", action="store_true",
                    help="only tear the TPU down")


def _slurm(p: argparse.ArgumentParser) -> None:
  p.add_argument("--name", default="xferjax", help="job name")
  p.add_argument("--nodes", type=int, default=1, help="hosts (one task each)")
  p.add_argument("--gpus_per_node", type=int, default=8)
  p.add_argument("--topology", default=None,
                 help="check the job against this topology file (its device "
                 "count must be nodes x gpus_per_node)")
  p.add_argument("--partition", default=None)
  p.add_argument("--account", default=None)
  p.add_argument("--time", default=None, help="e.g. 24:00:00")
  p.add_argument("--cpus_per_task", type=int, default=None)
  p.add_argument("--max_parallel", type=int, default=None,
                 help="at most this many study cells at once (array %%N)")
  p.add_argument("--cells", default=None,
                 help="array range of study cells, e.g. 0-11 or 3,5 "
                 "(default: every cell of the study)")
  p.add_argument("--no_collect", action="store_true",
                 help="no `study --collect` job after the cells")
  p.add_argument("--setup", action="append", default=[],
                 help="shell line run before srun (module load, venv "
                 "activation); repeatable")
  p.add_argument("--python", default=None,
                 help="Python on the nodes (default: this one, which a "
                 "shared filesystem makes visible there)")
  p.add_argument("--sbatch_arg", action="append", default=[],
                 help="extra #SBATCH line, e.g. --sbatch_arg=--qos=high")
  p.add_argument("--workdir", default=None,
                 help="where scripts and logs go (default "
                 "xferjax_launch/NAME)")
  p.add_argument("--preempt_notice", type=int, default=300,
                 help="seconds before the time limit at which SLURM sends "
                 "SIGTERM (the trainer saves and the job is requeued)")


def _local(p: argparse.ArgumentParser) -> None:
  p.add_argument("--num_processes", type=int, required=True)
  p.add_argument("--devices_per_process", type=int, default=1,
                 help="fake CPU devices per process")
  p.add_argument("--topology", default=None,
                 help="check the job against this topology file")
  p.add_argument("--port", type=int, default=None,
                 help="coordinator port (default: a free one)")
  p.add_argument("--grace", type=float, default=10.0,
                 help="seconds the others get to stop after one fails")
  p.add_argument("--timeout", type=float, default=None,
                 help="stop every process after this many seconds (exit "
                 "124)")


BACKENDS = {
    "tpu": (_tpu, "Cloud TPU VM slice via gcloud"),
    "slurm": (_slurm, "SLURM cluster via sbatch/srun"),
    "local": (_local, "N processes on this machine (tests multi-host code)"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
  parser.formatter_class = argparse.RawDescriptionHelpFormatter
  parser.epilog = __doc__.split("\n\n")[1]
  sub = parser.add_subparsers(dest="backend", required=True)
  for name, (add, help_text) in BACKENDS.items():
    p = sub.add_parser(name, help=help_text, description=help_text)
    add(p)
    _common(p)


def run(args) -> int:
  from xferjax.launch import local, shell, slurm, tpu
  runner = shell.Runner(args.dry_run)
  if args.backend == "tpu":
    return tpu.main(args, runner)
  if args.backend == "slurm":
    return slurm.main(args, runner)
  from xferjax.launch import job as job_lib
  n = args.num_processes * args.devices_per_process
  job = job_lib.prepare(args.job, args.gin_bindings, args.topology, n,
                        f"{args.num_processes} processes x "
                        f"{args.devices_per_process} devices")
  return local.launch(job, args.num_processes, args.devices_per_process,
                      args.port, runner, args.grace, args.timeout)
