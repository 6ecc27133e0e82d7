"""The job a launcher runs on every host, checked before anything starts.

A job is an `xferjax train|eval|study` command line. `prepare` reads it with
the subcommand's own argument parser, finds each gin file (a local file,
which a launcher copies to the workers, or one of the packaged gin_configs/,
which the workers have), parses the whole gin configuration here (a missing
REQUIRED macro fails now, not on a pod an hour later), and checks that the
mesh it binds fits the launch's device count. The topology file (e.g.
`topologies/v4-64.gin`) goes first on the job's command line, so the run
files and `--gin.` overrides still win.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.util
import inspect
import os
import site
import sysconfig

from xferjax import errors

WORKER_COMMANDS = ("train", "eval", "study")


@dataclasses.dataclass(frozen=True)
class LocalFile:
  """A file or directory the workers need a copy of."""

  local: str  # absolute path here
  remote: str  # path relative to the job's directory on a worker


@dataclasses.dataclass(frozen=True)
class Job:
  command: str
  args: tuple[str, ...]  # the command's flags, gin files resolved
  bindings: tuple[str, ...]  # gin bindings "NAME = VALUE"
  files: tuple[LocalFile, ...] = ()  # local gin files, search dirs, modules
  num_cells: int | None = None  # a study's grid size

  def argv(self, remote: bool = False) -> list[str]:
    """The worker's command line after `xferjax` (remote: copied files by
    their path in the job directory)."""
    args = list(self.args)
    if remote:
      renames = {f.local: f.remote for f in self.files}
      args = [_rename(a, renames) for a in args]
    return [self.command, *args, *(binding_flag(b) for b in self.bindings)]

  @property
  def study_mode(self) -> str | None:
    """'all', 'cell', 'list' or 'collect' for a study; None otherwise."""
    if self.command != "study":
      return None
    parsed = _parser("study").parse_args(list(self.args))
    if parsed.list:
      return "list"
    if parsed.collect:
      return "collect"
    return "all" if parsed.cell is None else "cell"


def binding_flag(binding: str) -> str:
  """'NAME = VALUE' (as `config.split_gin_flags` made it) -> --gin.NAME=VALUE."""
  name, _, value = binding.partition(" = ")
  return f"--gin.{name}={value}"


def _rename(arg: str, renames: dict[str, str]) -> str:
  for flag in ("--gin_file=", "--gin_search_paths="):
    if arg.startswith(flag) and arg[len(flag):] in renames:
      return flag + renames[arg[len(flag):]]
  return arg


class _JobParser(argparse.ArgumentParser):
  """The subcommand's parser, raising instead of exiting."""

  def error(self, message):
    raise errors.ConfigError(
        f"the job's arguments are invalid: {message}",
        f"see `xferjax {self.prog.split()[-1]} --help`; the job goes after "
        "the launcher's own flags, e.g. `xferjax launch local "
        "--num_processes 2 -- train --gin_file=...`")


def _parser(command: str) -> argparse.ArgumentParser:
  from xferjax import cli
  parser = _JobParser(prog=f"xferjax {command}", add_help=False)
  importlib.import_module(cli.COMMANDS[command]).add_arguments(parser)
  return parser


def split_job(words: list[str]) -> tuple[str, list[str]]:
  """['--', 'study', ...] -> ('study', [...]), with a clear error for what
  is not a worker command."""
  if words[:1] == ["--"]:
    words = words[1:]
  if not words:
    raise errors.ConfigError(
        "no job given: the launcher needs the xferjax command to run",
        "append it after the launcher's flags, e.g. `-- study "
        "--gin_file=demo.gin` or `-- train --gin_file=...`")
  if words[0] not in WORKER_COMMANDS:
    raise errors.ConfigError(
        f"cannot launch {words[0]!r}: a job is one of "
        f"{', '.join(WORKER_COMMANDS)}",
        "write the job as `-- train|eval|study --gin_file=...` after the "
        "launcher's own flags")
  return words[0], words[1:]


