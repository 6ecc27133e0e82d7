"""SeqIO registrations for the synthetic world (the default demo's data).

Registered names:
  synthetic_mlm                  phase 0: MLM text, all languages, train only
  synthetic_mlm.<lang>           the same, one language
  synthetic_paraphrase           intermediate task, English (train/validation):
                                 do two sentences state the same fact?
  synthetic_entailment           intermediate task, English: binary
                                 entailment on many examples (MNLI-like)
  synthetic_entailment_n<N>      its first N training examples (nested)
  synthetic_nli.<lang>           target task in every language
                                 (train/validation; the study trains on `en`)
All share one SentencePiece vocabulary, trained from the corpus on first use.
"""

from __future__ import annotations

import functools
import os

import seqio
import tensorflow as tf

from xferjax.data import features, vocab
from xferjax_tasks.synthetic import world as world_lib

# Word-level pieces: each language's words stay whole, so surface tokens are
# disjoint across languages except the shared anchors (names, digits), which
# is the controlled setting the demo wants. ~230 words; a soft limit.
VOCAB_SIZE = 512
VOCAB_MODEL_TYPE = "word"
# Nested size-ladder variants of the intermediate task: `<task>_n<N>`.
LADDER_SIZES = (500, 1000, 2000, 4000, 8000, 16000)


@functools.lru_cache(maxsize=None)
def get_world(seed: int = 0) -> world_lib.World:
  return world_lib.World(world_lib.WorldConfig(seed=seed))


def synthetic_vocabulary(seed: int = 0) -> vocab.TrainedOnFirstUseVocabulary:
  world = get_world(seed)
  path = os.path.join(vocab.default_cache_dir(), "synthetic",
                      world.config.fingerprint(),
                      f"spm_{VOCAB_MODEL_TYPE}{VOCAB_SIZE}.model")

  def corpus():
    for lang in world.config.languages:
      yield from world.corpus(lang)

  return vocab.TrainedOnFirstUseVocabulary(path, corpus, VOCAB_SIZE,
                                           VOCAB_MODEL_TYPE)


def _source(generate, splits, signature):
  """A FunctionDataSource over a (split) -> iterable-of-dicts generator.

  The examples are generated in Python (fast) and handed to tf.data as whole
  columns: `from_tensor_slices` is far faster than `from_generator`.
  """

  def dataset_fn(split, shuffle_files, seed=None):
    del shuffle_files, seed  # The data is generated in a fixed order.
    rows = list(generate(split))
    columns = {k: tf.constant([r[k] for r in rows], dtype=spec.dtype)
               for k, spec in signature.items()}
    return tf.data.Dataset.from_tensor_slices(columns)

  return seqio.FunctionDataSource(dataset_fn, splits=splits)


_STR = tf.TensorSpec((), tf.string)
_INT = tf.TensorSpec((), tf.int32)


def register(seed: int = 0, prefix: str = "synthetic") -> None:
  world = get_world(seed)
  text_vocab = synthetic_vocabulary(seed)
  text = seqio.Feature(text_vocab, add_eos=False)
  registry = seqio.TaskRegistry

  def add(name, **kwargs):
    if name in registry.names():
      registry.remove(name)
    registry.add(name, **kwargs)

  for langs, name in [(world.config.languages, f"{prefix}_mlm")] + [
      ((l,), f"{prefix}_mlm.{l}") for l in world.config.languages]:
    add(name,
        source=_source(
            lambda split, langs=langs: ({"text": s} for l in langs
                                        for s in world.corpus(l)),
            ["train"], {"text": _STR}),
        preprocessors=[seqio.preprocessors.tokenize],
        output_features={"text": text})

  def add_pair_task(name, examples, first, second, label_names):
    """A sentence-pair classification task over a (split) -> examples fn."""
    add(name,
        source=_source(
            lambda split: ({"text_a": ex[first], "text_b": ex[second],
                            "label": ex["label"]} for ex in examples(split)),
            ["train", "validation"],
            {"text_a": _STR, "text_b": _STR, "label": _INT}),
        preprocessors=[seqio.preprocessors.tokenize],
        output_features={"text_a": text, "text_b": text,
                         "label": features.label_feature(label_names)})

  add_pair_task(f"{prefix}_paraphrase", world.paraphrase, "sentence1",
                "sentence2", world_lib.PARAPHRASE_LABELS)
  add_pair_task(f"{prefix}_entailment", world.entailment, "premise",
                "hypothesis", world_lib.ENTAILMENT_LABELS)
  for n in LADDER_SIZES:
    add_pair_task(
        f"{prefix}_entailment_n{n}",
        lambda split, n=n: world.entailment(
            split, limit=n if split == "train" else None),
        "premise", "hypothesis", world_lib.ENTAILMENT_LABELS)
  for lang in world.config.languages:
    add_pair_task(f"{prefix}_nli.{lang}",
                  lambda split, lang=lang: world.nli(split, lang),
                  "premise", "hypothesis", world_lib.NLI_LABELS)

register()
