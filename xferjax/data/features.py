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

import abc

from typing import Mapping, Sequence

import seqio
import tensorflow as tf

from xferjax import errors


class LabelVocabulary(seqio.PassThroughVocabulary):
  """Integer class labels with names: `decode(2) == 'contradiction'`.

  `oov_index`: the label that names outside the set map to (CCG's OOV
  supertag); None means such a name is an error.
  """

  def __init__(self, label_names: Sequence[str],
               oov_index: int | None = None):
    super().__init__(size=len(label_names))
    self._label_names = tuple(label_names)
    self.oov_index = oov_index

  @property
  def label_names(self) -> tuple[str, ...]:
    return self._label_names

  @property
  def _base_vocab_size(self):
    return len(self.label_names)

  def _decode(self, ids):
    return [self.label_names[int(i)] for i in ids]


class LazyLabelVocabulary(LabelVocabulary):
  """Label names computed on first use (e.g. from the training data), so
  registering the task reads nothing."""

  def __init__(self, load_names, oov_index: int | None = None):
    super().__init__((), oov_index)
    self._load_names = load_names
    self._loaded = None

  @property
  def label_names(self) -> tuple[str, ...]:
    if self._loaded is None:
      self._loaded = tuple(self._load_names())
    return self._loaded


def label_feature(label_names: Sequence[str] | LabelVocabulary,
                  rank: int = 0) -> seqio.Feature:
  """A label output feature: rank 0 per example, rank 1 per word."""
  vocabulary = (label_names if isinstance(label_names, LabelVocabulary)
                else LabelVocabulary(label_names))
  return seqio.Feature(vocabulary, add_eos=False, dtype=tf.int32, rank=rank)


def label_names_of(task: seqio.Task, key: str = "label") -> tuple[str, ...]:
  feature = task.output_features.get(key)
  if feature is None or not isinstance(feature.vocabulary, LabelVocabulary):
    raise errors.ConfigError(
        f"task {task.name!r} has no {key!r} output feature with a "
        "LabelVocabulary, so its head cannot be sized",
        f"declare output_features[{key!r}] = "
        "xferjax.data.features.label_feature([...label names...])")
  return feature.vocabulary.label_names


def _spec(rank=1):
  return seqio.FeatureConverter.FeatureSpec(dtype=tf.int32, rank=rank)


def with_scalar_lengths(converter: seqio.FeatureConverter,
                        lengths: dict[str, int]) -> dict[str, int]:
  """seqio wants a length for every task feature, scalars too: add them.

  Users give the lengths of text features only (e.g. text_a/text_b); rank-0
  features such as `label` get a nominal length of 1. Lengths of features
  the converter does not take are dropped, so one dict can serve several
  heads (a multi-task mixture; BUCC sentences and Tatoeba pairs).
  """
  full = {k: v for k, v in lengths.items() if k in converter.TASK_FEATURES}
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


class EncoderConverter(seqio.FeatureConverter):
  """Base of the encoder converters: unpacked, one example in, one out.

  Subclasses set TASK_FEATURES / MODEL_FEATURES, `get_model_feature_lengths`
  and `convert_example(ex, length)`, `length` being the model input length.
  """

  PACKING_FEATURE_DTYPES = {}

  def __init__(self, special_ids: Mapping[str, int], **kwargs):
    self._ids = dict(special_ids)
    super().__init__(pack=False, **kwargs)

  @abc.abstractmethod
  def convert_example(self, ex, length):
    """One task example -> the model features, inputs `length` long."""

  def _convert_features(self, ds, task_feature_lengths):
    length = self.get_model_feature_lengths(task_feature_lengths)["input_ids"]
    return ds.map(lambda ex: self.convert_example(ex, length),
                  num_parallel_calls=tf.data.AUTOTUNE)


