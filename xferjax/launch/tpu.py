"""`xferjax launch tpu`: one job on every worker of a Cloud TPU VM slice.

Steps (each a gcloud command; `--dry-run` prints them all, plus the scripts
it would copy):

  1. check the job, the topology and its mesh, the wheel, gcloud
  2. build the xferjax wheel from this checkout (or take --wheel/--pip_spec)
  3. create the TPU VM, or a queued resource (--queued), or reuse a READY
     one; a preempted one is deleted and created again
  4. copy the wheel, the scripts and the job's local gin files and modules
     to every worker (`scp --worker=all`)
  5. install on every worker: --setup commands, a venv, the wheel and
     jax[tpu] of this jax version
  6. start the job on every worker in the background (`ssh --worker=all`);
     each worker logs to logs/<start>/<hostname>.log
  7. stream worker 0's log until the job ends; its exit code is ours
  8. copy every worker's log back; --teardown deletes the TPU

Exit 75 (preempted) or a preempted Spot TPU starts again from step 3 up to
--max_restarts times; the trainer and the study resume where they stopped.
Run directories must be on storage every worker shares (a Filestore NFS
mount via --setup, see docs/pod.md): results, checkpoints and the study's
locks live there.
"""

from __future__ import annotations

import dataclasses
import glob
import importlib.metadata
import os
import shlex
import sys
import time

from xferjax import errors
from xferjax.launch import job as job_lib
from xferjax.launch import shell

REMOTE_ROOT = "xferjax_runs"  # under each worker's home
VENV = f"~/{REMOTE_ROOT}/venv"
READY = ("READY", "ACTIVE")
# States from which a TPU never comes back: delete and create again.
LOST = ("PREEMPTED", "TERMINATED", "FAILED", "SUSPENDED")
SSH_LOST = 255  # ssh's own failure (the connection, not the job)
PREEMPTED = 75  # xferjax.train.preemption.PREEMPTED_EXIT_CODE


@dataclasses.dataclass(frozen=True)
class Generation:
  """How gcloud names a TPU generation's slices, and its hosts."""

  accelerator: str  # format of --accelerator-type from the name's number
  runtime_version: str
  chips_per_host: int
  single_host_chips: int  # slices up to this many chips have one host


GENERATIONS = {
    "v4": Generation("v4-{n}", "tpu-ubuntu2204-base", 4, 4),
    "v5e": Generation("v5litepod-{n}", "v2-alpha-tpuv5-lite", 4, 8),
    "v5p": Generation("v5p-{n}", "v2-alpha-tpuv5", 4, 4),
}


@dataclasses.dataclass(frozen=True)
class Slice:
  topology: str
  accelerator_type: str
  runtime_version: str
  chips: int
  hosts: int


def slice_for(name: str, chips: int, runtime_version: str | None) -> Slice:
  """The gcloud slice of a topology file ('v4-64': 32 chips, 8 hosts)."""
  generation, _, number = name.partition("-")
  if generation not in GENERATIONS or not number.isdigit():
    raise errors.ConfigError(
        f"topology {name!r} is not a Cloud TPU slice",
        "use a v4-*, v5e-* or v5p-* topology with `launch tpu` (GPU "
        "topologies go with `xferjax launch slurm`); nothing was created")
  g = GENERATIONS[generation]
  hosts = 1 if chips <= g.single_host_chips else chips // g.chips_per_host
  return Slice(name, g.accelerator.format(n=number),
               runtime_version or g.runtime_version, chips, hosts)


def _wheel_name() -> str:
  version = importlib.metadata.version("xferjax")
  return f"xferjax-{version}-py3-none-any.whl"


def source_checkout() -> str | None:
  """The source tree this xferjax runs from (an editable install), if any."""
  import xferjax
  root = os.path.dirname(os.path.dirname(os.path.abspath(xferjax.__file__)))
  return root if os.path.isfile(os.path.join(root, "setup.py")) else None


