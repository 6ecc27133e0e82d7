"""Scores XTREME predictions exactly as the official `evaluate.py` does.

`score_task` works on in-memory predictions (the trainer's per-language
evaluation every N steps); `score_submission` reads a submission folder and
returns the dict the official scorer writes for `--xtreme_version xtreme`:

    {"all_task": ..,          # only when all nine tasks are there
     "classification": ..,    # a group only when all its tasks are there
     "tagging": .., "qa": .., "retrieval": ..,
     "pawsx": {"accuracy": {"de": 51.4, ..}, "avg_accuracy": ..,
               "avg_metric": ..},
     ...}

Values are 0-100. Behaviour kept from the official scorer (documented because
users will hit it): a task is scored only if its folder exists in both the
predictions and the labels; then every official language must be present; a
QA question without a prediction scores 0. Differences, all for clearer errors:
missing or malformed files raise `DataError` naming the file instead of a
traceback, and a submission with no task in common with the labels is an error
instead of an empty result. `all_task` sums the task averages in table order;
the official script sums over a Python `set`, whose order (hence the last bit
of the float) changes with PYTHONHASHSEED.

Extras that are *not* XTREME metrics (UDPOS token accuracy) are returned
separately by `evaluate_submission` and never enter the official dict.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from typing import Any

from xferjax import errors
from xferjax.evaluation import metrics
from xferjax.evaluation import submission
from xferjax.evaluation import tasks


@dataclasses.dataclass
class TaskResult:
  """One task's official scores, its extras, and notes worth printing."""
  scores: dict
  extras: dict
  notes: list[str]


def _average(per_language: Mapping[str, float]) -> float:
  # Same arithmetic as the official script: Python sum in language order.
  return sum(per_language.values()) / len(per_language)


def _with_averages(spec: tasks.TaskSpec, per_metric: dict) -> dict:
  scores = dict(per_metric)
  for metric in per_metric:
    scores[f"avg_{metric}"] = _average(per_metric[metric])
  headline = [scores[f"avg_{m}"] for m in spec.headline]
  scores["avg_metric"] = (headline[0] if len(headline) == 1
                          else sum(headline) / len(headline))
  return scores


def _languages_to_score(spec: tasks.TaskSpec,
                        labels_by_language: Mapping[str, Any]) -> list[str]:
  official = [l for l in spec.languages if l in labels_by_language]
  others = [l for l in labels_by_language if l not in spec.languages]
  return official + others


def _score_languages(spec: tasks.TaskSpec, languages: Iterable[str],
                     load, seqeval: str) -> TaskResult:
  """Scores each language from `load(language) -> (labels, predictions,
  where)`, keeping the official metric order and language order."""
  per_metric: dict[str, dict[str, float]] = {}
  per_extra: dict[str, dict[str, float]] = {}
  notes: list[str] = []
  for language in languages:
    labels, predictions, where = load(language)
    scores, language_notes = spec.score(labels, predictions, language, where,
                                        seqeval)
    notes.extend(language_notes)
    for metric, value in scores.items():
      # Kept as the metric returns it: the official BUCC scorer writes an
      # int 0 when nothing is correct, and JSON shows it as 0, not 0.0.
      per_metric.setdefault(metric, {})[language] = value
    if spec.extra is not None:
      for metric, value in spec.extra(labels, predictions).items():
        per_extra.setdefault(metric, {})[language] = float(value)
  extras = dict(per_extra)
  for metric in per_extra:
    extras[f"avg_{metric}"] = _average(per_extra[metric])
  return TaskResult(_with_averages(spec, per_metric), extras, notes)


