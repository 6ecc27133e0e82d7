"""The XTREME task table: one row per task says how it is stored and scored.

Everything task-specific lives in `XTREME_TASKS`, so the scorer, the readers
and the writers are generic loops over rows. The languages, groups and order
are those of the official `evaluate.py --xtreme_version xtreme`; the order
matters because the official averages are float sums taken in this order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

from xferjax import errors
from xferjax.evaluation import metrics

# A per-language scorer: (labels, predictions, language, where, seqeval) ->
# (official metrics x100, human-readable notes such as unanswered questions).
LanguageScorer = Callable[..., tuple[dict, list[str]]]


def _check_same_count(labels: Sequence, predictions: Sequence,
                      where: str) -> None:
  if len(labels) != len(predictions):
    raise errors.DataError(
        f"{where}: {len(predictions)} predictions but {len(labels)} labels",
        "write exactly one prediction line per test example, in test order")


def _score_accuracy(labels, predictions, language, where, seqeval):
  del language, seqeval
  _check_same_count(labels, predictions, where)
  return metrics.accuracy(labels, predictions), []


def _score_entities(labels, predictions, language, where, seqeval):
  del language
  return metrics.entity_f1(labels, predictions, where, seqeval), []


def _unanswered_notes(unanswered: list[str], total: int, where: str):
  if not unanswered:
    return []
  return [f"{where}: {len(unanswered)} of {total} questions have no "
          f"prediction and score 0 (first: {unanswered[0]})"]


def _score_squad(labels, predictions, language, where, seqeval):
  del language, seqeval
  scores, unanswered = metrics.qa_em_f1(labels, predictions,
                                        metrics.SQUAD_NORMALIZER, where)
  return scores, _unanswered_notes(unanswered, len(labels), where)


def _score_mlqa(labels, predictions, language, where, seqeval):
  del seqeval
  scores, unanswered = metrics.qa_em_f1(
      labels, predictions, metrics.mlqa_normalizer(language), where)
  return scores, _unanswered_notes(unanswered, len(labels), where)


def _score_bucc(labels, predictions, language, where, seqeval):
  del language, where, seqeval
  return metrics.bucc_f1(labels, predictions), []


@dataclasses.dataclass(frozen=True)
class TaskSpec:
  """One XTREME task.

  file_format: how its files look ("labels": one label per line, "tags": one
    tag per line with blank lines between sentences, "squad": SQuAD JSON
    labels and {id: answer} predictions, "pairs": tab-separated id pairs).
  score: its official per-language metrics.
  headline: the averaged metrics whose mean is the task's `avg_metric`.
  extra: metrics we report beside the official ones, never mixed into them.
  """
  name: str
  group: str
  languages: tuple[str, ...]
  file_format: str
  score: LanguageScorer
  headline: tuple[str, ...]
  extra: Callable[..., dict] | None = None

  @property
  def extension(self) -> str:
    return "json" if self.file_format == "squad" else "tsv"


def _langs(spec: str) -> tuple[str, ...]:
  return tuple(spec.split(","))


# Row order = the official task order (it decides the JSON key order).
XTREME_TASKS: Mapping[str, TaskSpec] = {t.name: t for t in [
    TaskSpec("pawsx", "classification", _langs("de,en,es,fr,ja,ko,zh"),
             "labels", _score_accuracy, ("accuracy",)),
    TaskSpec("xnli", "classification",
             _langs("ar,bg,de,el,en,es,fr,hi,ru,sw,th,tr,ur,vi,zh"),
             "labels", _score_accuracy, ("accuracy",)),
    TaskSpec("panx", "tagging", _langs(
        "ar,he,vi,id,jv,ms,tl,eu,ml,ta,te,af,nl,en,de,el,bn,hi,mr,ur,fa,fr,"
        "it,pt,es,bg,ru,ja,ka,ko,th,sw,yo,my,zh,kk,tr,et,fi,hu"),
             "tags", _score_entities, ("f1",)),
    TaskSpec("udpos", "tagging", _langs(
        "af,ar,bg,de,el,en,es,et,eu,fa,fi,fr,he,hi,hu,id,it,ja,kk,ko,mr,"
        "nl,pt,ru,ta,te,th,tl,tr,ur,vi,yo,zh"),
             "tags", _score_entities, ("f1",),
             extra=metrics.token_accuracy),
    TaskSpec("bucc2018", "retrieval", _langs("de,fr,ru,zh"),
             "pairs", _score_bucc, ("f1",)),
    TaskSpec("tatoeba", "retrieval", _langs(
        "ar,he,vi,id,jv,tl,eu,ml,ta,te,af,nl,de,el,bn,hi,mr,ur,fa,fr,it,"
        "pt,es,bg,ru,ja,ka,ko,th,sw,zh,kk,tr,et,fi,hu"),
             "labels", _score_accuracy, ("accuracy",)),
    TaskSpec("xquad", "qa", _langs("en,es,de,el,ru,tr,ar,vi,th,zh,hi"),
             "squad", _score_squad, ("exact_match", "f1")),
    TaskSpec("mlqa", "qa", _langs("en,es,de,ar,hi,vi,zh"),
             "squad", _score_mlqa, ("exact_match", "f1")),
    TaskSpec("tydiqa", "qa", _langs("en,ar,bn,fi,id,ko,ru,sw,te"),
             "squad", _score_squad, ("exact_match", "f1")),
]}

# Group order = the official JSON key order of the group averages.
XTREME_GROUPS: Mapping[str, tuple[str, ...]] = {
    "classification": ("pawsx", "xnli"),
    "tagging": ("udpos", "panx"),
    "qa": ("xquad", "mlqa", "tydiqa"),
    "retrieval": ("bucc2018", "tatoeba"),
}


def task_spec(name: str) -> TaskSpec:
  try:
    return XTREME_TASKS[name]
  except KeyError:
    raise errors.UnknownTaskError(
        f"{name!r} is not an XTREME task",
        f"use one of {', '.join(XTREME_TASKS)}") from None