def t5_input(segment, special_ids: Mapping[str, int],
             length: int) -> dict[str, tf.Tensor]:
  """`text <eos>` padded with 0: mT5's encoder input (no <cls>/<sep>), for
  the encoder-embedding converter of the mT5 family."""
  tokens = tf.concat([tf.cast(segment, tf.int32),
                      [special_ids["eos"]]], axis=0)[:length]
  tokens = tf.pad(tokens, [[0, length - tf.shape(tokens)[0]]],
                  constant_values=special_ids["pad"])
  return {"input_ids": tokens,
          "attention_mask": tf.cast(tokens != special_ids["pad"], tf.int32)}


def stacked(rows) -> dict[str, tf.Tensor]:
  """Per-row encoder inputs -> [rows, L] input_ids and attention_mask."""
  return {k: tf.stack([r[k] for r in rows])
          for k in ("input_ids", "attention_mask")}


class EncoderClassificationConverter(EncoderConverter):
  """`<cls> a <sep> b <eos>` (or `<cls> a <eos>`) plus the label."""

  MODEL_FEATURES = {"input_ids": _spec(), "attention_mask": _spec(),
                    "label": _spec(0)}

  def __init__(self, special_ids: Mapping[str, int], pair: bool = True,
               **kwargs):
    self.TASK_FEATURES = {"text_a": _spec(), "label": _spec(0)}
    if pair:
      self.TASK_FEATURES["text_b"] = _spec()
    self._pair = pair
    super().__init__(special_ids, **kwargs)

  def convert_example(self, ex, length):
    segments = [ex["text_a"], ex["text_b"]] if self._pair else [ex["text_a"]]
    return {**encoder_input(segments, self._ids, length),
            "label": tf.cast(ex["label"], tf.int32)}

  def get_model_feature_lengths(self, task_feature_lengths):
    length = task_feature_lengths["text_a"] + 2
    if self._pair:
      length += task_feature_lengths["text_b"] + 1
    return {"input_ids": length, "attention_mask": length, "label": 1}


class EncoderMlmConverter(EncoderConverter):
  """`<cls> text <eos>` padded; masking happens per batch on the host."""

  TASK_FEATURES = {"text": _spec()}
  MODEL_FEATURES = {"input_ids": _spec(), "attention_mask": _spec()}

  def convert_example(self, ex, length):
    return encoder_input([ex["text"]], self._ids, length)

  def get_model_feature_lengths(self, task_feature_lengths):
    length = task_feature_lengths["text"] + 2
    return {"input_ids": length, "attention_mask": length}


class EncoderMultipleChoiceConverter(EncoderConverter):
  """`<cls> text_a <sep> choice_i <eos>` for each of `num_choices` choices.

  Output `input_ids`/`attention_mask` are [C, L] per example ([B, C, L] in a
  batch) and `label` is the index of the right choice.
  """

  def __init__(self, special_ids: Mapping[str, int], num_choices: int,
               **kwargs):
    self.num_choices = num_choices
    self.TASK_FEATURES = {"text_a": _spec(), "label": _spec(0), **{
        choice_key(i): _spec() for i in range(num_choices)}}
    self.MODEL_FEATURES = {
        "input_ids": seqio.FeatureConverter.FeatureSpec(tf.int32, 2, 1),
        "attention_mask": seqio.FeatureConverter.FeatureSpec(tf.int32, 2, 1),
        "label": _spec(0)}
    super().__init__(special_ids, **kwargs)

  def convert_example(self, ex, length):
    rows = [encoder_input([ex["text_a"], ex[choice_key(i)]], self._ids,
                          length) for i in range(self.num_choices)]
    return {**stacked(rows), "label": tf.cast(ex["label"], tf.int32)}

  def get_model_feature_lengths(self, task_feature_lengths):
    length = task_feature_lengths["text_a"] + 3 + max(
        task_feature_lengths[choice_key(i)] for i in range(self.num_choices))
    return {"input_ids": length, "attention_mask": length, "label": 1}


def choice_key(i: int) -> str:
  return f"choice_{i}"


def num_choices_of(task: seqio.Task) -> int:
  n = 0
  while choice_key(n) in task.output_features:
    n += 1
  return n


