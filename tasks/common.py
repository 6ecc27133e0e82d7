"""Registration helpers shared by the intermediate and XTREME task modules.

A dataset is registered once per *family* (what its normalised examples
look like) and appears in two output styles:

  <name>        encoder features for the XLM-R family (vocabulary at gin
                XLMR_VOCAB_PATH); the head follows from the features
                (`xferjax.data.features.head_of`)
  mt5.<name>    text-to-text `inputs`/`targets` for the mT5 family
                (vocabulary at gin MT5_VOCAB_PATH), in the multilingual-t5
                formats where that project defines one

Families and their normalised examples (what every source yields):

  pair        text_a, text_b, label (int)              -> classification
  choice      text_a, choices [C], label (int)         -> multiple_choice
  span        id, context, question, answers{text, answer_start},
              is_impossible                            -> span
  tagging     words [n], tags [n] (names)              -> tagging
  retrieval   text_a, text_b, index                    -> embedding (pairs)
  sentences   text_a, side, index                      -> embedding (BUCC)

Registering stays cheap (no file, model or TFDS access): sources and
vocabularies resolve their gin paths on first use.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Sequence

import seqio
import tensorflow as tf

from xferjax.data import features, ladders, span, tagging, task_info, vocab

T2T_PREFIX = task_info.T2T_PREFIX

XLMR = vocab.xlmr_vocabulary()
MT5 = vocab.mt5_vocabulary()

_TEXT = seqio.Feature(XLMR, add_eos=False)
_T2T = {"inputs": seqio.Feature(MT5, add_eos=True),
        "targets": seqio.Feature(MT5, add_eos=True)}
_INDEX = seqio.Feature(seqio.PassThroughVocabulary(1), add_eos=False,
                       dtype=tf.int32, rank=0)

FAMILIES = ("pair", "choice", "span", "tagging", "retrieval", "sentences")


def t2t_name(name: str) -> str:
  return T2T_PREFIX + name


def add_task(name: str, **kwargs) -> seqio.Task:
  """Registers (or re-registers, so a module can be reloaded) a task."""
  if name in seqio.TaskRegistry.names():
    seqio.TaskRegistry.remove(name)
  return seqio.TaskRegistry.add(name, **kwargs)


def add_mixture(name: str, tasks, **kwargs) -> seqio.Mixture:
  if name in seqio.MixtureRegistry.names():
    seqio.MixtureRegistry.remove(name)
  return seqio.MixtureRegistry.add(name, tasks, **kwargs)


@dataclasses.dataclass(frozen=True)
class Family:
  """How one family's examples become encoder and text-to-text features."""

  name: str
  label_names: Sequence[str] | features.LabelVocabulary | None = None
  num_choices: int = 0

  def encoder_features(self, text: seqio.Feature = _TEXT
                       ) -> dict[str, seqio.Feature]:
    """The encoder features; `text` is the feature of every text field
    (the mT5 vocabulary's for the retrieval families' `mt5.` twins)."""
    if self.name in ("retrieval", "sentences"):
      if self.name == "retrieval":
        return {"text_a": text, "text_b": text, "index": _INDEX}
      return {"text_a": text, "side": _INDEX, "index": _INDEX}
    if self.name == "pair":
      return {"text_a": _TEXT, "text_b": _TEXT,
              "label": features.label_feature(self.label_names)}
    if self.name == "choice":
      return {"text_a": _TEXT, "label": features.label_feature(
          self.label_names or [str(i) for i in range(self.num_choices)]),
              **{features.choice_key(i): _TEXT
                 for i in range(self.num_choices)}}
    if self.name == "span":
      return {"question": _TEXT, "context": _TEXT}
    if self.name == "tagging":
      return {"tokens": _TEXT,
              "tags": features.label_feature(self.label_names, rank=1)}
    raise ValueError(f"unknown family {self.name!r}; one of {FAMILIES}")

  def encoder_preprocessors(self) -> list[Callable]:
    if self.name == "span":
      return [span.tokenize_span_qa]
    if self.name == "tagging":
      return [tagging.tokenize_words]
    if self.name == "choice":
      return [_split_choices(self.num_choices), seqio.preprocessors.tokenize]
    return [seqio.preprocessors.tokenize]


