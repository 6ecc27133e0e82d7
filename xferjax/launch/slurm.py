"""`xferjax launch slurm`: an sbatch script, one task per host via srun.

Every task runs the same `xferjax` command; `xferjax.distributed` reads
SLURM's variables (first node of the step = coordinator, `SLURM_PROCID` =
process id) on a port derived from the job id, so array tasks that share a
node do not collide. A study without `--cell` becomes an array job, one
element per cell (`--cell $SLURM_ARRAY_TASK_ID`; the study's per-phase locks
make shared phases train once), followed by a `study --collect` job that
waits for the array (`--dependency=afterany`).

Preemption and time limits: SLURM sends SIGTERM `--preempt_notice` seconds
before the limit (`--signal=TERM@N`), the trainer saves and exits 75, and
the script requeues itself (`scontrol requeue`): the requeued job resumes
from that checkpoint. The cluster's filesystem must be shared by the nodes
(the job's paths are written as absolute paths).
"""

from __future__ import annotations

import os
import shlex
import sys
import time

from xferjax import errors
from xferjax.launch import job as job_lib
from xferjax.launch import shell

PORT_BASE = 20000  # coordinator port: PORT_BASE + job id mod PORT_BASE


def _header(args, name: str, nodes: int, gpus: int, output: str,
            extra: list[str]) -> list[str]:
  lines = [f"--job-name={name}", f"--nodes={nodes}", "--ntasks-per-node=1"]
  if gpus:
    lines.append(f"--gpus-per-node={gpus}")
  for flag, value in (("partition", args.partition),
                      ("account", args.account), ("time", args.time),
                      ("cpus-per-task", args.cpus_per_task)):
    if value is not None:
      lines.append(f"--{flag}={value}")
  lines += [f"--chdir={os.getcwd()}", f"--output={output}", *extra,
            *args.sbatch_arg]
  return [f"#SBATCH {line}" for line in lines]


def _setup(args) -> list[str]:
  return list(args.setup) or ["# (no --setup lines)"]


def job_script(args, job: job_lib.Job, python: str, logs: str,
               cells: str | None) -> str:
  """The sbatch script of the job (an array over `cells` if given)."""
  extra = [f"--signal=TERM@{args.preempt_notice}", "--requeue",
           "--open-mode=append"]
  if cells:
    extra.insert(0, f"--array={cells}" + (
        f"%{args.max_parallel}" if args.max_parallel else ""))
  output = os.path.join(logs, "%x-%A_%a.out" if cells else "%x-%j.out")
  command = shlex.join([python, "-m", "xferjax.cli", *job.argv()])
  if cells:
    command += ' --cell "$SLURM_ARRAY_TASK_ID"'
  lines = [
      "#!/bin/bash",
      f"# Written by `xferjax launch slurm` on {time.strftime('%Y-%m-%d %H:%M')}:",
      f"# {args.nodes} node(s) x {args.gpus_per_node} GPU(s), one xferjax "
      "process per node" + (f"; study cells {cells} as an array" if cells
                            else "") + ".",
      *_header(args, args.name, args.nodes, args.gpus_per_node, output,
               extra),
      "set -uo pipefail",
      *_setup(args),
      "# xferjax.distributed: coordinator = first node of the step, on this "
      "port",
      f"export XFERJAX_COORDINATOR_PORT=$(({PORT_BASE} + SLURM_JOB_ID % "
      f"{PORT_BASE}))",
      "srun --label --kill-on-bad-exit=1 --ntasks-per-node=1 \\",
      f"  {command}",
      "rc=$?",
      'if [ "$rc" -eq 75 ]; then',
      '  echo "xferjax: preempted (exit 75): requeueing job $SLURM_JOB_ID; '
      'it resumes from its checkpoint"',
      '  scontrol requeue "$SLURM_JOB_ID"',
      "fi",
      'exit "$rc"',
  ]
  return "\n".join(lines) + "\n"


def collect_script(args, job: job_lib.Job, python: str, logs: str) -> str:
  command = shlex.join([python, "-m", "xferjax.cli", *job.argv(),
                        "--collect"])
  lines = [
      "#!/bin/bash",
      "# Written by `xferjax launch slurm`: the study's tables and report, "
      "once its cells have run.",
      *_header(args, f"{args.name}-collect", 1, 0,
               os.path.join(logs, "%x-%j.out"), []),
      "set -uo pipefail",
      *_setup(args),
      command,
  ]
  return "\n".join(lines) + "\n"


def _submit(runner: shell.Runner, argv: list[str], what: str) -> str:
  out = runner.query(argv, what, check=True)
  return "<job id>" if out is None else out.split(";")[0]


def main(args, runner: shell.Runner) -> int:
  if args.nodes < 1 or args.gpus_per_node < 0:
    raise errors.ConfigError(
        f"--nodes {args.nodes} / --gpus_per_node {args.gpus_per_node} "
        "make no allocation", "use --nodes >= 1 and --gpus_per_node >= 0")
  devices = args.nodes * max(args.gpus_per_node, 1)
  job = job_lib.prepare(args.job, args.gin_bindings, args.topology, devices,
                        f"{args.nodes} node(s) x {args.gpus_per_node} GPU(s)")
  mode = job.study_mode
  cells = None
  if mode == "all":
    cells = args.cells or f"0-{job.num_cells - 1}"
  elif args.cells:
    raise errors.ConfigError("--cells is for a study job without --cell",
                             "drop --cells, or give the job no --cell")
  shell.require_tool("sbatch", runner.dry_run)
  python = args.python or sys.executable
  workdir = os.path.abspath(args.workdir or os.path.join("xferjax_launch",
                                                         args.name))
  logs = os.path.join(workdir, "logs")
  if not runner.dry_run:
    os.makedirs(logs, exist_ok=True)
  runner.say(f"# xferjax launch slurm"
             f"{' (dry run: nothing is written or submitted)' if runner.dry_run else ''}"
             f": {args.nodes} node(s) x {args.gpus_per_node} GPU(s), job: "
             f"xferjax {shlex.join(job.argv())}")
  path = os.path.join(workdir, f"{args.name}.sbatch")
  runner.write(path, job_script(args, job, python, logs, cells), 0o755)
  job_id = _submit(runner, ["sbatch", "--parsable", path],
                   "submit" + (f" (array over cells {cells})" if cells
                               else ""))
  runner.say(f"# submitted job {job_id}; logs in {logs}")
  if cells and not args.no_collect:
    collect = os.path.join(workdir, f"{args.name}-collect.sbatch")
    runner.write(collect, collect_script(args, job, python, logs), 0o755)
    collect_id = _submit(
        runner, ["sbatch", "--parsable", f"--dependency=afterany:{job_id}",
                 collect], "then the report, once every cell has ended")
    runner.say(f"# report job {collect_id} (runs `study --collect`)")
  runner.say(f"# follow with: squeue -j {job_id}; tail -f {logs}/*.out")
  return 0
