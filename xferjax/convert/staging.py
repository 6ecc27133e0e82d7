"""An output directory that appears whole or not at all.

Everything is written into a hidden temporary directory next to the target
(same filesystem, so the final `rename` is atomic); a failure removes it
and leaves the target as it was. A process killed mid-write leaves only
the `.NAME.tmp-*` directory, which nothing mistakes for a checkpoint and
the next run of the same command removes.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
import time

from xferjax import errors
from xferjax.train import run_dir

TMP_INFIX = ".tmp-"


def _stale(out: str) -> list[str]:
  parent, name = os.path.split(out)
  return glob.glob(os.path.join(parent, f".{glob.escape(name)}{TMP_INFIX}*"))


@contextlib.contextmanager
def staged_dir(out: str, overwrite: bool = False):
  """Yields a temporary directory that becomes `out` when the block ends
  without an exception."""
  out = os.path.abspath(out)
  if os.path.exists(out) and not overwrite:
    raise errors.ConfigError(f"{out} already exists",
                             "choose a new --out, or pass --overwrite")
  parent, name = os.path.split(out)
  try:
    os.makedirs(parent, exist_ok=True)
    for stale in _stale(out):
      shutil.rmtree(stale, ignore_errors=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=f".{name}{TMP_INFIX}")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would hide a shared dir
  except OSError as e:
    raise errors.CheckpointError(
        f"cannot write next to {out}: {e.strerror or e}",
        "choose an --out you can write to") from None
  nothing = lambda: f"nothing was written to {out}"
  try:
    with run_dir.explain_write_errors(f"the output {out}", nothing):
      yield tmp
      if os.path.exists(out):
        old = tempfile.mkdtemp(dir=parent, prefix=f".{name}.old-")
        os.rename(out, os.path.join(old, name))
        os.rename(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
      else:
        os.rename(tmp, out)
  finally:
    _remove(tmp)


def _remove(path: str) -> None:
  """Removes a failed staging directory; retried, because a failed Orbax
  save may still have a write in flight in its background threads."""
  for attempt in range(50):
    if not os.path.exists(path):
      return
    shutil.rmtree(path, ignore_errors=True)
    time.sleep(0.02 * attempt)
