"""Plumbing shared by every reader: file access, line numbering, error policy.

Why one module: the rules "open local and gs:// paths the same way", "name
file and line in every complaint" and "on_error='skip' counts instead of
raising" must hold for all formats, so they are written once, here.

Readers are plain-Python generators of dicts. TensorFlow is used only (and
only if installed) for `tf.io.gfile`, so a gs:// path and a local path go
through the same code.
"""

import collections
import dataclasses
import glob as pyglob
import json
import logging
import os
from typing import Any, Callable, Iterable, Iterator

from xferjax.errors import ConfigError, DataError

ON_ERROR_CHOICES = ("raise", "skip")
SKIP_FIX = ("Correct or delete that record, or read with on_error='skip' to "
            "skip malformed records and count them in ReadStats.")
_CHUNK_BYTES = 1 << 20
_MAX_KEPT_PROBLEMS = 20

Example = dict[str, Any]


# ---------------------------------------------------------------- errors ---


class MalformedRecord(Exception):
  """Raised by a record parser; `parse_each` applies the on_error policy.

  `kind` is a short category ("wrong column count", "bad JSON", ...) used to
  count skips; `detail` says what exactly was wrong; `line` (1-based) or
  `where` (e.g. a JSON path) locates the record inside its file.
  """

  def __init__(self, kind: str, detail: str = "", *, line: int | None = None,
               where: str | None = None):
    super().__init__(f"{kind}: {detail}" if detail else kind)
    self.kind = kind
    self.detail = detail
    self.line = line
    self.where = where

  def describe(self, path: str) -> str:
    location = path
    if self.line is not None:
      location += f":{self.line}"
    if self.where:
      location += f" ({self.where})"
    return f"{location}: {self}"


class DropRecord(Exception):
  """Raised by a parser for a well-formed record that is left out by design.

  Example: UD treebanks whose text is withheld for licence reasons (every
  form is "_"). Never an error; counted in `ReadStats.dropped`.
  """

  def __init__(self, reason: str):
    super().__init__(reason)
    self.reason = reason


@dataclasses.dataclass
class ReadStats:
  """What a read produced and what it left out; pass one in to see counts."""

  records: int = 0
  malformed: collections.Counter = dataclasses.field(
      default_factory=collections.Counter)
  dropped: collections.Counter = dataclasses.field(
      default_factory=collections.Counter)
  problems: list[str] = dataclasses.field(default_factory=list)
  files: list[str] = dataclasses.field(default_factory=list)

  @property
  def skipped(self) -> int:
    """Number of malformed records skipped (on_error='skip')."""
    return sum(self.malformed.values())

  def summary(self) -> str:
    parts = [f"{self.records} records from {len(self.files)} file(s)"]
    if self.malformed:
      kinds = ", ".join(f"{k}: {n}" for k, n in self.malformed.most_common())
      parts.append(f"{self.skipped} malformed skipped ({kinds})")
    if self.dropped:
      kinds = ", ".join(f"{k}: {n}" for k, n in self.dropped.most_common())
      parts.append(f"{sum(self.dropped.values())} dropped ({kinds})")
    return "; ".join(parts)


def check_on_error(on_error: str) -> str:
  if on_error not in ON_ERROR_CHOICES:
    raise ConfigError(
        f"on_error={on_error!r} is not a valid choice",
        fix=f"Use one of: {', '.join(ON_ERROR_CHOICES)}.")
  return on_error


def parse_each(path: str, raw_records: Iterable[Any],
               parse: Callable[[Any], Example | None], *, on_error: str,
               stats: ReadStats | None) -> Iterator[Example]:
  """Yields `parse(raw)` for each raw record of `path`, applying `on_error`.

  `parse` returns an example, returns None for a record filtered out on
  purpose (e.g. another language), raises `DropRecord` for a record dropped by
  design, and raises `MalformedRecord` for a broken one.
  """
  check_on_error(on_error)
  stats = stats if stats is not None else ReadStats()
  stats.files.append(path)
  skipped_here = 0
  for raw in raw_records:
    try:
      example = parse(raw)
    except DropRecord as drop:
      stats.dropped[drop.reason] += 1
      continue
    except MalformedRecord as bad:
      message = bad.describe(path)
      if on_error == "raise":
        raise DataError(message, fix=SKIP_FIX) from None
      stats.malformed[bad.kind] += 1
      skipped_here += 1
      if len(stats.problems) < _MAX_KEPT_PROBLEMS:
        stats.problems.append(message)
      continue
    if example is not None:
      stats.records += 1
      yield example
  if skipped_here:
    logging.warning("Skipped %d malformed record(s) in %s (first: %s)",
                    skipped_here, path, stats.problems[0])


# ------------------------------------------------------------ file access ---


def _tensorflow():
  """The tensorflow module if installed, else None (local paths only)."""
  try:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
  except ImportError:
    return None
  return tf


def _is_remote(path: str) -> bool:
  return "://" in path


def _fs_for(path: str):
  """tf.io.gfile, or None to use the os module for a local path."""
  tf = _tensorflow()
  if tf is None and _is_remote(path):
    raise DataError(f"cannot open {path}: reading non-local paths needs "
                    "tensorflow (tf.io.gfile)",
                    fix="pip install tensorflow, or copy the data locally.")
  return tf.io.gfile if tf else None


def join(*parts: str) -> str:
  return os.path.join(*parts)


def exists(path: str) -> bool:
  gfile = _fs_for(path)
  return gfile.exists(path) if gfile else os.path.exists(path)


