"""Reading and writing the official XTREME submission layout.

A submission is a folder with one subfolder per task and one file per language,
`{root}/{task}/test-{lang}.{tsv|json}`; labels use the same layout. This module
knows the four file formats (see `tasks.TaskSpec.file_format`), turns files
*and* in-memory predictions into the shapes `metrics` scores, and writes model
outputs into that layout (tags aligned to the original words, answer strings
from spans or generated text, BUCC pairs, Tatoeba indices).

Files are read as the official scorer reads them (each line `str.strip()`ped,
blank lines separate tag sentences) so that what we write, and what we score,
is what the official `evaluate.py` scores. Problems raise `DataError` naming
the file.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from xferjax import errors
from xferjax.evaluation import metrics
from xferjax.evaluation import tasks

# ---------------------------------------------------------------------------
# Paths.
# ---------------------------------------------------------------------------


def task_file(root: str | os.PathLike, task: str, language: str) -> str:
  """`{root}/{task}/test-{language}.{ext}`, the official file name."""
  spec = tasks.task_spec(task)
  return os.path.join(os.fspath(root), task,
                      f"test-{language}.{spec.extension}")


# ---------------------------------------------------------------------------
# Low-level reading.
# ---------------------------------------------------------------------------


def _open_text(path: str):
  try:
    return open(path, "r", encoding="utf-8")
  except FileNotFoundError:
    raise errors.DataError(f"{path} does not exist",
                           "write the file, or check the folder you passed"
                           ) from None
  except IsADirectoryError:
    raise errors.DataError(f"{path} is a folder, not a file",
                           "remove or rename it") from None


def read_lines(path: str) -> list[str]:
  """Every line, stripped, blank ones included (the official `read_label`)."""
  with _open_text(path) as f:
    try:
      return [line.strip() for line in f]
    except UnicodeDecodeError as e:
      raise errors.DataError(f"{path} is not UTF-8 text ({e.reason} at byte "
                             f"{e.start})", "save the file as UTF-8") from None


def read_tag_sentences(path: str) -> list[list[str]]:
  """One tag per line, a blank line after each sentence (official `read_tag`).

  Two blank lines in a row make an empty sentence, as in the official reader.
  """
  sentences, current = [], []
  for line in read_lines(path):
    if line:
      current.append(line)
    else:
      sentences.append(current)
      current = []
  if current:
    sentences.append(current)
  return sentences


def read_json(path: str) -> Any:
  with _open_text(path) as f:
    try:
      return json.load(f)
    except json.JSONDecodeError as e:
      raise errors.DataError(
          f"{path} is not valid JSON ({e.msg} at line {e.lineno}, column "
          f"{e.colno})",
          "QA predictions must be one JSON object mapping question id to "
          "answer text, e.g. {\"q1\": \"Paris\"}") from None
    except UnicodeDecodeError as e:
      raise errors.DataError(f"{path} is not UTF-8 text ({e.reason})",
                             "save the file as UTF-8") from None


# ---------------------------------------------------------------------------
# Coercion: files and in-memory values -> the shapes metrics score.
# ---------------------------------------------------------------------------


def _label_string(value: Any, where: str) -> str:
  if isinstance(value, str):
    return value.strip()
  if isinstance(value, bool) or not hasattr(value, "__index__"):
    raise errors.DataError(
        f"{where}: label {value!r} is neither a string nor an integer",
        "pass class names / label strings, or integer indices")
  return str(int(value))


def coerce_labels(values: Sequence[Any], where: str) -> list[str]:
  """Label strings as a file would give them (integers become '3')."""
  if isinstance(values, (str, bytes)):
    raise errors.DataError(f"{where}: expected a list of labels, got a string",
                           "pass one label per example")
  return [_label_string(v, where) for v in values]


def coerce_tags(sentences: Sequence[Sequence[str]],
                where: str) -> list[list[str]]:
  out = []
  for index, sentence in enumerate(sentences):
    if isinstance(sentence, str):
      raise errors.DataError(
          f"{where}: sentence {index + 1} is a string, not a list of tags",
          "pass a list of tag lists, one tag per original token")
    tags = [str(t).strip() for t in sentence]
    if any(not t for t in tags):
      raise errors.DataError(f"{where}: sentence {index + 1} has an empty tag",
                             "every token needs a non-empty tag")
    out.append(tags)
  return out


def _questions_from_squad(data: Any, where: str) -> list[metrics.Question]:
  if isinstance(data, Mapping) and "data" in data:
    data = data["data"]
  if not isinstance(data, list):
    raise errors.DataError(
        f"{where}: expected SQuAD JSON ({{\"data\": [articles]}})",
        "use the official XTREME label files")
  questions = []
  try:
    for article in data:
      for paragraph in article["paragraphs"]:
        for qa in paragraph["qas"]:
          questions.append(metrics.Question(
              str(qa["id"]), tuple(a["text"] for a in qa["answers"])))
  except (KeyError, TypeError) as e:
    raise errors.DataError(
        f"{where}: not SQuAD format (missing or malformed {e})",
        "each article needs paragraphs -> qas -> {id, answers: [{text}]}"
        ) from None
  return questions


def coerce_questions(value: Any, where: str) -> list[metrics.Question]:
  """Gold QA from SQuAD JSON, `Question`s, or {id: [answer texts]}."""
  if isinstance(value, Mapping) and "data" not in value:
    questions = []
    for qid, answers in value.items():
      if isinstance(answers, str):
        answers = [answers]
      questions.append(metrics.Question(str(qid), tuple(answers)))
    return questions
  if (isinstance(value, Sequence) and value
      and all(isinstance(q, metrics.Question) for q in value)):
    return list(value)
  return _questions_from_squad(value, where)


def coerce_answers(value: Any, where: str) -> dict[str, str]:
  """QA predictions: a JSON object mapping question id to answer text."""
  if not isinstance(value, Mapping):
    raise errors.DataError(
        f"{where}: QA predictions must be a JSON object {{id: answer}}, got "
        f"{type(value).__name__}",
        "write {\"question id\": \"answer text\", ...}")
  for qid, answer in value.items():
    if not isinstance(answer, str):
      raise errors.DataError(
          f"{where}: the answer for {qid!r} is {type(answer).__name__}, not "
          "a string",
          "write the answer text itself (\"\" for no answer)")
  return {str(k): v for k, v in value.items()}


def coerce_pairs(values: Iterable[Any], where: str) -> list[tuple[str, ...]]:
  """BUCC pairs: 'src\\ttgt' lines or (src, tgt) tuples, as tuples."""
  pairs = []
  for value in values:
    if isinstance(value, str):
      pairs.append(tuple(value.split("\t")))
    elif isinstance(value, Sequence) and len(value) == 2:
      pairs.append((str(value[0]), str(value[1])))
    else:
      raise errors.DataError(f"{where}: {value!r} is not a BUCC pair",
                             "pass 'src_id\\ttgt_id' strings or (src, tgt)")
  return pairs


# ---------------------------------------------------------------------------
# Writing.
# ---------------------------------------------------------------------------


def _write_text(path: str, text: str) -> str:
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    f.write(text)
  return path


def _single_line(value: str, where: str) -> str:
  if "\n" in value or "\r" in value or value != value.strip():
    raise errors.DataError(
        f"{where}: {value!r} would not survive the one-per-line format",
        "labels and tags must be non-blank, single-line, without surrounding "
        "whitespace")
  return value


def write_labels(path: str, labels: Sequence[Any]) -> str:
  """One label per line (XNLI, PAWS-X classes; Tatoeba indices)."""
  lines = [_single_line(v, path) for v in coerce_labels(labels, path)]
  return _write_text(path, "".join(line + "\n" for line in lines))


def write_tag_sentences(path: str, sentences: Sequence[Sequence[str]]) -> str:
  """One tag per line, a blank line after every sentence."""
  blocks = []
  for sentence in coerce_tags(sentences, path):
    blocks.append("".join(_single_line(t, path) + "\n" for t in sentence)
                  + "\n")
  return _write_text(path, "".join(blocks))


def write_answers(path: str, answers: Mapping[str, str]) -> str:
  """{question id: answer text} as JSON, UTF-8, non-ASCII kept readable."""
  answers = coerce_answers(answers, path)
  return _write_text(path, json.dumps(answers, ensure_ascii=False, indent=2))


def write_questions(path: str, questions: Sequence[metrics.Question]) -> str:
  """Gold QA as minimal SQuAD JSON (to build label folders for dev sets)."""
  qas = [{"id": q.id, "answers": [{"text": t} for t in q.answers]}
         for q in questions]
  data = {"data": [{"paragraphs": [{"qas": qas}]}]}
  return _write_text(path, json.dumps(data, ensure_ascii=False, indent=2))


def write_pairs(path: str, pairs: Iterable[Any]) -> str:
  """Mined BUCC pairs, 'src_id<TAB>tgt_id' per line."""
  lines = []
  for pair in coerce_pairs(pairs, path):
    if len(pair) != 2 or any("\t" in p or "\n" in p for p in pair):
      raise errors.DataError(f"{path}: {pair!r} is not a clean id pair",
                             "ids may not contain tabs or newlines")
    lines.append("\t".join(pair) + "\n")
  return _write_text(path, "".join(lines))


# ---------------------------------------------------------------------------
# The four formats, as a table.
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FileFormat:
  """How one kind of file is read (labels and predictions may differ for QA),
  how in-memory values are brought into the same shape, and how it is written.
  """
  read_labels: Callable[[str], Any]
  read_predictions: Callable[[str], Any]
  coerce_labels: Callable[[Any, str], Any]
  coerce_predictions: Callable[[Any, str], Any]
  write_predictions: Callable[[str, Any], str]


FILE_FORMATS: Mapping[str, FileFormat] = {
    "labels": FileFormat(read_lines, read_lines, coerce_labels, coerce_labels,
                         write_labels),
    "tags": FileFormat(read_tag_sentences, read_tag_sentences, coerce_tags,
                       coerce_tags, write_tag_sentences),
    "squad": FileFormat(
        lambda p: coerce_questions(read_json(p), p),
        lambda p: coerce_answers(read_json(p), p),
        coerce_questions, coerce_answers, write_answers),
    "pairs": FileFormat(lambda p: coerce_pairs(read_lines(p), p),
                        lambda p: coerce_pairs(read_lines(p), p),
                        coerce_pairs, coerce_pairs, write_pairs),
}


def file_format(task: str) -> FileFormat:
  return FILE_FORMATS[tasks.task_spec(task).file_format]


def write_task_predictions(root: str | os.PathLike, task: str,
                           predictions_by_language: Mapping[str, Any]
                           ) -> list[str]:
  """Writes `{root}/{task}/test-{lang}.*` for every language given.

  Values are what the task's format holds: labels (XNLI, PAWS-X, Tatoeba
  indices), tag lists per sentence (PAN-X, UDPOS), {id: answer} (QA), id pairs
  (BUCC). Returns the paths written.
  """
  writer = file_format(task).write_predictions
  return [writer(task_file(root, task, language), predictions)
          for language, predictions in predictions_by_language.items()]


# ---------------------------------------------------------------------------
# Turning model outputs into submission values.
# ---------------------------------------------------------------------------


def word_tags_from_subword_tags(word_ids: Sequence[int | None],
                                subword_tags: Sequence[str], num_words: int,
                                fill: str) -> list[str]:
  """Tags for the original words from per-sub-token predictions.

  Each word takes the tag predicted on its first sub-token (XTREME's
  convention); `word_ids[i]` is the word of sub-token i, None for special and
  padding tokens. Words with no sub-token (cut by truncation) get `fill`
  ("O" is the natural choice for NER), so the file keeps one tag per word.
  """
  if len(word_ids) != len(subword_tags):
    raise errors.ShapeError(
        f"{len(word_ids)} word ids but {len(subword_tags)} sub-token tags",
        "pass the word id of every sub-token, None for special tokens")
  tags: list[str | None] = [None] * num_words
  for word, tag in zip(word_ids, subword_tags):
    if word is None:
      continue
    if not 0 <= word < num_words:
      raise errors.ShapeError(f"word id {word} outside 0..{num_words - 1}",
                              "word ids must index the sentence's words")
    if tags[word] is None:
      tags[word] = tag
  return [fill if t is None else t for t in tags]


def answer_from_char_span(context: str, start: int, end: int) -> str:
  """The answer text `context[start:end]` (end exclusive), validated."""
  if not 0 <= start <= end <= len(context):
    raise errors.ShapeError(
        f"answer span [{start}, {end}) outside a context of {len(context)} "
        "characters", "map token positions to character offsets of the "
        "original context")
  return context[start:end]


def answer_from_token_span(context: str,
                           token_offsets: Sequence[tuple[int, int]],
                           start_token: int, end_token: int) -> str:
  """Answer text from predicted token positions (end inclusive).

  `token_offsets[i]` is token i's (start, end) character span in `context`,
  as tokenizers' offset mappings give it; the answer runs from the first
  token's start to the last token's end, so the original spacing and
  characters of the context are kept (what SQuAD-style scoring expects).
  """
  if not 0 <= start_token <= end_token < len(token_offsets):
    raise errors.ShapeError(
        f"token span [{start_token}, {end_token}] outside "
        f"{len(token_offsets)} tokens", "pick start <= end within the context")
  return answer_from_char_span(context, token_offsets[start_token][0],
                               token_offsets[end_token][1])


def answer_from_generated_text(text: str) -> str:
  """A generated answer, trimmed (the scorers ignore outer whitespace)."""
  return text.strip()
