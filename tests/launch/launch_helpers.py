"""Shared by the launcher tests: running `xferjax launch` in process, the
scripts a dry run prints, and fake gcloud/sbatch that record their calls."""

import os
import re
import stat
import subprocess

import gin

from xferjax import cli

# A fake cloud tool: appends its argv to $FAKE_LOG; `describe` prints the
# state in $FAKE_STATE (fails when there is none, as for an absent TPU);
# `create` makes it READY; stream.sh exits with the next code listed in
# $FAKE_STREAM_CODES (0 when none are left); sbatch prints a job id.
FAKE_TOOL = r"""#!/bin/bash
echo "$(basename "$0") $*" >> "$FAKE_LOG"
case "$*" in
  *" describe "*) [ -s "$FAKE_STATE" ] && cat "$FAKE_STATE" || exit 1 ;;
  *"tpu-vm create"*|*"queued-resources create"*) echo READY > "$FAKE_STATE" ;;
  *"tpu-vm delete"*) rm -f "$FAKE_STATE" ;;
  *"--worker=0 --command=bash "*stream.sh*)
    echo "[worker 0] training..."
    code=$(head -n 1 "$FAKE_STREAM_CODES" 2> /dev/null)
    sed -i 1d "$FAKE_STREAM_CODES" 2> /dev/null
    exit "${code:-0}" ;;
esac
[ "$(basename "$0")" = sbatch ] && echo "4242;cluster"
exit 0
"""


def launch(capsys, *argv):
  """Runs `xferjax launch ...` in process: (exit code, stdout, stderr)."""
  try:
    code = cli.main(["launch", *argv])
  finally:
    gin.clear_config()  # the job's bindings stay out of other tests
  out = capsys.readouterr()
  return code, out.out, out.err


def printed_files(out: str) -> dict[str, str]:
  """The generated files a dry run prints, by base name."""
  return {os.path.basename(m.group(1)): m.group(2) for m in re.finditer(
      r"# --- (\S+) ---\n(.*?)\n# --- end of \1 ---", out, re.S)}


def check_bash_syntax(text: str) -> None:
  proc = subprocess.run(["bash", "-n"], input=text, capture_output=True,
                        text=True)
  assert proc.returncode == 0, proc.stderr


def fake_tools(tmp_path, monkeypatch, names=("gcloud", "sbatch")):
  """PATH with only fake `names` (plus bash basics); returns the call log."""
  bindir = tmp_path / "fakebin"
  bindir.mkdir()
  for name in names:
    tool = bindir / name
    tool.write_text(FAKE_TOOL)
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
  log = tmp_path / "calls.log"
  monkeypatch.setenv("FAKE_LOG", str(log))
  monkeypatch.setenv("FAKE_STATE", str(tmp_path / "state"))
  monkeypatch.setenv("FAKE_STREAM_CODES", str(tmp_path / "stream_codes"))
  monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
  return log


def calls(log) -> list[str]:
  return log.read_text().splitlines() if log.exists() else []
