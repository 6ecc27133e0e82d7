"""results.json: written last and atomically, so its presence means done.

Also the guard that stops a run directory from silently mixing two configs.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from xferjax import errors

RESULTS_FILE = "results.json"


def atomic_write_text(path: str, text: str) -> None:
  """Write to a temp file in the same directory, fsync, then rename."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-",
                             suffix=os.path.basename(path))
  try:
    with os.fdopen(fd, "w") as f:
      f.write(text)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise


def write_json(path: str, data: Any) -> None:
  atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_results(run_dir: str, results: dict[str, Any]) -> None:
  write_json(os.path.join(run_dir, RESULTS_FILE), results)


def read_results(run_dir: str) -> dict[str, Any] | None:
  path = os.path.join(run_dir, RESULTS_FILE)
  if not os.path.exists(path):
    return None
  try:
    with open(path) as f:
      return json.load(f)
  except json.JSONDecodeError as e:
    raise errors.DataError(
        f"{path} is not valid JSON ({e.msg} at line {e.lineno})",
        "it was written atomically, so something else changed it; move it "
        "away to re-run this phase") from None


def _jsonable(x: Any) -> Any:
  return json.loads(json.dumps(x))


def differences(saved: dict[str, Any] | None, current: dict[str, Any],
                defaults: dict[str, Any] | None = None) -> list[str]:
  """Keys whose values differ. A key the saved dict lacks counts as its
  default (so runs finished before a setting existed still match)."""
  saved, current = _jsonable(saved or {}), _jsonable(current)
  defaults = _jsonable(defaults or {})
  out = []
  for key in sorted(set(saved) | set(current)):
    old = saved.get(key, defaults.get(key))
    if old != current.get(key):
      out.append(key)
  return out


def check_same_run(run_dir: str, results: dict[str, Any],
                   fingerprint: dict[str, Any],
                   defaults: dict[str, Any] | None = None) -> None:
  changed = differences(results.get("run"), fingerprint, defaults)
  if changed:
    raise errors.ConfigError(
        f"{run_dir} holds a finished run with different settings "
        f"(differs in: {', '.join(changed)})",
        "use a new model_dir for the new settings, or move the old run away")
