"""Word-level tagging (UD-POS, PAN-X, CCG supertags): first-sub-token labels.

`tokenize_words` (a SeqIO preprocessor) tokenizes each word on its own, so a
word's pieces never merge with its neighbours' (a word with no piece becomes
one <unk>), and turns tag names into label ids with the task's label
vocabulary (names outside it get the vocabulary's `oov_index`, or fail).

`EncoderTaggingConverter` lays the pieces out as `<cls> pieces <eos>` and
puts each word's label on its first piece; every other position (later
pieces, specials, padding) is -1, which the tagging loss ignores.
`word_index` (-1 elsewhere) says which word a labelled position is, so
predictions map back to words; words cut off by `max_length` have no
labelled position and the evaluator must fill them in.
"""

from __future__ import annotations

from typing import Mapping

import seqio
import tensorflow as tf

from xferjax.data import features as features_lib

IGNORE = -1


def tokenize_words(dataset: tf.data.Dataset,
                   output_features: Mapping[str, seqio.Feature],
                   words_key: str = "words", tags_key: str = "tags"
                   ) -> tf.data.Dataset:
  """{words [n], tags [n] names} -> tokens [m], word_ids [m], tags [n] ids."""
  text_vocab = output_features["tokens"].vocabulary
  label_vocab = output_features["tags"].vocabulary
  names = list(label_vocab.label_names)
  oov = getattr(label_vocab, "oov_index", None)
  table = tf.lookup.StaticHashTable(
      tf.lookup.KeyValueTensorInitializer(
          tf.constant(names), tf.range(len(names), dtype=tf.int32)),
      default_value=-1 if oov is None else oov)
  unk = text_vocab.unk_id

  def tokenize(ex):
    words = ex[words_key]
    pieces = tf.cast(text_vocab.encode_tf(words), tf.int32)
    if not isinstance(pieces, tf.RaggedTensor):
      pieces = tf.RaggedTensor.from_tensor(pieces)
    lengths = pieces.row_lengths()
    padded = tf.concat(
        [pieces, tf.fill([tf.shape(words)[0], 1], unk)], axis=1)
    keep = tf.ragged.range(lengths + 1) < tf.maximum(lengths, 1)[:, None]
    pieces = tf.ragged.boolean_mask(padded, keep)
    tag_ids = table.lookup(ex[tags_key])
    out = {k: v for k, v in ex.items() if k not in (words_key, tags_key)}
    out.update({
        "tokens": pieces.flat_values,
        "word_ids": tf.cast(pieces.value_rowids(), tf.int32),
        "tags": tag_ids,
    })
    return out

  def check(ex):
    bad = tf.reduce_any(ex["tags"] < 0)
    with tf.control_dependencies([tf.debugging.assert_equal(
        bad, False, message=f"a tag is not one of the {len(names)} labels "
        f"of this task ({', '.join(names[:20])}...)")]):
      return {k: tf.identity(v) for k, v in ex.items()}

  ds = dataset.map(tokenize, num_parallel_calls=tf.data.AUTOTUNE)
  return ds if oov is not None else ds.map(check)


def _spec(rank=1):
  return seqio.FeatureConverter.FeatureSpec(dtype=tf.int32, rank=rank)


class EncoderTaggingConverter(features_lib.EncoderConverter):
  """`<cls> pieces <eos>`; labels on first pieces, -1 elsewhere."""

  TASK_FEATURES = {"tokens": _spec(), "tags": _spec()}
  MODEL_FEATURES = {"input_ids": _spec(), "attention_mask": _spec(),
                    "labels": _spec(), "word_index": _spec()}

  def convert_example(self, ex, length):
    tokens = ex["tokens"]
    m = tf.shape(tokens)[0]
    word_ids = ex["word_ids"][:m]
    first = tf.concat([[True], word_ids[1:] != word_ids[:-1]], 0)[:m]
    word_index = tf.where(first, word_ids, IGNORE)
    labels = tf.where(first, tf.gather(ex["tags"], tf.maximum(word_ids, 0)),
                      IGNORE)
    pad_to = lambda x: tf.pad(
        tf.concat([[IGNORE], x, [IGNORE]], 0)[:length],
        [[0, length - tf.minimum(m + 2, length)]], constant_values=IGNORE)
    return {**features_lib.encoder_input([tokens], self._ids, length),
            "labels": pad_to(labels), "word_index": pad_to(word_index)}

  def get_model_feature_lengths(self, task_feature_lengths):
    length = task_feature_lengths["tokens"] + 2
    return {"input_ids": length, "attention_mask": length, "labels": length,
            "word_index": length}