def score_task_detailed(task: str, predictions_by_language: Mapping[str, Any],
                        labels_by_language: Mapping[str, Any], *,
                        seqeval: str = metrics.DEFAULT_SEQEVAL) -> TaskResult:
  """`score_task` plus extras and notes (e.g. unanswered QA questions)."""
  spec = tasks.task_spec(task)
  if not labels_by_language:
    raise errors.DataError(f"no {task} labels given",
                           "pass {language: labels} for at least one language")
  fmt = submission.FILE_FORMATS[spec.file_format]

  def load(language):
    where = f"{task} predictions for {language!r}"
    if language not in predictions_by_language:
      raise errors.DataError(
          f"{where} are missing (labels have {language!r})",
          "predict every language you pass labels for")
    return (fmt.coerce_labels(labels_by_language[language],
                              f"{task} labels for {language!r}"),
            fmt.coerce_predictions(predictions_by_language[language], where),
            where)

  return _score_languages(spec, _languages_to_score(spec, labels_by_language),
                          load, seqeval)


def score_task(task: str, predictions_by_language: Mapping[str, Any],
               labels_by_language: Mapping[str, Any], *,
               seqeval: str = metrics.DEFAULT_SEQEVAL) -> dict:
  """Official per-language metrics and averages of one task, in memory.

  This is what an evaluator calls after predicting one task's languages:
  `{language: predictions}` against `{language: labels}`, one entry per
  language, in the shape of the task's head:

    head (tasks)                   predictions           labels
    classification (xnli, pawsx)   [label str or int]    [label str or int]
    tagging (panx, udpos)          [[tag per word]]      [[tag per word]]
    span / text (xquad, mlqa,      {question id: answer  SQuAD JSON, [Question]
      tydiqa)                        text}                 or {id: [answers]}
    retrieval (bucc2018)           [(src id, tgt id)]    [(src id, tgt id)]
    retrieval (tatoeba)            [index per English    [gold index]
                                     sentence]

  Ints become their decimal strings, so class indices and label names both
  work if labels and predictions use the same kind. Tags must be per
  original word (`submission.word_tags_from_subword_tags`), answers the text
  itself (`submission.answer_from_token_span` / `answer_from_generated_text`),
  BUCC pairs the mined submission (`retrieval.bucc_evaluate(...)
  ["test_pairs"]`), Tatoeba indices `retrieval.tatoeba_evaluate(...)
  ["predictions"]`.

  Scores every language in `labels_by_language` (official languages first, in
  official order, then any others; languages only in the predictions are
  ignored); each needs predictions, or a `DataError` names it. Returns the
  official dict of the task, 0-100, e.g. {"f1": {"de": ..}, "precision":
  {..}, "recall": {..}, "avg_f1": .., ..., "avg_metric": ..}; for extras (UDPOS
  token accuracy) and notes (unanswered questions) use `score_task_detailed`.
  """
  return score_task_detailed(task, predictions_by_language,
                             labels_by_language, seqeval=seqeval).scores


def _subfolders(root: str, role: str) -> set[str]:
  if not os.path.isdir(root):
    raise errors.DataError(
        f"{role} folder {root} does not exist or is not a folder",
        "pass the folder holding one subfolder per task (udpos, panx, ...)")
  return {e.name for e in os.scandir(root) if e.is_dir()}


def _score_task_folder(spec: tasks.TaskSpec, prediction_root: str,
                       label_root: str, seqeval: str) -> TaskResult:
  fmt = submission.FILE_FORMATS[spec.file_format]

  def load(language):
    prediction_file = submission.task_file(prediction_root, spec.name, language)
    label_file = submission.task_file(label_root, spec.name, language)
    if not os.path.isfile(label_file):
      raise errors.DataError(
          f"{label_file} is missing: the labels have a {spec.name} folder but "
          f"no {language!r} file",
          f"provide all {len(spec.languages)} {spec.name} label files")
    if not os.path.isfile(prediction_file):
      raise errors.DataError(
          f"{prediction_file} is missing: the labels have {spec.name} "
          f"language {language!r} but the predictions do not",
          f"write predictions for all {len(spec.languages)} {spec.name} "
          "languages, or remove the task folder to leave the task out")
    where = f"{prediction_file} (labels {label_file})"
    return fmt.read_labels(label_file), fmt.read_predictions(
        prediction_file), where

  return _score_languages(spec, spec.languages, load, seqeval)


