"""Runs a launcher's commands, or only prints them (`--dry-run`).

One code path serves both: a launcher asks the runner to run a command and
the runner either runs it or prints it. Queries whose answer steers the
launch (does this TPU exist?) answer `None` in a dry run, and the launcher
takes the path of a first launch, so the printout is every command a first
launch runs.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from typing import Sequence, TextIO

from xferjax import errors

INSTALL_HINTS = {
    "gcloud": "install the Google Cloud CLI (https://cloud.google.com/sdk/"
              "docs/install), then `gcloud auth login` and `gcloud config "
              "set project PROJECT`",
    "sbatch": "run this on a SLURM login node (sbatch and srun on PATH)",
}


def require_tool(name: str, dry_run: bool, out: TextIO | None = None) -> None:
  """Fails before anything is created when `name` is not on PATH; a dry run
  only notes it (it runs nothing)."""
  if shutil.which(name):
    return
  hint = INSTALL_HINTS.get(name, f"install {name}")
  if dry_run:
    print(f"# note: {name} is not installed here; a real launch needs it "
          f"({hint})", file=out or sys.stdout)
    return
  raise errors.ConfigError(
      f"{name} is not installed (not found on PATH); nothing was created",
      f"{hint}, or add --dry-run to print the commands instead")


class Runner:
  """Runs commands (echoing them), or prints them in a dry run."""

  def __init__(self, dry_run: bool, out: TextIO | None = None):
    self.dry_run = dry_run
    self.out = out or sys.stdout

  def say(self, text: str) -> None:
    print(text, file=self.out, flush=True)

  def show(self, argv: Sequence[str], comment: str | None = None) -> None:
    if comment:
      self.say(f"# {comment}")
    self.say(("" if self.dry_run else "+ ") + shlex.join(argv))

  def show_file(self, path: str, text: str) -> None:
    """A file the launch writes (a script); printed in full in a dry run."""
    if self.dry_run:
      self.say(f"# --- {path} ---\n{text.rstrip()}\n# --- end of {path} ---")

  def run(self, argv: Sequence[str], comment: str | None = None,
          check: bool = True) -> int:
    """Runs `argv` with its output going to ours; returns the exit code."""
    self.show(argv, comment)
    if self.dry_run:
      return 0
    code = subprocess.call(list(argv))
    if check and code:
      raise errors.XferjaxError(
          f"`{shlex.join(argv[:6])} ...` failed with exit code {code}",
          "see its output above; re-running the same launch command picks "
          "up where it stopped (existing resources are reused)")
    return code

  def query(self, argv: Sequence[str], comment: str | None = None,
            check: bool = False) -> str | None:
    """stdout of `argv`, or None if it fails (and in a dry run); `check`
    makes a failure an error that shows the command's stderr."""
    self.show(argv, comment)
    if self.dry_run:
      return None
    proc = subprocess.run(list(argv), capture_output=True, text=True)
    if proc.returncode == 0:
      return proc.stdout.strip()
    if check:
      raise errors.XferjaxError(
          f"`{shlex.join(argv)}` failed with exit code {proc.returncode}: "
          f"{proc.stderr.strip()[-500:]}", "fix what it says, then re-run")
    return None

  def write(self, path: str, text: str, mode: int = 0o644) -> None:
    """Writes a generated file (a dry run only prints it)."""
    self.show_file(path, text)
    if self.dry_run:
      return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
      f.write(text)
    os.chmod(path, mode)
