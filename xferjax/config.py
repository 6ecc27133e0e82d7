"""Gin, the way t5x uses it: files on a search path, `--gin.X=V` overrides,
REQUIRED macros, and errors that say which binding is wrong and how to fix it.

Every configurable must be registered before a file is parsed, so this module
imports the modules that define them (`register_configurables`).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import re
from typing import Iterable, Sequence

import gin

from xferjax import errors


def packaged_gin_dir() -> str:
  import xferjax_gin_configs  # the repo's gin_configs/, shipped in the wheel
  return os.path.dirname(os.path.abspath(xferjax_gin_configs.__file__))


def register_configurables() -> None:
  """Imports every module with gin configurables (cheap; idempotent)."""
  for module in ("xferjax.partitioning", "xferjax.models.encoder",
                 "xferjax.train.optimizer", "xferjax.train.trainer",
                 "xferjax.study.pipeline"):
    importlib.import_module(module)


def import_modules(modules: Iterable[str]) -> None:
  """Imports user modules (e.g. ones that register SeqIO tasks)."""
  for name in modules:
    try:
      importlib.import_module(name)
    except ImportError as e:
      raise errors.ConfigError(
          f"cannot import module {name!r}: {e}",
          "check the module name and that its directory is on PYTHONPATH"
      ) from None


def split_gin_flags(argv: Sequence[str]) -> tuple[list[str], list[str]]:
  """Separates t5x-style `--gin.NAME=VALUE` flags into gin binding strings."""
  rest, bindings = [], []
  for arg in argv:
    if arg.startswith("--gin."):
      body = arg[len("--gin."):]
      if "=" not in body:
        raise errors.ConfigError(
            f"malformed gin flag {arg!r}",
            "write it as --gin.NAME=VALUE, e.g. --gin.MODEL_DIR=\"'/tmp/x'\"")
      name, value = body.split("=", 1)
      bindings.append(f"{name} = {value}")
    else:
      rest.append(arg)
  return rest, bindings


def resolve_gin_file(path: str, search_paths: Sequence[str]) -> str:
  candidates = [path] + [os.path.join(d, path) for d in search_paths]
  for candidate in candidates:
    if os.path.isfile(candidate):
      return os.path.abspath(candidate)
  raise errors.ConfigError(
      f"gin file {path!r} not found (looked in: "
      f"{', '.join(['.'] + list(search_paths))})",
      "check the spelling; packaged files are named relative to "
      f"{packaged_gin_dir()}, e.g. --gin_file=demo.gin")


_REQUIRED_RE = re.compile(r"^(\S+) set to `%gin.REQUIRED`")


def parse(gin_files: Sequence[str], bindings: Sequence[str],
          search_paths: Sequence[str] = ()) -> None:
  """Parses files and bindings, then checks that no REQUIRED value is left."""
  register_configurables()
  search_paths = list(search_paths) + [packaged_gin_dir()]
  gin.clear_config()
  for directory in search_paths:
    gin.add_config_file_search_path(directory)
  files = [resolve_gin_file(f, search_paths) for f in gin_files]
  try:
    with _quiet_gin_include_probes():
      gin.parse_config_files_and_bindings(files, bindings,
                                          finalize_config=False)
  except (ValueError, KeyError, SyntaxError, ImportError, IOError) as e:
    raise errors.ConfigError(
        f"invalid gin configuration: {_first_line(e)}",
        "check the binding's spelling against the configurable's arguments "
        "(`xferjax <command> --help` lists common ones)") from None
  try:
    gin.finalize()
  except ValueError as e:
    match = _REQUIRED_RE.match(str(e))
    if not match:
      raise errors.ConfigError(f"invalid gin configuration: {_first_line(e)}",
                               "fix the binding named above") from None
    # "MODEL_DIR/macro.value" for a macro, "TrainRun.model_dir" otherwise.
    name = match.group(1).removesuffix("/macro.value")
    raise errors.ConfigError(
        f"required value {name} is not set",
        f"pass --gin.{name}=VALUE (strings need inner quotes, e.g. "
        f"--gin.{name}=\"'/tmp/run'\")") from None


class _DropIncludeProbeErrors(logging.Filter):
  """gin logs "Path not found" at ERROR level while it probes each search
  path for an `include`d file, even when a later path has it."""

  def filter(self, record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("Path not found")


@contextlib.contextmanager
def _quiet_gin_include_probes():
  root = logging.getLogger()
  probe_filter = _DropIncludeProbeErrors()
  root.addFilter(probe_filter)
  try:
    yield
  finally:
    root.removeFilter(probe_filter)


def _first_line(e: Exception) -> str:
  text = str(e).strip()
  return text.splitlines()[0] if text else type(e).__name__


def operative_config() -> str:
  return gin.config_str()