@dataclasses.dataclass
class SubmissionReport:
  """`official`: the dict official evaluate.py writes; `extras`: our own
  additional metrics per task; `notes`: warnings; `skipped`: task folders
  that only one side has."""
  official: dict
  extras: dict
  notes: list[str]
  skipped: list[str]


def evaluate_submission(prediction_root: str | os.PathLike,
                        label_root: str | os.PathLike, *,
                        seqeval: str = metrics.DEFAULT_SEQEVAL
                        ) -> SubmissionReport:
  """Scores every task whose folder both sides have; see the module doc."""
  prediction_root, label_root = os.fspath(prediction_root), os.fspath(
      label_root)
  prediction_tasks = _subfolders(prediction_root, "prediction")
  label_tasks = _subfolders(label_root, "label")
  results = {name: _score_task_folder(spec, prediction_root, label_root,
                                      seqeval)
             for name, spec in tasks.XTREME_TASKS.items()
             if name in prediction_tasks and name in label_tasks}
  if not results:
    raise errors.DataError(
        f"no XTREME task folder is in both {prediction_root} and {label_root}",
        f"use task subfolders named {', '.join(tasks.XTREME_TASKS)}")
  skipped = sorted((prediction_tasks ^ label_tasks) & set(tasks.XTREME_TASKS))

  official: dict[str, Any] = {}
  metric = {name: result.scores["avg_metric"]
            for name, result in results.items()}
  if set(metric) == set(tasks.XTREME_TASKS):
    official["all_task"] = sum(metric.values()) / len(metric)
  for group, members in tasks.XTREME_GROUPS.items():
    if all(m in metric for m in members):
      official[group] = sum(metric[m] for m in members) / len(members)
  official.update({name: result.scores for name, result in results.items()})
  extras = {name: result.extras for name, result in results.items()
            if result.extras}
  notes = [note for result in results.values() for note in result.notes]
  return SubmissionReport(official, extras, notes, skipped)


def score_submission(prediction_root: str | os.PathLike,
                     label_root: str | os.PathLike, *,
                     seqeval: str = metrics.DEFAULT_SEQEVAL) -> dict:
  """The official XTREME result dict for a submission folder."""
  return evaluate_submission(prediction_root, label_root,
                             seqeval=seqeval).official


# ---------------------------------------------------------------------------
# Readable table.
# ---------------------------------------------------------------------------


def _per_language_rows(scores: Mapping[str, Any]) -> list[str]:
  rows = []
  for metric, per_language in scores.items():
    if metric.startswith("avg") or not isinstance(per_language, Mapping):
      continue
    rows.append(f"  {metric}:")
    items = list(per_language.items())
    for start in range(0, len(items), 10):
      chunk = items[start:start + 10]
      rows.append("    " + "  ".join(f"{lang}={value:6.2f}"
                                     for lang, value in chunk))
  return rows


def format_report(report: SubmissionReport) -> str:
  """Groups, then per task its averages and per-language values (2 d.p.)."""
  official = report.official
  lines = ["XTREME scores (0-100)"]
  for key in ["all_task", *tasks.XTREME_GROUPS]:
    if key in official:
      lines.append(f"  {key:<15} {official[key]:6.2f}")
  for name in tasks.XTREME_TASKS:
    if name not in official:
      continue
    scores = official[name]
    averages = "  ".join(f"{k[4:]}={v:.2f}" for k, v in scores.items()
                         if k.startswith("avg_") and k != "avg_metric")
    lines.append(f"\n{name}: metric={scores['avg_metric']:.2f}  {averages}")
    lines.extend(_per_language_rows(scores))
    if name in report.extras:
      extra = report.extras[name]
      averages = "  ".join(f"{k[4:]}={v:.2f}" for k, v in extra.items()
                           if k.startswith("avg_"))
      lines.append(f"  [extra, not an XTREME metric] {averages}")
      lines.extend("  " + row for row in _per_language_rows(extra))
  for note in report.notes:
    lines.append(f"note: {note}")
  for name in report.skipped:
    lines.append(f"note: {name} skipped (its folder is only on one side)")
  return "\n".join(lines)
