"""Span QA features: document stride, offset maps, and the way back to text.

`tokenize_span_qa` (a SeqIO preprocessor) tokenizes the question and the
context, recording for every context token the characters it covers
(Python string indices of the original context, so non-Latin scripts and
multi-byte characters map back exactly) and the tokens of the first gold
answer (-1 when the question has none, as in SQuAD v2.0).

`EncoderSpanConverter` cuts each example into windows of `max_length`:

  <cls> question <sep> context[s : s + W] <eos> <pad>...

with window starts s = 0, stride, 2*stride, ... until the context is
covered (W = max_length - len(question) - 3). A window that holds the whole
answer gets its token positions; any other window, and every window of an
unanswerable question, points at <cls> (position 0). Each window carries
`example_index` (position of its example in the split) and
`token_char_start/end` (-1 outside the context), which is all
`predict_answers` needs to turn start/end logits back into the exact
original answer text.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import seqio
import tensorflow as tf

from xferjax import errors
from xferjax.data import vocab as vocab_lib

NO_ANSWER = -1


def _first_true(mask):
  """Index of the first True of a 1-D bool tensor, -1 if none."""
  idx = tf.where(mask)[:, 0]
  return tf.cast(tf.cond(tf.size(idx) > 0, lambda: idx[0],
                         lambda: tf.constant(-1, tf.int64)), tf.int32)


def _last_true(mask):
  idx = tf.where(mask)[:, 0]
  return tf.cast(tf.cond(tf.size(idx) > 0, lambda: idx[-1],
                         lambda: tf.constant(-1, tf.int64)), tf.int32)


def tokenize_span_qa(dataset: tf.data.Dataset,
                     output_features: Mapping[str, seqio.Feature]
                     ) -> tf.data.Dataset:
  """{context, question, answers{text, answer_start}, is_impossible} ->
  token ids, per-token character offsets and answer token positions."""
  context_vocab = output_features["context"].vocabulary
  question_vocab = output_features["question"].vocabulary

  def tokenize(index, ex):
    context = ex["context"]
    ids, byte_starts, byte_ends = vocab_lib.encode_tf_with_offsets(
        context_vocab, context)
    # Byte offsets -> character offsets: position of each character's first
    # byte, then how many characters start before a byte offset.
    _, char_bytes = tf.strings.unicode_decode_with_offsets(context, "UTF-8")
    char_start = tf.searchsorted(char_bytes, tf.cast(byte_starts, tf.int64),
                                 side="left")
    char_end = tf.searchsorted(char_bytes, tf.cast(byte_ends, tf.int64),
                               side="left")
    char_start = tf.cast(char_start, tf.int32)
    char_end = tf.cast(char_end, tf.int32)
    starts = tf.cast(ex["answers"]["answer_start"], tf.int32)
    texts = ex["answers"]["text"]
    has_answer = tf.logical_and(tf.size(starts) > 0,
                                tf.logical_not(ex["is_impossible"]))

    def answer_tokens():
      a_start = starts[0]
      a_end = a_start + tf.strings.length(texts[0], unit="UTF8_CHAR")
      first = _first_true(char_end > a_start)
      last = _last_true(char_start < a_end)
      ok = tf.logical_and(first >= 0, last >= first)
      return (tf.where(ok, first, NO_ANSWER), tf.where(ok, last, NO_ANSWER))

    a_first, a_last = tf.cond(
        has_answer, answer_tokens,
        lambda: (tf.constant(NO_ANSWER), tf.constant(NO_ANSWER)))
    out = dict(ex)
    out.update({
        "question": tf.cast(question_vocab.encode_tf(ex["question"]),
                            tf.int32),
        "context": tf.cast(ids, tf.int32),
        "token_char_start": char_start,
        "token_char_end": char_end,
        "answer_token_start": a_first,
        "answer_token_end": a_last,
        "example_index": tf.cast(index, tf.int32),
    })
    return out

  return dataset.enumerate().map(tokenize,
                                 num_parallel_calls=tf.data.AUTOTUNE)


def _spec(rank=1):
  return seqio.FeatureConverter.FeatureSpec(dtype=tf.int32, rank=rank)


class EncoderSpanConverter(seqio.FeatureConverter):
  """Windows of `max_length` over each question/context pair (see module)."""

  TASK_FEATURES = {"question": _spec(), "context": _spec(),
                   "answer_token_start": _spec(0),
                   "answer_token_end": _spec(0), "example_index": _spec(0)}
  MODEL_FEATURES = {"input_ids": _spec(), "attention_mask": _spec(),
                    "start_position": _spec(0), "end_position": _spec(0),
                    "example_index": _spec(0), "token_char_start": _spec(),
                    "token_char_end": _spec()}
  PACKING_FEATURE_DTYPES = {}

  def __init__(self, special_ids: Mapping[str, int], max_length: int = 384,
               doc_stride: int = 128, max_question_length: int = 64,
               **kwargs):
    if max_length < max_question_length + 4:
      raise errors.ConfigError(
          f"span max_length {max_length} leaves no room for the context "
          f"after a question of up to {max_question_length} tokens",
          "raise max_length or lower max_question_length")
    if doc_stride < 1 or doc_stride > max_length - max_question_length - 3:
      raise errors.ConfigError(
          f"doc_stride {doc_stride} must be in 1..{max_length - max_question_length - 3}"
          " (the shortest context window), or windows would skip tokens",
          "use e.g. doc_stride=128 with max_length=384")
    self._ids = dict(special_ids)
    self.max_length = max_length
    self.doc_stride = doc_stride
    self.max_question_length = max_question_length
    super().__init__(pack=False, **kwargs)

  # The context is cut into windows here, never trimmed: task feature
  # lengths need only the question's (e.g. {'question': 64}).
  UNLIMITED = 2 ** 31 - 1

  def __call__(self, ds, task_feature_lengths):
    lengths = dict(task_feature_lengths)
    lengths.setdefault("context", self.UNLIMITED)
    return super().__call__(ds, lengths)

  def _convert_features(self, ds, task_feature_lengths):
    del task_feature_lengths
    ids, length, stride = self._ids, self.max_length, self.doc_stride

    def windows(ex):
      question = ex["question"][:self.max_question_length]
      context = ex["context"]
      n = tf.shape(context)[0]
      cs = ex["token_char_start"][:n]
      ce = ex["token_char_end"][:n]
      prefix = tf.concat([[ids["cls"]], question, [ids["sep"]]], 0)
      p = tf.shape(prefix)[0]
      w = length - p - 1  # Context tokens per window (one slot for <eos>).
      num = 1 + tf.maximum(0, (n - w + stride - 1) // stride)
      starts = tf.range(num) * stride
      pos = starts[:, None] + tf.range(w + 1)[None, :]  # [num, w + 1]
      in_ctx = tf.logical_and(pos < n, tf.range(w + 1)[None, :] < w)
      real = tf.minimum(n - starts, w)  # Context tokens in each window.
      is_eos = tf.equal(tf.range(w + 1)[None, :], real[:, None])
      safe = tf.minimum(pos, n)  # Index n: the fill appended below.
      pick = lambda values, fill: tf.where(
          in_ctx, tf.gather(tf.concat([values, [fill]], 0), safe), fill)
      body = tf.where(is_eos, ids["eos"], pick(context, ids["pad"]))
      input_ids = tf.concat([tf.tile(prefix[None], [num, 1]), body], 1)
      neg = -tf.ones([num, p], tf.int32)
      tok_cs = tf.concat([neg, pick(cs, -1)], 1)
      tok_ce = tf.concat([neg, pick(ce, -1)], 1)
      a, b = ex["answer_token_start"], ex["answer_token_end"]
      inside = tf.logical_and(
          a >= 0, tf.logical_and(a >= starts, b < starts + real))
      start_pos = tf.where(inside, a - starts + p, 0)
      end_pos = tf.where(inside, b - starts + p, 0)
      return {
          "input_ids": input_ids,
          "attention_mask": tf.cast(input_ids != ids["pad"], tf.int32),
          "start_position": start_pos, "end_position": end_pos,
          "example_index": tf.fill([num], ex["example_index"]),
          "token_char_start": tok_cs, "token_char_end": tok_ce,
      }

    return ds.map(windows, num_parallel_calls=tf.data.AUTOTUNE).unbatch()

  def get_model_feature_lengths(self, task_feature_lengths):
    del task_feature_lengths
    length = self.max_length
    return {"input_ids": length, "attention_mask": length,
            "start_position": 1, "end_position": 1, "example_index": 1,
            "token_char_start": length, "token_char_end": length}


def answer_text(context: str, token_char_start: Sequence[int],
                token_char_end: Sequence[int], start: int, end: int) -> str:
  """The original characters tokens start..end cover ('' for <cls>/none).

  SentencePiece pieces carry the space before a word, so the span is
  stripped of surrounding whitespace.
  """
  if start <= 0 or end < start or token_char_start[start] < 0 or (
      token_char_end[end] < 0):
    return ""
  return context[int(token_char_start[start]):int(token_char_end[end])
                 ].strip()


def predict_answers(start_logits: np.ndarray, end_logits: np.ndarray,
                    features: Mapping[str, np.ndarray],
                    contexts: Sequence[str], max_answer_tokens: int = 30,
                    null_threshold: float | None = None) -> list[str]:
  """Best answer text per example from per-window logits `[windows, L]`.

  The best span over all windows of an example maximises start + end logit
  with start <= end < start + max_answer_tokens, both inside the context.
  With `null_threshold` (SQuAD v2.0), the answer is '' when the best
  window's <cls> score (start[0] + end[0]) beats the span by more than it.
  """
  best: dict[int, tuple[float, str]] = {}
  null: dict[int, float] = {}
  for row, ex_index in enumerate(np.asarray(features["example_index"])):
    ex_index = int(ex_index)
    cs = features["token_char_start"][row]
    ce = features["token_char_end"][row]
    s_logits, e_logits = start_logits[row], end_logits[row]
    null[ex_index] = max(null.get(ex_index, -np.inf),
                         float(s_logits[0] + e_logits[0]))
    valid = np.flatnonzero(cs >= 0)
    if not valid.size:
      continue
    s_in, e_in = s_logits[valid], e_logits[valid]
    scores = s_in[:, None] + e_in[None, :]
    gap = valid[None, :] - valid[:, None]
    scores = np.where((gap >= 0) & (gap < max_answer_tokens), scores, -np.inf)
    i, j = np.unravel_index(np.argmax(scores), scores.shape)
    score = float(scores[i, j])
    if score > best.get(ex_index, (-np.inf, ""))[0]:
      best[ex_index] = (score, answer_text(contexts[ex_index], cs, ce,
                                           int(valid[i]), int(valid[j])))
  answers = []
  for ex_index in range(len(contexts)):
    score, text = best.get(ex_index, (-np.inf, ""))
    if null_threshold is not None and (
        null.get(ex_index, -np.inf) - score > null_threshold):
      text = ""
    answers.append(text)
  return answers
