"""Span QA: windows and offsets map back to the exact original answer text."""

import gin
import numpy as np
import pytest
import seqio

from tests.tasks import batching
from tests.tasks.fixtures import CONTEXT, needs_real
from xferjax import errors
from xferjax.data import features, pipeline, span, vocab
from tests.tasks.fixtures import bind_macros, env, tfds_mock  # noqa: F401


def _windows(name, split, **options):
  task = seqio.get_mixture_or_task(name)
  ids = vocab.special_ids(task.output_features["context"].vocabulary)
  conv = features.converter_for(task, "span", ids, **options)
  arrays = pipeline.load_examples(name, split, {"question": 16,
                                                "context": 4096}, conv)
  raw = list(task.source.get_dataset(split, shuffle=False)
             .as_numpy_iterator())
  return arrays, raw


def _check_exact(arrays, raw):
  """Every labelled window's token span covers its example's first gold
  answer, and reads back exactly that text whenever the answer's ends fall
  on token boundaries (a piece can run past an answer's end, e.g. '次擒杀'
  for the answer '136 次'; then the span is the covering piece sequence).
  Perfect logits make predict_answers return the same texts."""
  contexts = [r["context"].decode() for r in raw]
  labelled = np.flatnonzero(arrays["start_position"] > 0)
  assert labelled.size
  exact = 0
  for row in labelled:
    index = arrays["example_index"][row]
    ex, context = raw[index], contexts[index]
    gold = ex["answers"]["text"][0].decode()
    a_start = int(ex["answers"]["answer_start"][0])
    a_end = a_start + len(gold)
    s, e = arrays["start_position"][row], arrays["end_position"][row]
    cs, ce = arrays["token_char_start"][row], arrays["token_char_end"][row]
    assert cs[s] <= a_start and ce[e] >= a_end
    got = span.answer_text(context, cs, ce, s, e)
    assert gold in got
    aligned = ce[e] == a_end and not context[cs[s]:a_start].strip()
    if aligned:
      assert got == gold
      exact += 1
  assert exact >= 0.8 * len(labelled)
  length = arrays["input_ids"].shape[1]
  onehot = lambda pos: np.eye(length)[pos] * 10.0
  answers = span.predict_answers(onehot(arrays["start_position"]),
                                 onehot(arrays["end_position"]), arrays,
                                 contexts)
  golds = [r["answers"]["text"][0].decode() for r in raw]
  assert all(g in a for g, a in zip(golds, answers))
  assert np.mean([g == a for g, a in zip(golds, answers)]) >= 0.8
  return labelled


@needs_real
def test_real_xquad_zh_offsets_map_back_exactly_with_document_stride():
  arrays, raw = _windows("xquad.zh", "test", max_length=64, doc_stride=16,
                         max_question_length=16)
  assert len(raw) == 97
  # Chinese contexts are far longer than 64 tokens: many windows each.
  assert len(arrays["input_ids"]) > 3 * len(raw)
  assert set(arrays["example_index"]) == set(range(len(raw)))
  labelled = _check_exact(arrays, raw)
  assert len(labelled) >= len(raw)  # overlapping windows repeat answers


def test_long_document_windows_overlap_and_cover_the_context(tfds_mock):
  batching.unset("SQUAD_DATA_DIR")
  arrays, raw = _windows("squad_v1", "train", max_length=24, doc_stride=4,
                         max_question_length=12)
  _check_exact(arrays, raw)
  # Windows of one example cover every context character offset.
  rows = arrays["example_index"] == 0
  starts = arrays["token_char_start"][rows]
  covered = set(starts[starts >= 0].tolist())
  first_window = starts[0][starts[0] >= 0]
  assert covered >= set(first_window.tolist()) and len(covered) > len(
      first_window)
  # The answer is outside some windows: those point at <cls>.
  assert (arrays["start_position"][rows] == 0).any()


def test_squad_v2_unanswerable_points_at_cls(tfds_mock):
  arrays, raw = _windows("squad_v2", "train", max_length=48, doc_stride=8,
                         max_question_length=16)
  impossible = {i for i, r in enumerate(raw) if r["is_impossible"]}
  assert impossible
  for row, ex in enumerate(arrays["example_index"]):
    if ex in impossible:
      assert arrays["start_position"][row] == arrays["end_position"][row] == 0
  assert CONTEXT in [r["context"].decode() for r in raw]


def test_span_options_are_validated():
  with pytest.raises(errors.ConfigError, match="doc_stride"):
    span.EncoderSpanConverter({"pad": 0}, max_length=32, doc_stride=30,
                              max_question_length=16)