def _packaged(name: str) -> str | None:
  from xferjax import config
  path = os.path.join(config.packaged_gin_dir(), name)
  return path if os.path.isfile(path) else None


def _remote_name(path: str, used: set[str], top_level: bool = False) -> str:
  """Where a local file goes on the workers: its path relative to the
  current directory when inside it (so relative includes still work), else
  `external/<name>`; `top_level` (modules): `<name>`, on PYTHONPATH. The
  base name never changes, so a directory can be copied into its parent."""
  rel = os.path.relpath(path)
  base = os.path.basename(path)
  name = base if top_level else (
      rel if not rel.startswith("..") else os.path.join("external", base))
  n = 1
  while name in used:
    name, n = os.path.join("external", str(n), base), n + 1
  used.add(name)
  return name


def _installed_dirs() -> list[str]:
  dirs = {sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib")}
  dirs.update(site.getsitepackages() if hasattr(site, "getsitepackages")
              else [])
  return [os.path.abspath(d) for d in dirs]


def module_files(modules: list[str]) -> list[str]:
  """Local files or package directories of user modules (`--module`) that
  are not installed packages, so they must travel with the job."""
  found = []
  installed = _installed_dirs()
  for name in modules:
    top = name.split(".")[0]
    try:
      spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
      spec = None
    if spec is None or not spec.origin or spec.origin in ("built-in",
                                                          "frozen"):
      raise errors.ConfigError(
          f"module {name!r} (--module) cannot be found here",
          "the launcher imports and checks the job here first: put the "
          "module's directory on PYTHONPATH (it is copied to the workers)")
    path = (os.path.dirname(spec.origin) if spec.submodule_search_locations
            else spec.origin)
    path = os.path.abspath(path)
    if any(path.startswith(d + os.sep) for d in installed):
      continue  # installed: the workers need it installed too
    found.append(path)
  return found


def resolve_files(command: str, args: list[str]) -> tuple[list[str],
                                                           list[LocalFile]]:
  """The job's flags with every gin file checked, and the local files the
  workers need. A gin file that is neither here nor packaged is an error
  now: it would be missing on every worker."""
  args = _joined(args)
  parsed = _parser(command).parse_args(args)
  search = [os.path.abspath(d) for d in parsed.gin_search_paths]
  for d in search:
    if not os.path.isdir(d):
      raise errors.ConfigError(
          f"--gin_search_paths directory {d} does not exist here",
          "the launcher copies search directories to the workers, so they "
          "must exist here first")
  used: set[str] = set()
  files: dict[str, LocalFile] = {}
  out = []
  for arg in args:
    flag, sep, value = arg.partition("=")
    if not sep or flag not in ("--gin_file", "--gin_search_paths"):
      out.append(arg)
      continue
    if flag == "--gin_search_paths":
      path = os.path.abspath(value)
    elif os.path.isfile(value):
      path = os.path.abspath(value)
    elif _packaged(value):
      out.append(arg)  # every worker has the packaged gin_configs/
      continue
    else:
      inside = [os.path.join(d, value) for d in search
                if os.path.isfile(os.path.join(d, value))]
      if not inside:
        from xferjax import config
        raise errors.ConfigError(
            f"gin file {value!r} is not here (looked in: ., "
            f"{', '.join(search + [config.packaged_gin_dir()])}): every "
            "worker would miss it", "the launcher copies local gin files to "
            "the workers and they have the packaged ones; fix the path, or "
            "add its directory with --gin_search_paths")
      out.append(arg)  # found through a search directory, copied with it
      continue
    if path not in files:
      files[path] = LocalFile(path, _remote_name(path, used))
    out.append(f"{flag}={path}")
  for path in module_files(list(parsed.module)):
    if path not in files:
      files[path] = LocalFile(path, _remote_name(path, used, top_level=True))
  return out, list(files.values())


def _joined(args: list[str]) -> list[str]:
  """`--gin_file X` -> `--gin_file=X`, so files are found in one form."""
  out, i = [], 0
  while i < len(args):
    if args[i] in ("--gin_file", "--gin_search_paths") and i + 1 < len(args):
      out.append(f"{args[i]}={args[i + 1]}")
      i += 2
    else:
      out.append(args[i])
      i += 1
  return out


def parse_job_config(job: Job) -> None:
  """Parses the job's gin configuration here exactly as a worker will."""
  from xferjax import config
  from xferjax.commands import gin_flags

  parsed = _parser(job.command).parse_args(list(job.args))
  gin_flags.import_task_modules(parsed)
  if not parsed.gin_file:
    raise errors.ConfigError(f"the job `xferjax {job.command}` needs "
                             "--gin_file", "e.g. -- study --gin_file=demo.gin")
  # Study presets and the planner's Topology must be known before parsing.
  import xferjax.planning  # noqa: F401  pylint: disable=unused-import
  config.parse(parsed.gin_file, list(job.bindings), parsed.gin_search_paths)


def mesh_for(num_devices: int, where: str) -> dict[str, int]:
  """The mesh the parsed config binds, checked against `num_devices`."""
  import gin

  from xferjax import partitioning
  fn = partitioning.create_partitioner
  bound = gin.get_bindings(fn)
  defaults = inspect.signature(fn).parameters
  sizes = {a: bound.get(a, defaults[a].default) for a in partitioning.MESH_AXES}
  try:
    return partitioning.mesh_shape(**sizes, num_devices=num_devices)
  except errors.XferjaxError as e:
    raise type(e)(
        f"the job's mesh does not fit {where} ({num_devices} devices): "
        f"{e.message}", "bind create_partitioner.data/fsdp/tensor so that "
        f"their product is {num_devices} (e.g. --gin.create_partitioner."
        f"fsdp={num_devices}), or use -1 for one axis; nothing was "
        "created") from None


def topology_facts():
  """The parsed config's Topology (devices, chip, name)."""
  from xferjax import planning
  return planning.Topology()


def topology_gin_name(name: str) -> str:
  """'v4-64' -> 'topologies/v4-64.gin' (packaged); an unknown name lists
  the known ones."""
  from xferjax import config
  from xferjax.commands import plan
  path = plan.topology_file(name)
  packaged = os.path.join(config.packaged_gin_dir(), "")
  return os.path.relpath(path, packaged) if path.startswith(packaged) else path


def prepare(words: list[str], bindings: list[str], topology: str | None,
            num_devices: int | None, where: str) -> Job:
  """Reads and checks a job: its flags, files, gin config and mesh.

  `num_devices`: what the launch provides (None: the topology's count).
  """
  command, args = split_job(words)
  if topology:  # first, so run files and --gin. overrides still win
    args = [f"--gin_file={topology_gin_name(topology)}", *args]
  args, files = resolve_files(command, args)
  job = Job(command, tuple(args), tuple(bindings), tuple(files))
  parse_job_config(job)
  if topology:
    facts = topology_facts()
    if num_devices is not None and facts.num_devices != num_devices:
      raise errors.ConfigError(
          f"topology {facts.name} has {facts.num_devices} devices but "
          f"{where} has {num_devices}", "pick the topology with that many "
          "devices, or change the launch to match it; nothing was created")
    num_devices = facts.num_devices
  if num_devices is not None:
    mesh_for(num_devices, where)
  if command == "study":  # an empty or malformed grid fails here, too
    job = dataclasses.replace(job, num_cells=study_cell_count())
  return job


def study_cell_count() -> int:
  """Cells of the study the last `parse_job_config` read."""
  from xferjax.study import pipeline
  study = pipeline.Study()
  study.validate(for_run=False)
  return len(pipeline.expand_cells(study))