def _split_choices(num_choices: int):
  def split(dataset):
    def fn(ex):
      out = {k: v for k, v in ex.items() if k != "choices"}
      for i in range(num_choices):
        out[features.choice_key(i)] = ex["choices"][i]
      return out
    return dataset.map(fn, num_parallel_calls=tf.data.AUTOTUNE)
  return split


_MT5_TEXT = seqio.Feature(MT5, add_eos=False)  # the converter adds EOS


def register(name: str, family: Family, source: seqio.DataSource,
             t2t_format: Callable | None = None,
             ladder_sizes: Sequence[int] = (),
             ladder_seed: int = ladders.DEFAULT_SEED) -> list[str]:
  """Registers `name` (encoder), `mt5.<name>` (if `t2t_format`) and their
  nested ladder variants `<name>_n<N>`; returns the names.

  The retrieval families have no text-to-text format: their `mt5.<name>`
  twin has the same sentence features in the mT5 vocabulary, for sentence
  embeddings from the mT5 encoder. A format with `target_labels` (class
  order) records them, with the family's label names, in
  `xferjax.data.task_info` so generated labels can be scored."""
  names = []
  variants = [(name, source)] + [
      (ladders.ladder_name(name, n), ladders.LadderSource(source, n,
                                                          ladder_seed))
      for n in ladder_sizes]
  for task_name, task_source in variants:
    add_task(task_name, source=task_source,
             preprocessors=family.encoder_preprocessors(),
             output_features=family.encoder_features())
    names.append(task_name)
    if family.name in ("retrieval", "sentences"):
      add_task(t2t_name(task_name), source=task_source,
               preprocessors=family.encoder_preprocessors(),
               output_features=family.encoder_features(_MT5_TEXT))
      names.append(t2t_name(task_name))
    elif t2t_format is not None:
      add_task(t2t_name(task_name), source=task_source,
               preprocessors=[t2t_format, seqio.preprocessors.tokenize,
                              seqio.preprocessors.append_eos_after_trim],
               output_features=_T2T)
      labels = getattr(t2t_format, "target_labels", None)
      if labels is not None:
        names_of = getattr(family.label_names, "label_names",
                           family.label_names)
        task_info.set_info(t2t_name(task_name), target_labels=tuple(labels),
                           class_names=tuple(names_of or labels))
      names.append(t2t_name(task_name))
  return names


# ------------------------------------------------- text-to-text formats ---
# Each is a seqio preprocessor over a family's normalised examples.


def _map(fn):
  def preprocess(dataset):
    return dataset.map(fn, num_parallel_calls=tf.data.AUTOTUNE)
  return preprocess


def pad_punctuation(text):
  """Spaces around punctuation (not letters, digits, marks), whitespace
  collapsed: multilingual-t5's QA text normalisation."""
  text = tf.strings.regex_replace(text, r"([^_\s\p{N}\p{L}\p{M}])", r" \1 ")
  return tf.strings.strip(tf.strings.regex_replace(text, r"\s+", " "))


def _join(parts):
  return tf.strings.strip(tf.strings.regex_replace(
      tf.strings.join(parts, separator=" "), r"\s+", " "))


def _label_text(label, names):
  return tf.gather(tf.constant(list(names)), tf.cast(label, tf.int32))


def glue_format(benchmark: str, field_names: Sequence[str],
                label_names: Sequence[str]):
  """T5's GLUE format: '<benchmark> <f1>: a <f2>: b' -> label name.

  `field_names` name text_a and text_b in that order."""
  a_name, b_name = field_names
  return _with_target_labels(_map(lambda ex: {
      "inputs": _join([benchmark, f"{a_name}:", ex["text_a"], f"{b_name}:",
                       ex["text_b"]]),
      "targets": _label_text(ex["label"], label_names)}), label_names)


def _with_target_labels(preprocess, labels):
  """Marks a classification format with its targets in class order."""
  preprocess.target_labels = tuple(labels)
  return preprocess


