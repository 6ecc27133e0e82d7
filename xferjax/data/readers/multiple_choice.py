"""Multiple-choice QA: Cosmos QA (CSV) and CommonsenseQA (JSON lines).

Both become {id, context, question, choices, label}, label being the index
of the correct choice (-1 where the release hides it, e.g. CommonsenseQA
test), so one preprocessor serves both intermediate tasks.
"""

import csv
import json
from typing import Iterator

from xferjax.data.readers import common
from xferjax.data.readers import layouts
from xferjax.errors import DataError

FEATURES = {
    "id": common.STRING,
    "context": common.STRING,
    "question": common.STRING,
    "choices": common.STRINGS,
    "label": common.INT,
}

_COSMOSQA_CHOICES = ("answer0", "answer1", "answer2", "answer3")
_COSMOSQA_COLUMNS = ("id", "context", "question") + _COSMOSQA_CHOICES + (
    "label",)


def read_cosmosqa_file(path: str, *, on_error: str = "raise",
                       stats: common.ReadStats | None = None
                      ) -> Iterator[common.Example]:
  """Yields one dict per row of Cosmos QA's train.csv / valid.csv.

  The files are RFC-4180 CSV with CRLF line ends and a header; quoted
  fields may span lines, so records are numbered by their first line.
  """
  common.require_file(path)
  return common.parse_each(path, _csv_records(path), _parse_cosmosqa_row,
                           on_error=on_error, stats=stats)


def _csv_records(path: str) -> Iterator[tuple[int, dict[str, str] | list]]:
  """Yields (first line number, row dict or raw list if the width is off)."""
  lines = (line for _, line in common.iter_lines(path, keep_ends=True))
  reader = csv.reader(lines)
  try:
    header = next(reader, [])
    missing = [c for c in _COSMOSQA_COLUMNS if c not in header]
    if missing:
      raise DataError(
          f"{path}:1: header lacks column(s) {', '.join(missing)} "
          f"(header: {header})",
          fix="Point the reader at Cosmos QA's original CSV file.")
    next_line = reader.line_num + 1
    for row in reader:
      first_line, next_line = next_line, reader.line_num + 1
      if not any(field.strip() for field in row):
        continue
      yield first_line, (dict(zip(header, row)) if len(row) == len(header)
                         else row)
  except csv.Error as err:
    raise DataError(f"{path}:{reader.line_num}: unreadable CSV ({err})",
                    fix="Re-download the file; a quote is unbalanced."
                   ) from None


def _parse_cosmosqa_row(record) -> common.Example:
  line_no, row = record
  if isinstance(row, list):
    raise common.MalformedRecord(
        "wrong column count",
        f"expected {len(_COSMOSQA_COLUMNS)} comma-separated columns "
        f"({', '.join(_COSMOSQA_COLUMNS)}), found {len(row)}", line=line_no)
  label = row["label"].strip()
  if label not in ("0", "1", "2", "3"):
    raise common.MalformedRecord(
        "unknown label", f"{label!r} is not 0, 1, 2 or 3", line=line_no)
  return {"id": row["id"], "context": row["context"],
          "question": row["question"],
          "choices": [row[c] for c in _COSMOSQA_CHOICES],
          "label": int(label)}


def read_cosmosqa(data_dir: str, split: str, *, on_error: str = "raise",
                  stats: common.ReadStats | None = None
                 ) -> Iterator[common.Example]:
  """Cosmos QA train / validation (valid.csv)."""
  (path,) = layouts.get_layout("cosmosqa").resolve(data_dir, split)
  return read_cosmosqa_file(path, on_error=on_error, stats=stats)


def read_commonsenseqa_file(path: str, *, on_error: str = "raise",
                            stats: common.ReadStats | None = None
                           ) -> Iterator[common.Example]:
  """Yields one dict per JSON line of CommonsenseQA (*_rand_split.jsonl).

  Each line: {"id", "question": {"stem", "choices": [{"label", "text"}]},
  "answerKey"}; answerKey is absent in the test file (label -1). There is
  no passage, so "context" is empty.
  """
  common.require_file(path)
  lines = (l for l in common.iter_lines(path) if l[1].strip())
  return common.parse_each(path, lines, _parse_commonsenseqa_line,
                           on_error=on_error, stats=stats)


def _parse_commonsenseqa_line(numbered_line) -> common.Example:
  line_no, line = numbered_line
  try:
    record = json.loads(line)
  except json.JSONDecodeError as err:
    raise common.MalformedRecord("bad JSON", f"{err.msg} (column {err.colno})",
                                 line=line_no) from None

  def field(obj, key: str, kind: type):
    return common.json_field(obj, key, kind, line=line_no)

  question = field(record, "question", dict)
  choices = field(question, "choices", list)
  labels = [field(choice, "label", str) for choice in choices]
  texts = [field(choice, "text", str) for choice in choices]
  answer_key = record.get("answerKey")
  if answer_key is None:
    label = -1
  elif answer_key in labels:
    label = labels.index(answer_key)
  else:
    raise common.MalformedRecord(
        "unknown label",
        f"answerKey {answer_key!r} is not a choice label {labels}",
        line=line_no)
  return {"id": field(record, "id", str), "context": "",
          "question": field(question, "stem", str), "choices": texts,
          "label": label}


def read_commonsenseqa(data_dir: str, split: str, *, on_error: str = "raise",
                       stats: common.ReadStats | None = None
                      ) -> Iterator[common.Example]:
  """CommonsenseQA train / validation / test (test has label -1)."""
  (path,) = layouts.get_layout("commonsenseqa").resolve(data_dir, split)
  return read_commonsenseqa_file(path, on_error=on_error, stats=stats)