class TpuLaunch:
  """The gcloud commands of one launch, run through a `shell.Runner`."""

  def __init__(self, args, runner: shell.Runner):
    self.args = args
    self.runner = runner
    self.name = args.name
    self.remote_dir = f"{REMOTE_ROOT}/{args.name}"
    self.workdir = os.path.abspath(os.path.join("xferjax_launch", args.name))
    self.log_dir = os.path.abspath(args.log_dir or os.path.join(
        self.workdir, "logs"))

  # ---- gcloud command lines ----------------------------------------------
  def _scope(self) -> list[str]:
    return [f"--zone={self.args.zone}"] + (
        [f"--project={self.args.project}"] if self.args.project else [])

  def tpu(self, verb: str, *flags: str) -> list[str]:
    return ["gcloud", "compute", "tpus", "tpu-vm", verb, self.name,
            *flags, *self._scope()]

  def queued(self, verb: str, *flags: str) -> list[str]:
    return ["gcloud", "alpha", "compute", "tpus", "queued-resources", verb,
            self.name, *flags, *self._scope()]

  def ssh(self, worker: str, command: str) -> list[str]:
    return self.tpu("ssh", f"--worker={worker}", f"--command={command}")

  def scp(self, sources: list[str], target: str, to_remote: bool = True,
          recurse: bool = False) -> list[str]:
    ends = ([*sources, f"{self.name}:{target}"] if to_remote else
            [f"{self.name}:{sources[0]}", target])
    return ["gcloud", "compute", "tpus", "tpu-vm", "scp", *ends,
            "--worker=all", *(["--recurse"] if recurse else []),
            *self._scope()]

  # ---- the TPU ------------------------------------------------------------
  def state(self) -> str | None:
    if self.args.queued:
      argv = self.queued("describe", "--format=value(state.state)")
    else:
      argv = self.tpu("describe", "--format=value(state)")
    return self.runner.query(argv, "does the TPU exist? (its state)")

  def delete(self) -> None:
    if self.args.queued:
      self.runner.run(self.queued("delete", "--force", "--quiet"),
                      "tear down (the queued resource and its TPU VM)")
    else:
      self.runner.run(self.tpu("delete", "--quiet"), "tear down")

  def create(self, s: Slice) -> None:
    spot = ["--spot"] if self.args.spot else []
    if self.args.queued:
      self.runner.run(self.queued(
          "create", f"--node-id={self.name}",
          f"--accelerator-type={s.accelerator_type}",
          f"--runtime-version={s.runtime_version}", *spot),
          f"create a queued resource for {s.accelerator_type} "
          f"({s.chips} chips, {s.hosts} hosts)")
    else:
      self.runner.run(self.tpu(
          "create", f"--accelerator-type={s.accelerator_type}",
          f"--version={s.runtime_version}", *spot),
          f"create the TPU VM {s.accelerator_type} ({s.chips} chips, "
          f"{s.hosts} hosts)")

  def ensure(self, s: Slice) -> None:
    """Creates, reuses or re-creates the TPU, then waits until READY."""
    state = self.state()
    if state in READY:
      self.runner.say(f"# {self.name} is {state}: reusing it")
      return
    if state in LOST:
      self.runner.say(f"# {self.name} is {state}: deleting and creating it "
                      "again")
      self.delete()
      state = None
    if state is None:
      self.create(s)
    self.wait_ready()

  def wait_ready(self) -> None:
    if self.runner.dry_run:
      self.runner.say("# then poll the state above every 30 s until "
                      f"{' or '.join(READY)}")
      return
    deadline = time.monotonic() + 60 * self.args.wait_minutes
    while True:
      state = self.state()
      if state in READY:
        return
      if state in LOST or time.monotonic() > deadline:
        raise errors.XferjaxError(
            f"TPU {self.name} is {state or 'not there'} after waiting",
            "check `gcloud compute tpus tpu-vm list` (quota, capacity); "
            "re-run the same command to try again, or pass --queued")
      time.sleep(30)

  # ---- what runs on the workers -------------------------------------------
  def scripts(self, job: job_lib.Job, s: Slice, wheel: str | None
              ) -> dict[str, str]:
    """setup.sh, job.sh, stream.sh: written here, run on the workers."""
    jax_version = importlib.metadata.version("jax")
    package = f"./{os.path.basename(wheel)}" if wheel else self.args.pip_spec
    setup = "\n".join(self.args.setup) or "# (no --setup commands)"
    install = [f'"$V/pip" install -q {shlex.quote(package)} '
               f'"jax[tpu]=={jax_version}"']
    if wheel:  # the same version number may hold new code: reinstall it
      install.append(f'"$V/pip" install -q --force-reinstall --no-deps '
                     f'{shlex.quote(package)}')
    py = shlex.quote(self.args.python)
    setup_sh = f"""#!/bin/bash
# Written by `xferjax launch tpu`: installs xferjax on this worker.
set -euo pipefail
cd "$(dirname "$0")"
{setup}
if ! command -v {py} > /dev/null; then
  sudo apt-get update -qq
  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {py} {py}-venv
fi
[ -x {VENV}/bin/python ] || {py} -m venv {VENV}
V={VENV}/bin
"$V/pip" install -q --upgrade pip
{chr(10).join(install)}
"$V/python" -m xferjax.cli --help > /dev/null
echo "xferjax installed on $(hostname)"
"""
    cluster = ""
    if s.hosts > 1:  # tell xferjax.distributed this host is part of a slice
      cluster = f"""md() {{ curl -sf -H 'Metadata-Flavor: Google' \\
  "http://metadata.google.internal/computeMetadata/v1/instance/attributes/$1"; }}
export TPU_ACCELERATOR_TYPE="${{TPU_ACCELERATOR_TYPE:-{s.accelerator_type}}}"
export TPU_WORKER_ID="${{TPU_WORKER_ID:-$(md agent-worker-number)}}"
"""
    command = shlex.join(job.argv(remote=True))
    job_sh = f"""#!/bin/bash
# Written by `xferjax launch tpu`: the job, one process on every worker.
cd "$(dirname "$0")"
stamp="$1"
mkdir -p "logs/$stamp"
log="logs/$stamp/$(hostname).log"
export PYTHONPATH="$PWD${{PYTHONPATH:+:$PYTHONPATH}}"
{cluster}echo "[xferjax launch] $(hostname), worker ${{TPU_WORKER_ID:-0}} of {s.hosts}" > "$log"
echo {shlex.quote("[xferjax launch] xferjax " + command)} >> "$log"
{VENV}/bin/python -m xferjax.cli {command} >> "$log" 2>&1
echo $? > "logs/$stamp/$(hostname).rc"
"""
    stream_sh = """#!/bin/bash
# Written by `xferjax launch tpu`: follows this worker's log until the job
# ends, then exits with the job's exit code.
cd "$(dirname "$0")"
d="logs/${1:-latest}"; f="$d/$(hostname).log"; rc="$d/$(hostname).rc"
for _ in $(seq 120); do [ -f "$f" ] && break; sleep 1; done
[ -f "$f" ] || { echo "xferjax launch: no log $f on $(hostname)" >&2; exit 4; }
tail -n +1 -F "$f" 2> /dev/null & t=$!
while [ ! -f "$rc" ]; do
  if ! kill -0 "$(cat run.pid 2> /dev/null)" 2> /dev/null && [ ! -f "$rc" ]; then
    sleep 2; [ -f "$rc" ] && break
    echo "xferjax launch: the job on $(hostname) ended without an exit code" >&2
    kill "$t"; exit 5
  fi
  sleep 5
done
sleep 2; kill "$t" 2> /dev/null
exit "$(cat "$rc")"
"""
    return {"setup.sh": setup_sh, "job.sh": job_sh, "stream.sh": stream_sh}

  def stage(self, job: job_lib.Job, s: Slice, wheel: str | None) -> None:
    """Copies the wheel, scripts and local files; installs everywhere."""
    scripts = self.scripts(job, s, wheel)
    staged = os.path.join(self.workdir, "staged")
    for name, text in scripts.items():
      self.runner.write(os.path.join(staged, name), text, 0o755)
    dirs = sorted({os.path.dirname(f.remote) for f in job.files} - {""})
    self.runner.run(self.ssh("all", "mkdir -p " + " ".join(
        shlex.quote(f"{self.remote_dir}/{d}") for d in ["", *dirs])),
        "make the job's directory on every worker")
    sources = [os.path.join(staged, n) for n in scripts] + (
        [wheel] if wheel else [])
    self.runner.run(self.scp(sources, f"{self.remote_dir}/"),
                    "copy the scripts" + (" and the wheel" if wheel else ""))
    extra = list(job.files) + [
        job_lib.LocalFile(os.path.abspath(p), os.path.basename(p))
        for p in self.args.copy]
    for f in extra:
      # A directory goes into its parent (`scp -r` into an existing
      # directory would nest it on a second launch); a file to its path.
      is_dir = os.path.isdir(f.local)
      target = (os.path.join(self.remote_dir, os.path.dirname(f.remote), "")
                if is_dir else f"{self.remote_dir}/{f.remote}")
      self.runner.run(self.scp([f.local], target, recurse=is_dir),
                      f"copy {os.path.relpath(f.local)}")
    self.runner.run(self.ssh("all", f"bash {self.remote_dir}/setup.sh"),
                    "install xferjax on every worker")

  def start(self, stamp: str) -> None:
    d = self.remote_dir
    self.runner.run(self.ssh("all", (
        f"cd {d} && if [ -f run.pid ] && kill -0 \"$(cat run.pid)\" "
        "2> /dev/null; then echo \"xferjax launch: a job is already running "
        "on $(hostname); stream it with --attach\" >&2; exit 3; fi; "
        f"mkdir -p logs/{stamp} && ln -sfn {stamp} logs/latest && "
        f"(nohup bash job.sh {stamp} > /dev/null 2>&1 < /dev/null & "
        "echo $! > run.pid)")), "start the job on every worker")

  def stream(self, stamp: str = "latest") -> int:
    return self.runner.run(
        self.ssh("0", f"bash {self.remote_dir}/stream.sh {stamp}"),
        "stream worker 0's log until the job ends (its exit code is the "
        "launch's)", check=False)

  def fetch_logs(self, stamp: str) -> None:
    if not self.runner.dry_run:
      os.makedirs(self.log_dir, exist_ok=True)
    self.runner.run(self.scp([f"{self.remote_dir}/logs/{stamp}"],
                             self.log_dir, to_remote=False, recurse=True),
                    "copy every worker's log back", check=False)


