"""The wheel ships tasks/ and gin_configs/, so a pip install needs no clone."""

import glob
import os
import subprocess
import sys
import zipfile

from conftest import REPO


def test_wheel_contains_tasks_and_gin_configs(tmp_path):
  proc = subprocess.run(
      [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
       "--wheel-dir", str(tmp_path), REPO],
      capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  (wheel,) = glob.glob(str(tmp_path / "xferjax-*.whl"))
  names = set(zipfile.ZipFile(wheel).namelist())
  gin_files = glob.glob(os.path.join(REPO, "gin_configs", "**", "*.gin"),
                        recursive=True)
  task_files = glob.glob(os.path.join(REPO, "tasks", "**", "*.py"),
                         recursive=True)
  assert gin_files and task_files
  for path in gin_files:
    rel = os.path.relpath(path, os.path.join(REPO, "gin_configs"))
    assert f"xferjax_gin_configs/{rel}" in names, rel
  for path in task_files:
    rel = os.path.relpath(path, os.path.join(REPO, "tasks"))
    assert f"xferjax_tasks/{rel}" in names, rel
  assert "xferjax/cli.py" in names