class EncoderEmbeddingConverter(EncoderConverter):
  """Sentences for the `embedding` head (retrieval, translation ranking).

  Pair tasks (Tatoeba: `text_a` in the other language, `text_b` English)
  give [2, L] per example, so shuffling keeps a pair together;
  `pair_rows` flattens a batch to [2B, L] rows with `match`. Single-
  sentence tasks (BUCC) give [L] rows with `side` (0 source, 1 English) and
  `match` = -1. `index` is the position of the pair or sentence in its split.
  With the mT5 family's special ids (pad and eos only) a row is `text <eos>`.
  """

  def __init__(self, special_ids: Mapping[str, int], pair: bool = True,
               **kwargs):
    self._pair = pair
    if pair:
      self.TASK_FEATURES = {"text_a": _spec(), "text_b": _spec(),
                            "index": _spec(0)}
      seq = seqio.FeatureConverter.FeatureSpec(tf.int32, 2, 1)
      self.MODEL_FEATURES = {"input_ids": seq, "attention_mask": seq,
                             "index": _spec(0)}
    else:
      self.TASK_FEATURES = {"text_a": _spec(), "side": _spec(0),
                            "index": _spec(0)}
      self.MODEL_FEATURES = {"input_ids": _spec(), "attention_mask": _spec(),
                             "side": _spec(0), "index": _spec(0),
                             "match": _spec(0)}
    super().__init__(special_ids, **kwargs)

  def _row(self, tokens, length):
    # Special ids without <cls> are the mT5 family's (pad, eos).
    if "cls" not in self._ids:
      return t5_input(tokens, self._ids, length)
    return encoder_input([tokens], self._ids, length)

  def convert_example(self, ex, length):
    index = tf.cast(ex["index"], tf.int32)
    if not self._pair:
      return {**self._row(ex["text_a"], length),
              "side": tf.cast(ex["side"], tf.int32), "index": index,
              "match": tf.constant(-1, tf.int32)}
    rows = [self._row(ex[k], length) for k in ("text_a", "text_b")]
    return {**stacked(rows), "index": index}

  def get_model_feature_lengths(self, task_feature_lengths):
    text = [task_feature_lengths["text_a"]]
    if self._pair:
      text.append(task_feature_lengths["text_b"])
    length = max(text) + (2 if "cls" in self._ids else 1)
    lengths = {"input_ids": length, "attention_mask": length, "index": 1}
    if not self._pair:
      lengths.update(side=1, match=1)
    return lengths


def pair_rows(batch: Mapping) -> dict:
  """[B, 2, L] pairs -> [2B, L] rows (pair i: rows 2i, 2i+1) with `match`
  (each row's partner) and `side` (0 = text_a, 1 = text_b)."""
  import numpy as np
  input_ids = np.asarray(batch["input_ids"])
  b = input_ids.shape[0]
  rows = np.arange(2 * b)
  return {"input_ids": input_ids.reshape(2 * b, -1),
          "attention_mask": np.asarray(batch["attention_mask"]).reshape(
              2 * b, -1),
          "match": (rows ^ 1).astype(np.int32),
          "side": (rows % 2).astype(np.int32),
          "index": np.repeat(np.asarray(batch["index"]), 2)}


# ------------------------------------------------------ head -> converter ---

def _classification_converter(task, special_ids, **options):
  return EncoderClassificationConverter(
      special_ids, pair="text_b" in task.output_features, **options)


def _mlm_converter(task, special_ids, **options):
  del task
  return EncoderMlmConverter(special_ids, **options)


def _multiple_choice_converter(task, special_ids, **options):
  n = num_choices_of(task)
  if n < 2:
    raise errors.ConfigError(
        f"task {task.name!r} has {n} choice features, a multiple-choice head"
        " needs choice_0, choice_1, ...",
        "declare output features choice_0..choice_{C-1} and text_a")
  return EncoderMultipleChoiceConverter(special_ids, n, **options)


