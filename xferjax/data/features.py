"""Feature converters: SeqIO task features -> encoder model features.

seqio's own `EncoderFeatureConverter` only does masked-LM with in-graph
masking; the heads here need their own layouts. Inputs follow XLM-R:

  classification  <cls> text_a <sep> text_b <eos> <pad>...   + label
  masked LM       <cls> text <eos> <pad>...   (masking is applied per batch,
                  in `xferjax.data.masking`, so it is a pure function of the
                  step and resumes exactly)

Labels travel as a rank-0 SeqIO feature whose vocabulary is a
`LabelVocabulary`: the task declares its label names where seqio users expect
output features, and the head size is read from there.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import seqio
import tensorflow as tf

from xferjax import errors


class LabelVocabulary(seqio.PassThroughVocabulary):
  """Integer class labels with names: `decode(2) == 'contradiction'`."""

  def __init__(self, label_names: Sequence[str]):
    super().__init__(size=len(label_names))
    self.label_names = tuple(label_names)

  def _decode(self, ids):
    return [self.label_names[int(i)] for i in ids]


def label_feature(label_names: Sequence[str]) -> seqio.Feature:
  return seqio.Feature(LabelVocabulary(label_names), add_eos=False,
                       dtype=tf.int32, rank=0)


def label_names_of(task: seqio.Task) -> tuple[str, ...]:
  feature = task.output_features.get("label")
  if feature is None or not isinstance(feature.vocabulary, LabelVocabulary):
    raise errors.ConfigError(
        f"task {task.name!r} has no 'label' output feature with a "
        "LabelVocabulary, so a classification head cannot be sized",
        "declare output_features['label'] = "
        "xferjax.data.features.label_feature([...label names...])")
  return feature.vocabulary.label_names


def _spec(rank=1):
  return seqio.FeatureConverter.FeatureSpec(dtype=tf.int32, rank=rank)


def with_scalar_lengths(converter: seqio.FeatureConverter,
                        lengths: dict[str, int]) -> dict[str, int]:
  """seqio wants a length for every task feature, scalars too: add them.

  Users give the lengths of text features only (e.g. text_a/text_b); rank-0
  features such as `label` get a nominal length of 1.
  """
  full = dict(lengths)
  for name, spec in converter.TASK_FEATURES.items():
    if spec.rank == 0:
      full.setdefault(name, 1)
  return full


def encoder_input(segments, special_ids: Mapping[str, int],
                  length: int) -> dict[str, tf.Tensor]:
  """`<cls> s1 <sep> s2 ... <eos>`, trimmed and padded to `length`.

  The one place the XLM-R input layout is built; every encoder converter
  (classification, MLM, and the task-specific ones) goes through it.
  """
  parts = [[special_ids["cls"]]]
  for i, segment in enumerate(segments):
    if i:
      parts.append([special_ids["sep"]])
    parts.append(tf.cast(segment, tf.int32))
  parts.append([special_ids["eos"]])
  tokens = tf.concat([tf.cast(p, tf.int32) for p in parts], axis=0)[:length]
  tokens = tf.pad(tokens, [[0, length - tf.shape(tokens)[0]]],
                  constant_values=special_ids["pad"])
  return {"input_ids": tokens,
          "attention_mask": tf.cast(tokens != special_ids["pad"], tf.int32)}


class EncoderClassificationConverter(seqio.FeatureConverter):
  """`<cls> a <sep> b <eos>` (or `<cls> a <eos>`) plus the label."""

  MODEL_FEATURES = {"input_ids": _spec(), "attention_mask": _spec(),
                    "label": _spec(0)}
  PACKING_FEATURE_DTYPES = {}

  def __init__(self, special_ids: Mapping[str, int], pair: bool = True,
               **kwargs):
    self.TASK_FEATURES = {"text_a": _spec(), "label": _spec(0)}
    if pair:
      self.TASK_FEATURES["text_b"] = _spec()
    self._pair = pair
    self._ids = dict(special_ids)
    super().__init__(pack=False, **kwargs)

  def _convert_features(self, ds, task_feature_lengths):
    length = self.get_model_feature_lengths(task_feature_lengths)["input_ids"]
    ids = self._ids

    def convert(ex):
      segments = [ex["text_a"], ex["text_b"]] if self._pair else [ex["text_a"]]
      return {**encoder_input(segments, ids, length),
              "label": tf.cast(ex["label"], tf.int32)}

    return ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE)

  def get_model_feature_lengths(self, task_feature_lengths):
    length = task_feature_lengths["text_a"] + 2
    if self._pair:
      length += task_feature_lengths["text_b"] + 1
    return {"input_ids": length, "attention_mask": length, "label": 1}


class EncoderMlmConverter(seqio.FeatureConverter):
  """`<cls> text <eos>` padded; masking happens per batch on the host."""

  MODEL_FEATURES = {"input_ids": _spec(), "attention_mask": _spec()}
  PACKING_FEATURE_DTYPES = {}

  def __init__(self, special_ids: Mapping[str, int], **kwargs):
    self.TASK_FEATURES = {"text": _spec()}
    self._ids = dict(special_ids)
    super().__init__(pack=False, **kwargs)

  def _convert_features(self, ds, task_feature_lengths):
    length = self.get_model_feature_lengths(task_feature_lengths)["input_ids"]
    ids = self._ids

    def convert(ex):
      return encoder_input([ex["text"]], ids, length)

    return ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE)

  def get_model_feature_lengths(self, task_feature_lengths):
    length = task_feature_lengths["text"] + 2
    return {"input_ids": length, "attention_mask": length}


# ------------------------------------------------------ head -> converter ---

def _classification_converter(task, special_ids):
  return EncoderClassificationConverter(
      special_ids, pair="text_b" in task.output_features)


def _mlm_converter(task, special_ids):
  del task
  return EncoderMlmConverter(special_ids)


# head type -> (task, special_ids) -> converter. One table, so the trainer,
# the evaluator and `xferjax tasks preview` never choose a converter apart.
CONVERTERS = {
    "mlm": _mlm_converter,
    "classification": _classification_converter,
}


def converter_for(task: seqio.Task, head: str,
                  special_ids: Mapping[str, int]) -> seqio.FeatureConverter:
  """The feature converter that turns `task`'s features into `head`'s batch."""
  if head not in CONVERTERS:
    raise errors.ConfigError(
        f"no feature converter for head {head!r} (task {task.name!r})",
        f"use one of {sorted(CONVERTERS)}")
  return CONVERTERS[head](task, special_ids)