def xnli_format():
  """multilingual-t5's XNLI: 'xnli: premise: p hypothesis: h' -> '0|1|2'."""
  return _with_target_labels(_map(lambda ex: {
      "inputs": _join(["xnli: premise:", ex["text_a"], "hypothesis:",
                       ex["text_b"]]),
      "targets": tf.strings.as_string(tf.cast(ex["label"], tf.int32))}),
                             ("0", "1", "2"))


UNANSWERABLE = "unanswerable"


def squad_format():
  """multilingual-t5's QA: 'question: q context: c' -> first answer (both
  punctuation-padded); an unanswerable question targets 'unanswerable'."""

  def fn(ex):
    texts = ex["answers"]["text"]
    answer = tf.cond(
        tf.logical_and(tf.size(texts) > 0,
                       tf.logical_not(ex["is_impossible"])),
        lambda: pad_punctuation(texts[0]), lambda: tf.constant(UNANSWERABLE))
    return {"inputs": _join(["question:", pad_punctuation(ex["question"]),
                             "context:", pad_punctuation(ex["context"])]),
            "targets": answer, "id": ex["id"]}

  return _map(fn)


def choice_format(benchmark: str, num_choices: int):
  """Ours (multilingual-t5 has no multiple-choice task):
  '<benchmark> context: c (A) x (B) y ...' -> the right choice's text."""
  letters = "ABCDEFGH"

  def fn(ex):
    parts = [benchmark, "context:", ex["text_a"]]
    for i in range(num_choices):
      parts += [f"({letters[i]})", ex["choices"][i]]
    return {"inputs": _join(parts),
            "targets": tf.gather(ex["choices"], tf.cast(ex["label"],
                                                        tf.int32))}

  return _map(fn)


def tags_format(prefix: str):
  """Ours (UD-POS, CCG): '<prefix>: w1 w2 ...' -> 'T1 T2 ...'."""
  return _map(lambda ex: {
      "inputs": _join([f"{prefix}:", tf.strings.reduce_join(
          ex["words"], separator=" ")]),
      "targets": tf.strings.reduce_join(ex["tags"], separator=" ")})


def entity_spans(tags: Sequence[str], words: Sequence[str]) -> list[str]:
  """IOB2 tags -> ['PER: rick', 'LOC: new york'] as TFDS wikiann spans."""
  spans, current = [], None
  for word, tag in zip(words, tags):
    if tag.startswith("B-") or (tag.startswith("I-") and (
        current is None or current[0] != tag[2:])):
      if current:
        spans.append(current)
      current = (tag[2:], [word])
    elif tag.startswith("I-"):
      current[1].append(word)
    else:
      if current:
        spans.append(current)
      current = None
  if current:
    spans.append(current)
  return [f"{kind}: {' '.join(ws)}" for kind, ws in spans]


def wikiann_format():
  """multilingual-t5's NER: 'tag: w1 w2 ...' -> 'PER: a $$ LOC: b'."""
  return _map(lambda ex: {
      "inputs": _join(["tag:", tf.strings.reduce_join(ex["words"],
                                                      separator=" ")]),
      "targets": tf.strings.reduce_join(ex["spans"], separator=" $$ ")})


# ------------------------------------------------------------- sources ---


def concat_dataset_fn(*dataset_fns):
  """One split read from several sources, one after the other."""

  def dataset_fn(split, shuffle_files, seed=None):
    datasets = [fn(split, shuffle_files, seed) for fn in dataset_fns]
    return functools.reduce(lambda a, b: a.concatenate(b), datasets)

  return dataset_fn


def split_router(routes: dict[str, Callable]):
  """dataset_fn choosing a different dataset_fn per split."""

  def dataset_fn(split, shuffle_files, seed=None):
    return routes[split](split, shuffle_files, seed)

  return dataset_fn


def renamed(read_split_fn: Callable, mapping: dict[str, str]):
  """dataset_fn that reads `mapping[split]` under the name `split`."""

  def dataset_fn(split, shuffle_files, seed=None):
    return read_split_fn(mapping.get(split, split), shuffle_files, seed)

  return dataset_fn


def normalizer(fn: Callable[[dict], dict]) -> Callable[[dict], dict]:
  """Documentation marker: `fn` maps a raw example to its family schema."""
  return fn


def keep(ex: dict[str, Any], *keys: str) -> dict[str, Any]:
  return {k: ex[k] for k in keys}