def _wheel(args, runner: shell.Runner, workdir: str) -> str | None:
  """The wheel to install: --wheel, none with --pip_spec, else built."""
  if args.pip_spec:
    return None
  if args.wheel:
    if not (os.path.isfile(args.wheel) and args.wheel.endswith(".whl")):
      raise errors.ConfigError(f"--wheel {args.wheel} is not a wheel file",
                               "build one with `pip wheel --no-deps .` in "
                               "the checkout; nothing was created")
    return os.path.abspath(args.wheel)
  root = source_checkout()
  if root is None:
    raise errors.ConfigError(
        "xferjax is not installed from a source checkout, so the launcher "
        "cannot build a wheel for the workers", "pass --wheel PATH or "
        "--pip_spec SPEC (e.g. git+https://github.com/ORG/xferjax@main)")
  dist = os.path.join(workdir, "dist")
  if not runner.dry_run:
    for old in glob.glob(os.path.join(dist, "xferjax-*.whl")):
      os.unlink(old)
  runner.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
              "--no-build-isolation", "--quiet", "-w", dist, root],
             "build the xferjax wheel from this checkout")
  if runner.dry_run:
    return os.path.join(dist, _wheel_name())
  built = glob.glob(os.path.join(dist, "xferjax-*.whl"))
  if len(built) != 1:
    raise errors.XferjaxError(f"pip wheel left {len(built)} wheels in {dist}",
                              "pass --wheel PATH")
  return built[0]


