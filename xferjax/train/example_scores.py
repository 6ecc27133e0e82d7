"""Per-example scores whose mean is the official metric, for the bootstrap.

The study resamples evaluation examples (`xferjax.study.bootstrap`): a
unit's score moves by (mean of the resampled per-example scores - mean of
all of them). For accuracy and QA EM/F1 the per-example score is the
example's own (0/100, or its F1); the corpus-level metrics (seqeval entity
F1, precision and recall; token accuracy; BUCC F1 over mined pairs) are
ratios R = sum(num_i) / sum(den_i) of per-example counts, and their
per-example score is the ratio's linearisation (delta method)

    s_i = 100 * (R + n * (num_i - R * den_i) / sum(den))

whose mean over the n examples is exactly 100 R and whose resampled mean
moves as R does to first order. Entity F1 = 2 TP / (predicted + gold
chunks), so num_i = 2 tp_i, den_i = pred_i + gold_i.

Every function returns {metric: array of n scores}, metric names as the
official dict has them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from xferjax.evaluation import metrics


def ratio_scores(numerators: Sequence[float],
                 denominators: Sequence[float]) -> np.ndarray:
  """100 x the linearisation of sum(num) / sum(den) per example (module
  doc); all zero when the denominator is."""
  num = np.asarray(numerators, np.float64)
  den = np.asarray(denominators, np.float64)
  total = den.sum()
  if total <= 0:
    return np.zeros(len(num))
  ratio = num.sum() / total
  return 100.0 * (ratio + len(num) * (num - ratio * den) / total)


def accuracy(labels: Sequence[str], predictions: Sequence[str]
             ) -> dict[str, np.ndarray]:
  return {"accuracy": 100.0 * np.array(
      [p == l for p, l in zip(predictions, labels)], np.float64)}


def _chunk_counts(labels, predictions, seqeval: str):
  tp, pred, gold = [], [], []
  for gold_tags, predicted_tags in zip(labels, predictions):
    g = metrics.chunks([gold_tags], seqeval)
    p = metrics.chunks([predicted_tags], seqeval)
    tp.append(len(g & p))
    pred.append(len(p))
    gold.append(len(g))
  return np.array(tp), np.array(pred), np.array(gold)


def entities(labels: Sequence[Sequence[str]],
             predictions: Sequence[Sequence[str]],
             seqeval: str = metrics.DEFAULT_SEQEVAL
             ) -> dict[str, np.ndarray]:
  """seqeval F1 / precision / recall per sentence. Sentences are chunked
  one by one: seqeval's separator "O" between sentences closes every chunk,
  so the per-sentence chunks are exactly the corpus's."""
  tp, pred, gold = _chunk_counts(labels, predictions, seqeval)
  return {"f1": ratio_scores(2 * tp, pred + gold),
          "precision": ratio_scores(tp, pred),
          "recall": ratio_scores(tp, gold)}


def token_accuracy(labels: Sequence[Sequence[str]],
                   predictions: Sequence[Sequence[str]]
                   ) -> dict[str, np.ndarray]:
  correct = [sum(int(p == g) for p, g in zip(ps, gs))
             for gs, ps in zip(labels, predictions)]
  return {"token_accuracy": ratio_scores(correct, [len(g) for g in labels])}


def qa(questions: Sequence[metrics.Question], answers: Mapping[str, str],
       normalize: metrics.AnswerNormalizer) -> dict[str, np.ndarray]:
  """EM and F1 per question (best over its gold answers; 0 unanswered)."""
  em, f1 = [], []
  for question in questions:
    prediction = answers.get(question.id)
    if prediction is None:
      em.append(0.0)
      f1.append(0.0)
      continue
    em.append(max(float(metrics.qa_exact_match(prediction, a, normalize))
                  for a in question.answers))
    f1.append(max(metrics.qa_f1(prediction, a, normalize)
                  for a in question.answers))
  return {"exact_match": 100.0 * np.array(em), "f1": 100.0 * np.array(f1)}


def bucc(gold_pairs: Sequence[tuple[str, str]],
         predicted_pairs: Sequence[tuple[str, str]],
         source_ids: Sequence[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
  """(example indices, scores) over the source sentences that are in a gold
  or a predicted pair; an example's index is its position in `source_ids`
  (all source sentences of the split, the same for every model), so cells
  are paired by sentence. Sentences in neither set have num = den = 0 and
  are left out; the linearisation then uses the n sentences written."""
  gold, predicted = set(map(tuple, gold_pairs)), set(map(tuple,
                                                         predicted_pairs))
  position = {s: i for i, s in enumerate(sorted(set(source_ids)))}
  sources = sorted({s for s, _ in gold | predicted}, key=lambda s: (
      position.get(s, len(position)), s))
  tp = {s: 0 for s in sources}
  n_pred = dict(tp)
  n_gold = dict(tp)
  for pair in predicted:
    n_pred[pair[0]] += 1
    tp[pair[0]] += pair in gold
  for pair in gold:
    n_gold[pair[0]] += 1
  t = np.array([tp[s] for s in sources])
  p = np.array([n_pred[s] for s in sources])
  g = np.array([n_gold[s] for s in sources])
  index = np.array([position.get(s, len(position) + i)
                    for i, s in enumerate(sources)], np.int64)
  return index, {"f1": ratio_scores(2 * t, p + g),
                 "precision": ratio_scores(t, p),
                 "recall": ratio_scores(t, g)}
