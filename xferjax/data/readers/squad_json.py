"""SQuAD-style JSON (v1.1 and v2.0): SQuAD, XQuAD, MLQA, TyDiQA-GoldP.

One example per question. Answer offsets are checked against the context
(`context[start:start + len(text)] == text`), because a wrong offset silently
trains or scores the model on the wrong span. Files are parsed as JSON, never
by layout: XQuAD's `ro` file is written differently from the others.
"""

import functools
from typing import Any, Iterator

from xferjax.data.readers import common
from xferjax.data.readers import layouts
from xferjax.errors import ConfigError, DataError

FEATURES = {
    "id": common.STRING,
    "title": common.STRING,
    "context": common.STRING,
    "question": common.STRING,
    "answers": {"text": common.STRINGS, "answer_start": common.INTS},
    "is_impossible": common.BOOL,
}


def read_squad_file(path: str, *, id_prefix: str | None = None,
                    on_error: str = "raise",
                    stats: common.ReadStats | None = None
                   ) -> Iterator[common.Example]:
  """Yields one dict per question of a SQuAD-style JSON file.

  Args:
    path: local or gs:// path of the JSON file.
    id_prefix: keep only questions whose id starts with it (TyDiQA-GoldP's
      train file mixes languages; ids start with e.g. "arabic-").
    on_error: "raise" (DataError naming file and question) or "skip".
    stats: optional ReadStats updated with counts.
  """
  common.require_file(path)
  return common.parse_each(
      path, _iter_questions(path),
      functools.partial(_parse_question, id_prefix=id_prefix),
      on_error=on_error, stats=stats)


def _iter_questions(path: str) -> Iterator[tuple[str, Any, Any, Any]]:
  """Yields (where, article, paragraph, qa) with None for missing levels."""
  document = common.read_json(path)
  articles = document.get("data") if isinstance(document, dict) else None
  if not isinstance(articles, list):
    raise DataError(
        f"{path}: not SQuAD-style JSON (no top-level 'data' list)",
        fix="Point the reader at the dataset's original JSON file.")
  for i, article in enumerate(articles):
    paragraphs = (article.get("paragraphs") if isinstance(article, dict)
                  else None)
    if not isinstance(paragraphs, list):
      yield f"data[{i}]", article, None, None
      continue
    for j, paragraph in enumerate(paragraphs):
      qas = paragraph.get("qas") if isinstance(paragraph, dict) else None
      if not isinstance(qas, list):
        yield f"data[{i}].paragraphs[{j}]", article, paragraph, None
        continue
      for k, qa in enumerate(qas):
        yield f"data[{i}].paragraphs[{j}].qas[{k}]", article, paragraph, qa


def _parse_question(raw, *, id_prefix: str | None) -> common.Example | None:
  where, article, paragraph, qa = raw
  if paragraph is None:
    common.json_field(article, "paragraphs", list, where=where)
  if qa is None:
    common.json_field(paragraph, "qas", list, where=where)
  qid = common.json_field(qa, "id", str, where=where)
  where = f"{where}, id {qid}"
  if id_prefix is not None and not qid.startswith(id_prefix):
    return None
  context = common.json_field(paragraph, "context", str, where=where)
  question = common.json_field(qa, "question", str, where=where)
  is_impossible = bool(qa.get("is_impossible", False))
  texts, starts = [], []
  for answer in common.json_field(qa, "answers", list, where=where):
    text = common.json_field(answer, "text", str, where=where)
    start = common.json_field(answer, "answer_start", int, where=where)
    if not text:
      raise common.MalformedRecord(
          "blank answer",
          "answer text is empty; XTREME's download script blanks the gold "
          "answers of evaluation files, read the original release instead",
          where=where)
    found = context[start:start + len(text)]
    if found != text:
      raise common.MalformedRecord(
          "answer offset mismatch",
          f"answer {text!r} at answer_start {start}, but the context there "
          f"reads {found!r}", where=where)
    texts.append(text)
    starts.append(start)
  if not texts and not is_impossible:
    raise common.MalformedRecord(
        "no answers", "answerable question with an empty 'answers' list",
        where=where)
  title = article.get("title", "") if isinstance(article, dict) else ""
  return {
      "id": qid,
      "title": title if isinstance(title, str) else str(title),
      "context": context,
      "question": question,
      "answers": {"text": texts, "answer_start": starts},
      "is_impossible": is_impossible,
  }


# ------------------------------------------------------- dataset entries ---


def read_squad(data_dir: str, split: str, *, version: str = "1.1",
               on_error: str = "raise",
               stats: common.ReadStats | None = None
              ) -> Iterator[common.Example]:
  """SQuAD v1.1 (or v2.0 with version="2.0") train/validation."""
  name = {"1.1": "squad", "2.0": "squad_v2"}.get(version)
  if name is None:
    raise ConfigError(f"unknown SQuAD version {version!r}",
                      fix="Use version='1.1' or version='2.0'.")
  (path,) = layouts.get_layout(name).resolve(data_dir, split)
  return read_squad_file(path, on_error=on_error, stats=stats)


def read_xquad(data_dir: str, split: str, language: str, *,
               on_error: str = "raise",
               stats: common.ReadStats | None = None
              ) -> Iterator[common.Example]:
  """XQuAD (test only): xquad.<language>.json."""
  (path,) = layouts.get_layout("xquad").resolve(data_dir, split, language)
  return read_squad_file(path, on_error=on_error, stats=stats)


def read_mlqa(data_dir: str, split: str, context_language: str,
              question_language: str | None = None, *,
              on_error: str = "raise",
              stats: common.ReadStats | None = None
             ) -> Iterator[common.Example]:
  """MLQA; any (context, question) language pair of its 7 languages.

  XTREME evaluates context == question language (the default); the other
  42 pairs are MLQA's cross-lingual setting (G-XLT).
  """
  question_language = question_language or context_language
  (path,) = layouts.get_layout("mlqa").resolve(
      data_dir, split, context_language, context_lang=context_language,
      question_lang=question_language)
  return read_squad_file(path, on_error=on_error, stats=stats)


def read_tydiqa_goldp(data_dir: str, split: str, language: str, *,
                      on_error: str = "raise",
                      stats: common.ReadStats | None = None
                     ) -> Iterator[common.Example]:
  """TyDiQA-GoldP v1.1; train is one file for all languages, split by id."""
  layout = layouts.get_layout("tydiqa_goldp")
  (path,) = layout.resolve(data_dir, split, language)
  prefix = None
  if split == "train":
    prefix = layouts.TYDIQA_LANGUAGE_NAMES[language] + "-"
  return read_squad_file(path, id_prefix=prefix, on_error=on_error,
                         stats=stats)