def main(args, runner: shell.Runner) -> int:
  launch = TpuLaunch(args, runner)
  if args.delete or args.attach:
    shell.require_tool("gcloud", runner.dry_run)
    if args.delete:
      launch.delete()
      return 0
    return launch.stream()
  if not args.topology:
    raise errors.ConfigError("`launch tpu` needs --topology",
                             "e.g. --topology v4-64 (gin_configs/"
                             "topologies/)")
  job = job_lib.prepare(args.job, args.gin_bindings, args.topology, None,
                        f"topology {args.topology}")
  facts = job_lib.topology_facts()
  s = slice_for(facts.name, facts.num_devices, args.runtime_version)
  for path in args.copy:
    if not os.path.exists(path):
      raise errors.ConfigError(f"--copy {path} does not exist here",
                               "fix the path; nothing was created")
  if args.max_restarts < 0:
    raise errors.ConfigError("--max_restarts must be >= 0", "e.g. 3")
  shell.require_tool("gcloud", runner.dry_run)
  runner.say(f"# xferjax launch tpu{' (dry run: nothing is created or run)' if runner.dry_run else ''}: "
             f"{s.accelerator_type}, {s.chips} chips on {s.hosts} hosts, "
             f"job: xferjax {shlex.join(job.argv(remote=True))}")
  wheel = _wheel(args, runner, launch.workdir)
  restarts = 0
  while True:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    launch.ensure(s)
    launch.stage(job, s, wheel)
    launch.start(stamp)
    code = launch.stream(stamp)
    while code == SSH_LOST and launch.state() in READY:
      runner.say("# lost the log stream; the TPU is up: following again")
      code = launch.stream(stamp)
    lost = code == SSH_LOST
    if not lost:
      launch.fetch_logs(stamp)
    if (code == PREEMPTED or lost) and restarts < args.max_restarts:
      restarts += 1
      runner.say(f"# {'the TPU went away' if lost else 'preempted (75)'}: "
                 f"restart {restarts} of {args.max_restarts}")
      continue
    break
  if args.teardown:
    launch.delete()
  if code == PREEMPTED or lost:
    runner.say("# the job was preempted; re-run this command to resume it")
  elif code:
    runner.say(f"# the job failed with exit code {code}; worker logs: "
               f"{launch.log_dir}")
  return code
