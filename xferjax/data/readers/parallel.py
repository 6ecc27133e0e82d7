"""Sentence-retrieval data: Tatoeba (LASER v1) and BUCC 2018.

Tatoeba: `tatoeba.<xxx>-eng.<xxx>` and `tatoeba.<xxx>-eng.eng`, one sentence
per line, the two files aligned by line (ISO 639-3 codes in file names).
BUCC 2018: `<xx>-en.<split>.<xx>` and `.en` with `id<TAB>sentence` lines,
and `.gold` with `source_id<TAB>target_id` lines.
"""

import itertools
from typing import Iterator

from xferjax.data.readers import common
from xferjax.data.readers import layouts
from xferjax.errors import ConfigError, DataError

TATOEBA_FEATURES = {
    "index": common.INT,
    "source_language": common.STRING,
    "source": common.STRING,
    "target": common.STRING,
}
BUCC_SENTENCE_FEATURES = {"id": common.STRING, "sentence": common.STRING}
BUCC_GOLD_FEATURES = {"source_id": common.STRING, "target_id": common.STRING}


def read_aligned_files(source_path: str, target_path: str, *,
                       source_language: str, on_error: str = "raise",
                       stats: common.ReadStats | None = None
                      ) -> Iterator[common.Example]:
  """Yields {index, source_language, source, target} per aligned line pair.

  Files of different lengths are not aligned at all, so that is a DataError
  whatever `on_error` says; an empty line on either side is one malformed
  pair.
  """
  common.require_file(source_path)
  common.require_file(target_path)
  pairs = itertools.zip_longest(common.iter_lines(source_path),
                                common.iter_lines(target_path))

  def parse(pair) -> common.Example:
    source, target = pair
    if source is None or target is None:
      shorter = source_path if source is None else target_path
      line = (target or source)[0]
      raise DataError(
          f"{shorter} ends before line {line} of its aligned file; the two "
          "sides have different line counts",
          fix="Re-download both files of the pair from the same release.")
    line_no = source[0]
    for side, (_, text) in (("source", source), ("target", target)):
      if not text.strip():
        raise common.MalformedRecord("empty sentence", f"on the {side} side",
                                     line=line_no)
    return {"index": line_no - 1, "source_language": source_language,
            "source": source[1], "target": target[1]}

  return common.parse_each(source_path, pairs, parse, on_error=on_error,
                           stats=stats)


def read_tatoeba(data_dir: str, split: str, language: str, *,
                 on_error: str = "raise",
                 stats: common.ReadStats | None = None
                ) -> Iterator[common.Example]:
  """Tatoeba `language`-English pairs (XTREME 2-letter code, e.g. "zh")."""
  source_path, target_path = layouts.get_layout("tatoeba").resolve(
      data_dir, split, language)
  return read_aligned_files(source_path, target_path,
                            source_language=language, on_error=on_error,
                            stats=stats)


def read_bucc_sentences_file(path: str, *, on_error: str = "raise",
                             stats: common.ReadStats | None = None
                            ) -> Iterator[common.Example]:
  """Yields {id, sentence} per `id<TAB>sentence` line of a BUCC file."""
  return _read_two_columns(path, ("id", "sentence"), on_error, stats)


def read_bucc_gold_file(path: str, *, on_error: str = "raise",
                        stats: common.ReadStats | None = None
                       ) -> Iterator[common.Example]:
  """Yields {source_id, target_id} per line of a BUCC .gold file."""
  return _read_two_columns(path, ("source_id", "target_id"), on_error, stats)


def _read_two_columns(path: str, names: tuple[str, str], on_error: str,
                      stats: common.ReadStats | None
                     ) -> Iterator[common.Example]:
  common.require_file(path)

  def parse(numbered_line) -> common.Example:
    line_no, line = numbered_line
    columns = common.split_columns(line, line_no, 2, ", ".join(names))
    if not all(c.strip() for c in columns):
      raise common.MalformedRecord("empty field", line=line_no)
    return dict(zip(names, columns))

  return common.parse_each(
      path, (l for l in common.iter_lines(path) if l[1].strip()), parse,
      on_error=on_error, stats=stats)


def read_bucc(data_dir: str, split: str, language: str, side: str, *,
              on_error: str = "raise",
              stats: common.ReadStats | None = None
             ) -> Iterator[common.Example]:
  """BUCC 2018 sentences of one side: side=language (e.g. "de") or "en"."""
  if side not in (language, "en"):
    raise ConfigError(
        f"BUCC side {side!r} is neither {language!r} nor 'en'",
        fix=f"Use side={language!r} or side='en'.")
  (path,) = layouts.get_layout("bucc2018").resolve(data_dir, split, language,
                                                    side=side)
  return read_bucc_sentences_file(path, on_error=on_error, stats=stats)


def read_bucc_gold(data_dir: str, split: str, language: str, *,
                   on_error: str = "raise",
                   stats: common.ReadStats | None = None
                  ) -> Iterator[common.Example]:
  """BUCC 2018 gold pairs (source id in `language`, target id in English)."""
  (path,) = layouts.get_layout("bucc2018").resolve(data_dir, split, language,
                                                    side="gold")
  return read_bucc_gold_file(path, on_error=on_error, stats=stats)
