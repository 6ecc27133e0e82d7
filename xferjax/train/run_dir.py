"""The run directory: created and probed up front, write failures explained.

A run that cannot write its directory should fail before it spends an hour
training, and a disk that fills up mid-run should say so in one line (and
that the previous checkpoints are intact) instead of a tensorstore
traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from typing import Callable

from xferjax import errors

_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
# OSErrors that mean "this storage cannot take the write" (not a bug).
_WRITE_FAILURES = _DISK_FULL | {errno.EROFS, errno.EACCES, errno.EPERM,
                                errno.EIO}
_DISK_FULL_TEXT = ("No space left on device", "Disk quota exceeded",
                   "File too large", "RESOURCE_EXHAUSTED")


def prepare(model_dir: str) -> None:
  """Creates `model_dir` and proves a file can be written in it."""
  try:
    os.makedirs(model_dir, exist_ok=True)
    fd, probe = tempfile.mkstemp(dir=model_dir, prefix=".write-probe-")
    os.close(fd)
    os.unlink(probe)
  except OSError as e:
    raise errors.CheckpointError(
        f"cannot write to the run directory {model_dir}: "
        f"{e.strerror or e}",
        "choose a MODEL_DIR you can write to (or fix its permissions); "
        "nothing was written") from None


def disk_full_reason(e: BaseException) -> str | None:
  """The storage's words for "no room" ("No space left on device", ...)
  found in `e` or its causes (tensorstore reports them inside long
  messages), or None."""
  while e is not None:
    if isinstance(e, OSError) and e.errno in _DISK_FULL:
      return e.strerror or os.strerror(e.errno)
    for text in _DISK_FULL_TEXT:
      if text in str(e):
        return text
    e = e.__cause__ or e.__context__
  return None


def is_disk_full(e: BaseException) -> bool:
  return disk_full_reason(e) is not None


def first_line(e: BaseException) -> str:
  text = str(e).strip()
  return (text.splitlines()[0] if text else type(e).__name__)[:300]


def write_error(what: str, e: BaseException,
                last_good: str) -> errors.CheckpointError:
  """A CheckpointError for a failed write, naming what survives."""
  reason = disk_full_reason(e)
  if reason:
    return errors.CheckpointError(
        f"the disk is full ({reason}): writing {what} failed "
        f"({first_line(e)})",
        f"free space or move MODEL_DIR to a larger disk, then re-run the "
        f"same command: {last_good}")
  return errors.CheckpointError(
      f"writing {what} failed: {first_line(e)}",
      f"check the run directory's storage, then re-run the same command: "
      f"{last_good}")


@contextlib.contextmanager
def explain_write_errors(what: str, last_good: Callable[[], str]):
  """Turns storage OSErrors (disk full, read-only, permissions) raised
  inside into CheckpointErrors; `last_good()` says what is still intact."""
  try:
    yield
  except OSError as e:
    if e.errno not in _WRITE_FAILURES:
      raise
    raise write_error(what, e, last_good()) from None