def glob(pattern: str) -> list[str]:
  """Sorted matches of a glob pattern (wildcards allowed in directories)."""
  gfile = _fs_for(pattern)
  if gfile is None:
    return sorted(pyglob.glob(pattern))
  try:
    return sorted(gfile.glob(pattern))
  except _tensorflow().errors.NotFoundError:  # E.g. a missing gs:// folder.
    return []


def require_file(path: str, fix: str | None = None) -> str:
  if not exists(path):
    raise DataError(f"data file not found: {path}",
                    fix=fix or "Check the path and that the download finished.")
  return path


def _open_binary(path: str):
  require_file(path)
  gfile = _fs_for(path)
  return gfile.GFile(path, "rb") if gfile else open(path, "rb")


def read_text(path: str) -> str:
  """Whole file as text (UTF-8, BOM dropped)."""
  with _open_binary(path) as f:
    data = f.read()
  try:
    return data.decode("utf-8-sig")
  except UnicodeDecodeError as err:
    line = data[:err.start].count(b"\n") + 1
    raise DataError(f"{path}:{line}: not valid UTF-8 ({err.reason})",
                    fix="Re-download the file; the official release is "
                    "UTF-8.") from None


def iter_lines(path: str, keep_ends: bool = False) -> Iterator[tuple[int, str]]:
  """Yields (1-based line number, line) decoded from UTF-8, BOM dropped.

  Streams in chunks and splits on "\\n" itself, so CRLF files read the same
  from local disk and from gs:// (gfile's own readline drops "\\r").
  Without `keep_ends`, the trailing "\\n" or "\\r\\n" is removed.
  """
  with _open_binary(path) as f:
    pending = b""
    line_no = 0
    while True:
      chunk = f.read(_CHUNK_BYTES)
      if not chunk:
        break
      pieces = (pending + chunk).split(b"\n")
      pending = pieces.pop()
      for piece in pieces:
        line_no += 1
        yield line_no, _decode_line(path, line_no, piece + b"\n", keep_ends)
    if pending:
      line_no += 1
      yield line_no, _decode_line(path, line_no, pending, keep_ends)


def _decode_line(path: str, line_no: int, raw: bytes, keep_ends: bool) -> str:
  if line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
    raw = raw[3:]
  try:
    text = raw.decode("utf-8")
  except UnicodeDecodeError as err:
    raise DataError(f"{path}:{line_no}: not valid UTF-8 ({err.reason})",
                    fix="Re-download the file; the official release is "
                    "UTF-8.") from None
  if not keep_ends:
    text = text.rstrip("\n")
    if text.endswith("\r"):
      text = text[:-1]
  return text


def read_json(path: str) -> Any:
  """Parses a whole JSON file; bad JSON is a DataError naming line/column."""
  text = read_text(path)
  try:
    return json.loads(text)
  except json.JSONDecodeError as err:
    raise DataError(
        f"{path}:{err.lineno}: bad JSON: {err.msg} (column {err.colno})",
        fix="Re-download the file; it is truncated or was edited.") from None


def json_field(obj: Any, key: str, kind: type, *, line: int | None = None,
               where: str | None = None) -> Any:
  """obj[key] if obj is a dict and the value has type `kind`.

  Anything else (missing key, null, wrong type, a bool where an int is
  expected) is a MalformedRecord located by `line` or `where`.
  """
  value = obj.get(key) if isinstance(obj, dict) else None
  bool_for_int = kind is int and isinstance(value, bool)
  if not isinstance(value, kind) or bool_for_int:
    raise MalformedRecord(
        "missing or mistyped field",
        f"{key!r} should be {kind.__name__}, got {type(value).__name__}",
        line=line, where=where)
  return value


Block = list[tuple[int, str]]


def iter_blocks(path: str) -> Iterator[Block]:
  """Yields groups of non-blank (line number, line) separated by blank lines.

  The shape of CoNLL-U and of PAN-X/WikiAnn files: one sentence per block.
  """
  block: Block = []
  for line_no, line in iter_lines(path):
    if line.strip():
      block.append((line_no, line))
    elif block:
      yield block
      block = []
  if block:
    yield block


def split_columns(line: str, line_no: int, expected: int, names: str,
                  sep: str = "\t") -> list[str]:
  """Splits a delimited line; a wrong count is a MalformedRecord."""
  columns = line.split(sep)
  if len(columns) != expected:
    raise MalformedRecord(
        "wrong column count",
        f"expected {expected} tab-separated columns ({names}), "
        f"found {len(columns)}", line=line_no)
  return columns


def write_text(path: str, text: str) -> None:
  """Writes a UTF-8 text file (local or gs://), creating parent folders."""
  gfile = _fs_for(path)
  parent = os.path.dirname(path)
  if gfile:
    if parent:
      gfile.makedirs(parent)
    with gfile.GFile(path, "wb") as f:
      f.write(text.encode("utf-8"))
  else:
    if parent:
      os.makedirs(parent, exist_ok=True)
    with open(path, "wb") as f:
      f.write(text.encode("utf-8"))


# ------------------------------------------------------- feature schemas ---


@dataclasses.dataclass(frozen=True)
class Feature:
  """Type of one example field, declared next to its reader.

  Lets the SeqIO adapter build `tf.TensorSpec`s without readers importing
  TensorFlow. `is_list` fields are 1-D and variable-length.
  """

  dtype: str  # "string", "int32" or "bool"
  is_list: bool = False


STRING = Feature("string")
STRINGS = Feature("string", is_list=True)
INT = Feature("int32")
INTS = Feature("int32", is_list=True)
BOOL = Feature("bool")
