"""Sentence-pair TSVs with a header row: XNLI 1.0, XNLI-MT 1.0 and PAWS-X.

Columns are found by header name, not position, and every row must have as
many columns as the header. Lines are split on tabs without CSV quoting:
the XNLI files contain unbalanced quote characters inside sentences.
"""

from typing import Callable, Iterator, Sequence

from xferjax.data.readers import common
from xferjax.data.readers import layouts
from xferjax.errors import DataError

# XNLI's label order (as in TFDS `xnli`); XNLI-MT writes "contradictory".
XNLI_LABELS = ("entailment", "neutral", "contradiction")
_XNLI_LABEL_ALIASES = {"contradictory": "contradiction"}

XNLI_FEATURES = {"id": common.STRING, "premise": common.STRING,
                 "hypothesis": common.STRING, "label": common.INT}
PAWSX_FEATURES = {"id": common.STRING, "sentence1": common.STRING,
                  "sentence2": common.STRING, "label": common.INT}

Row = dict[str, str]


def read_header_tsv(path: str, required: Sequence[str],
                    parse_row: Callable[[Row, int], common.Example | None], *,
                    on_error: str = "raise",
                    stats: common.ReadStats | None = None
                   ) -> Iterator[common.Example]:
  """Yields parse_row(row, line_no) for each data row of a headed TSV.

  A header without a `required` column is a DataError (the wrong file);
  a row with the wrong column count is a malformed record.
  """
  common.require_file(path)

  def parse(numbered_line) -> common.Example | None:
    line_no, line, header = numbered_line
    values = common.split_columns(line, line_no, len(header),
                                  ", ".join(header))
    return parse_row(dict(zip(header, values)), line_no)

  return common.parse_each(path, _rows_with_header(path, required), parse,
                           on_error=on_error, stats=stats)


def _rows_with_header(path: str, required: Sequence[str]
                     ) -> Iterator[tuple[int, str, list[str]]]:
  lines = common.iter_lines(path)
  first = next(lines, None)
  header = first[1].split("\t") if first else []
  missing = [name for name in required if name not in header]
  if missing:
    raise DataError(
        f"{path}:1: header lacks column(s) {', '.join(missing)} "
        f"(header: {header})",
        fix="Point the reader at the dataset's original TSV file.")
  for line_no, line in lines:
    if line.strip():
      yield line_no, line, header


def _xnli_label(value: str, line_no: int) -> int:
  name = _XNLI_LABEL_ALIASES.get(value, value)
  if name not in XNLI_LABELS:
    raise common.MalformedRecord(
        "unknown label", f"{value!r} is not one of {', '.join(XNLI_LABELS)}",
        line=line_no)
  return XNLI_LABELS.index(name)


def read_xnli_file(path: str, language: str, *, on_error: str = "raise",
                   stats: common.ReadStats | None = None
                  ) -> Iterator[common.Example]:
  """Rows of `language` from XNLI-1.0/xnli.{dev,test}.tsv (all languages)."""

  def parse_row(row: Row, line_no: int) -> common.Example | None:
    if row["language"] != language:
      return None
    return {"id": row["pairID"], "premise": row["sentence1"],
            "hypothesis": row["sentence2"],
            "label": _xnli_label(row["gold_label"], line_no)}

  return read_header_tsv(
      path, ("language", "gold_label", "sentence1", "sentence2", "pairID"),
      parse_row, on_error=on_error, stats=stats)


def read_multinli_mt_file(path: str, *, on_error: str = "raise",
                          stats: common.ReadStats | None = None
                         ) -> Iterator[common.Example]:
  """XNLI-MT-1.0/multinli/multinli.train.<lang>.tsv (premise, hypo, label)."""

  def parse_row(row: Row, line_no: int) -> common.Example:
    return {"id": f"{line_no - 1}", "premise": row["premise"],
            "hypothesis": row["hypo"],
            "label": _xnli_label(row["label"], line_no)}

  return read_header_tsv(path, ("premise", "hypo", "label"), parse_row,
                         on_error=on_error, stats=stats)


def read_xnli(data_dir: str, split: str, language: str, *,
              on_error: str = "raise",
              stats: common.ReadStats | None = None
             ) -> Iterator[common.Example]:
  """XNLI: train from XNLI-MT (MultiNLI, MT'd), dev/test from XNLI-1.0."""
  (path,) = layouts.get_layout("xnli").resolve(data_dir, split, language)
  if split == "train":
    return read_multinli_mt_file(path, on_error=on_error, stats=stats)
  return read_xnli_file(path, language, on_error=on_error, stats=stats)


def read_pawsx_file(path: str, *, on_error: str = "raise",
                    stats: common.ReadStats | None = None
                   ) -> Iterator[common.Example]:
  """x-final/<lang>/{train,translated_train,dev_2k,test_2k}.tsv."""

  def parse_row(row: Row, line_no: int) -> common.Example:
    if row["label"] not in ("0", "1"):
      raise common.MalformedRecord(
          "unknown label", f"{row['label']!r} is not 0 or 1", line=line_no)
    return {"id": row["id"], "sentence1": row["sentence1"],
            "sentence2": row["sentence2"], "label": int(row["label"])}

  return read_header_tsv(path, ("id", "sentence1", "sentence2", "label"),
                         parse_row, on_error=on_error, stats=stats)


def read_pawsx(data_dir: str, split: str, language: str, *,
               on_error: str = "raise",
               stats: common.ReadStats | None = None
              ) -> Iterator[common.Example]:
  """PAWS-X; train is train.tsv for en, translated_train.tsv otherwise."""
  (path,) = layouts.get_layout("pawsx").resolve(data_dir, split, language)
  return read_pawsx_file(path, on_error=on_error, stats=stats)
