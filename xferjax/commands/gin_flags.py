"""Flags shared by the gin-driven commands (train, eval, study)."""

from __future__ import annotations

import argparse

from xferjax import errors

EPILOG = """\
gin:
  --gin.NAME=VALUE      override a gin binding or macro, e.g.
                        --gin.MODEL_DIR="'/tmp/run'" --gin.TrainRun.num_steps=10
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
  parser.epilog = EPILOG
  parser.formatter_class = argparse.RawDescriptionHelpFormatter
  parser.add_argument("--gin_file", action="append", default=[],
                      help="gin file (repeatable); relative names are also "
                      "looked up in the packaged gin_configs/")
  parser.add_argument("--gin_search_paths", action="append", default=[],
                      help="extra directories to look for gin files in")
  add_module_flag(parser)


def add_module_flag(parser: argparse.ArgumentParser) -> None:
  parser.add_argument("--module", action="append", default=[],
                      help="Python module to import first (e.g. one that "
                      "registers your SeqIO tasks); repeatable")


def import_task_modules(args) -> None:
  from xferjax import config
  config.import_modules(["xferjax_tasks"] + list(args.module))


def setup(args) -> str:
  """Imports user modules and the task registry, parses gin; returns the
  operative config text."""
  from xferjax import config

  import_task_modules(args)
  if not args.gin_file:
    raise errors.ConfigError(f"`xferjax {args.command}` needs --gin_file",
                             "e.g. --gin_file=demo.gin")
  config.parse(args.gin_file, args.gin_bindings, args.gin_search_paths)
  return config.operative_config()