def _span_converter(task, special_ids, **options):
  del task
  from xferjax.data import span  # pylint: disable=g-import-not-at-top
  return span.EncoderSpanConverter(special_ids, **options)


def _tagging_converter(task, special_ids, **options):
  del task
  from xferjax.data import tagging  # pylint: disable=g-import-not-at-top
  return tagging.EncoderTaggingConverter(special_ids, **options)


def _embedding_converter(task, special_ids, **options):
  return EncoderEmbeddingConverter(
      special_ids, pair="text_b" in task.output_features, **options)


class TextToTextConverter(seqio.EncDecFeatureConverter):
  """seqio's EncDecFeatureConverter (unpacked), with `decoder_loss_weights`
  as float32, the dtype of the batch contract (`models.api.batch_shapes`)."""

  MODEL_FEATURES = {
      **seqio.EncDecFeatureConverter.MODEL_FEATURES,
      "decoder_loss_weights": seqio.FeatureConverter.FeatureSpec(
          dtype=tf.float32)}

  def __init__(self, **kwargs):
    kwargs.setdefault("pack", False)
    super().__init__(**kwargs)

  def _convert_features(self, ds, task_feature_lengths):
    ds = super()._convert_features(ds, task_feature_lengths)
    return ds.map(lambda ex: {**ex, "decoder_loss_weights": tf.cast(
        ex["decoder_loss_weights"], tf.float32)},
                  num_parallel_calls=tf.data.AUTOTUNE)


def _text_to_text_converter(task, special_ids, **options):
  del task, special_ids  # mT5 inputs carry their own EOS; pad is 0.
  return TextToTextConverter(**options)


# head type -> (task, special_ids, **options) -> converter. One table, so the
# trainer, the evaluator and `xferjax tasks preview` never choose apart.
CONVERTERS = {
    "mlm": _mlm_converter,
    "classification": _classification_converter,
    "multiple_choice": _multiple_choice_converter,
    "span": _span_converter,
    "tagging": _tagging_converter,
    "embedding": _embedding_converter,
    "text_to_text": _text_to_text_converter,
}


def converter_for(task: seqio.Task, head: str,
                  special_ids: Mapping[str, int],
                  **options) -> seqio.FeatureConverter:
  """The feature converter that turns `task`'s features into `head`'s batch.

  `options` go to the converter (e.g. span `max_length`, `doc_stride`);
  one it does not take is a ConfigError naming it.
  """
  if head not in CONVERTERS:
    raise errors.ConfigError(
        f"no feature converter for head {head!r} (task {task.name!r})",
        f"use one of {sorted(CONVERTERS)}")
  try:
    return CONVERTERS[head](task, special_ids, **options)
  except TypeError as e:
    if "unexpected keyword argument" not in str(e):
      raise
    raise errors.ConfigError(
        f"the {head} feature converter of task {task.name!r} takes no "
        f"option {str(e).rsplit(' ', 1)[-1]} (options given: "
        f"{sorted(options)})",
        "fix TrainRun.converter_options (keyed by head, e.g. {'span': "
        "{'max_length': 384, 'doc_stride': 128}})") from None


# Output features that identify a task's head, checked in this order.
_HEAD_MARKERS = (
    ("text_to_text", ("inputs", "targets")),
    ("multiple_choice", (choice_key(0), choice_key(1))),
    ("span", ("question", "context")),
    ("tagging", ("tokens", "tags")),
    ("embedding", ("text_a", "index")),
    ("classification", ("text_a", "label")),
    ("mlm", ("text",)),
)


def head_of(task: seqio.Task) -> str:
  """The head type a task's output features are made for."""
  keys = set(task.output_features)
  for head, markers in _HEAD_MARKERS:
    if keys.issuperset(markers):
      return head
  raise errors.ConfigError(
      f"cannot tell the head type of task {task.name!r} from its output "
      f"features {sorted(keys)}",
      "declare the features of one head: " + "; ".join(
          f"{h}: {', '.join(m)}" for h, m in _HEAD_MARKERS))
