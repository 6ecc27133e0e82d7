"""The `xferjax` command.

Flags follow t5x: `--gin_file=F` (repeatable, searched in the packaged
gin_configs/ too), `--gin.NAME=VALUE` overrides, `--gin_search_paths=DIR`,
and `--module=M` to import user code that registers tasks. A mistake the user
can fix (bad binding, missing REQUIRED value, unknown task, missing file)
ends with two lines, what went wrong and the fix, and exit status 2; a
traceback means a bug in xferjax.

Each subcommand is a module with `HELP`, `add_arguments(parser)` and
`run(args)`; add a row to `COMMANDS` to add one.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from xferjax import errors  # noqa: E402  (light; commands import lazily)

COMMANDS = {
    "train": "xferjax.commands.train",
    "eval": "xferjax.commands.eval",
    "study": "xferjax.commands.study",
    "report": "xferjax.commands.report",
    "tasks": "xferjax.commands.tasks",
    "plan": "xferjax.commands.plan",
    "convert": "xferjax.commands.convert",
    "launch": "xferjax.launch.command",
    "xtreme-score": "xferjax.evaluation.xtreme_cli",
}


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog="xferjax",
      description="Cross-lingual transfer studies on JAX: intermediate-task "
      "training, target fine-tuning, zero-shot XTREME evaluation.")
  sub = parser.add_subparsers(dest="command", required=True)
  for name, module_name in COMMANDS.items():
    module = importlib.import_module(module_name)
    help_text = getattr(module, "HELP", None) or (
        module.__doc__ or "").strip().splitlines()[0]
    p = sub.add_parser(name, help=help_text, description=help_text)
    module.add_arguments(p)
    p.set_defaults(fn=module.run)
  return parser


def print_error(e: errors.XferjaxError) -> None:
  """Writes the two-line message in one piece, on lines of its own.

  Library threads still running after a failure (Orbax's writer threads
  print tracebacks of their own after a failed save) write to stderr at the
  same time; the message must stay whole and findable among them."""
  block = f"xferjax: error: {e.message}\n"
  if e.fix:
    block += f"  fix: {e.fix}\n"
  stream = sys.stderr
  stream.flush()
  if stream is sys.__stderr__:
    # Other writers' chunks can land inside a TextIOWrapper write; one
    # write(2) on the descriptor is not split (pipes: up to PIPE_BUF).
    # It may follow a half-written line of theirs, so start a fresh one.
    os.write(stream.fileno(), ("\n" + block).encode("utf-8", "replace"))
  else:  # captured (tests, notebooks)
    stream.write(block)
    stream.flush()


def main(argv: Sequence[str] | None = None) -> int:
  argv = list(sys.argv[1:] if argv is None else argv)
  from xferjax import quiet_tf
  try:
    from xferjax.launch import worker
    worker.join_cluster(argv)  # multi-host jobs: before anything starts jax
    quiet_tf.import_tensorflow()
    from xferjax import config
    argv, bindings = config.split_gin_flags(argv)
    args = build_parser().parse_args(argv)
    args.gin_bindings = bindings
    return args.fn(args)
  except errors.XferjaxError as e:
    print_error(e)
    return e.exit_code
  except KeyboardInterrupt:
    print("xferjax: interrupted", file=sys.stderr)
    return 130


if __name__ == "__main__":
  sys.exit(main())
