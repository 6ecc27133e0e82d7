"""Typed errors that say what went wrong *and* what to do about it.

Every error a user can cause (bad config, unknown task, malformed data file,
non-finite loss, ...) is raised as a subclass of `XferjaxError`. The CLI prints
such errors as two short lines (what, fix) and exits non-zero, without a
traceback: a traceback is reserved for bugs in xferjax itself.
"""


class XferjaxError(Exception):
  """Base class: `message` says what went wrong, `fix` says what to do."""

  exit_code = 2

  def __init__(self, message: str, fix: str | None = None):
    super().__init__(message)
    self.message = message
    self.fix = fix

  def __str__(self) -> str:
    if self.fix:
      return f"{self.message}\n  fix: {self.fix}"
    return self.message


class ConfigError(XferjaxError):
  """A gin file, binding or macro is missing, unknown or invalid."""


class UnknownTaskError(XferjaxError):
  """A SeqIO task or mixture name is not registered."""


class DataError(XferjaxError):
  """A data file or source is missing or malformed."""


class ShapeError(XferjaxError):
  """Shapes, vocab sizes or mesh axes do not fit together."""


class CheckpointError(XferjaxError):
  """A checkpoint cannot be written or restored."""


class TrainingError(XferjaxError):
  """Training cannot continue (e.g. a non-finite loss)."""
