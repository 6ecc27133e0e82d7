"""From a head's outputs to XTREME-shaped predictions and gold, per head.

For each head the evaluator jits a predict step (`step_fn`) that returns as
little as the decoding needs (class ids, tag ids, span logits, generated
tokens, pooled sentence embeddings), then `decode` turns the outputs of a
whole split into the values `xferjax.evaluation.scorer.score_task` scores
and `submission` writes, together with the gold from the task's source
examples (`pipeline.raw_examples`: original words, contexts, answers):

  head             kind     predictions               gold
  classification   labels   label per example         label
  multiple_choice  labels   choice index              index
  tagging          tags     tag per original word     tags per word
                            (first-sub-token, via the
                            batch's `word_index`)
  span             qa       {id: answer text}         {id: [answers]}
                            (`span.predict_answers`
                            over all stride windows)
  text_to_text     by the source's family: labels (the generation matched
                   to the task's target strings, `task_info`), choice
                   index (matched to the choices), qa (the generation
                   mapped back to the context's characters), tags (one
                   tag per word; mT5 NER spans turned into IOB2 tags)
  embedding        ranking  Tatoeba: index per English sentence
                   pairs    BUCC: mined (source id, target id) pairs,
                            threshold tuned on `tune_split`

A generation that matches no label is written as `INVALID_LABEL` (wrong).
Words cut off by the sequence length get the task's fill tag ('O' where
the tag set has it, else 'X', else its first tag).
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

from xferjax import errors
from xferjax.data import features as features_lib
from xferjax.data import pipeline
from xferjax.data import span as span_lib
from xferjax.data import task_info
from xferjax.evaluation import metrics, retrieval, submission
from xferjax.models import api, decoding

INVALID_LABEL = "<invalid>"
DEFAULT_LAYER_OF_24 = retrieval.DEFAULT_LAYER  # jiant's layer 14 of 24


@dataclasses.dataclass(frozen=True)
class RetrievalSettings:
  """How sentence embeddings are made and mined (BUCC, Tatoeba)."""

  # The reported layer; None: the same relative depth as jiant's layer 14
  # of XLM-R Large's 24 (`default_layer`).
  layer: int | None = None
  # More layers to report (a layer sweep): a tuple, 'all', or None.
  layers: tuple[int, ...] | str | None = None
  pooling: str = retrieval.DEFAULT_POOLING
  # BUCC: report `layer` ('fixed') or the layer with the best dev F1.
  select: str = "fixed"
  k: int = retrieval.MARGIN_NEIGHBOURS
  block_size: int = retrieval.DEFAULT_BLOCK_SIZE
  # BUCC: the split the margin threshold is tuned on.
  tune_split: str = "validation"

  def validate(self) -> None:
    if self.pooling not in retrieval.POOLINGS:
      raise errors.ConfigError(f"unknown pooling {self.pooling!r}",
                               f"use one of {retrieval.POOLINGS}")
    if self.select not in ("fixed", "best_dev"):
      raise errors.ConfigError(f"unknown layer selection {self.select!r}",
                               "use 'fixed' or 'best_dev'")
    if isinstance(self.layers, str) and self.layers != "all":
      raise errors.ConfigError(f"layers = {self.layers!r} is unknown",
                               "use a tuple of layer indices, 'all' or None")

  def layer_for(self, num_layers: int) -> int:
    return default_layer(num_layers) if self.layer is None else self.layer

  def layers_for(self, num_layers: int) -> tuple[int, ...]:
    chosen = self.layer_for(num_layers)
    extra = (range(num_layers + 1) if self.layers == "all" else
             self.layers or ())
    layers = tuple(sorted({chosen, *extra}))
    bad = [l for l in layers if not 0 <= l <= num_layers]
    if bad:
      raise errors.ConfigError(
          f"retrieval layers {bad} do not exist: the encoder has hidden "
          f"states 0..{num_layers}", "pick layers in that range")
    return layers


def default_layer(num_layers: int) -> int:
  """Layer 14 of 24 (jiant's XLM-R Large choice) at the same relative depth:
  round(14 / 24 x layers), e.g. 7 of 12 (base), 21 of 36 (XL), 28 of 48
  (XXL), at least 1."""
  return max(1, min(num_layers, round(DEFAULT_LAYER_OF_24 * num_layers / 24)))


def encoder_layers(model) -> int:
  cfg = model.cfg
  return getattr(cfg, "num_layers", None) or cfg.num_encoder_layers


@dataclasses.dataclass
class Split:
  """One task split, loaded once: converted arrays and source examples."""

  task: Any
  arrays: dict[str, np.ndarray]
  raw: list[dict] | None


@dataclasses.dataclass
class Decoded:
  """A split's predictions and gold as the scorer takes them."""

  kind: str  # labels | tags | qa | pairs | ranking
  predictions: Any
  labels: Any | None  # None: the split has no gold
  # Per example, for `<task>.<split>.jsonl`: {"prediction", "label"}.
  examples: list[dict]
  # Example indices of the per-example scores (None: 0..n-1).
  score_index: np.ndarray | None = None
  # Retrieval: the layers, threshold and choice (recorded in results).
  details: dict | None = None
  # BUCC: every source id of the split (pairs per-example scores by it).
  source_ids: list[str] | None = None


# ---------------------------------------------------------- predict steps ---


def forward_step(model, reduce: Callable | None = None):
  def step(params, batch):
    out = api.forward(model, params, batch, deterministic=True)
    return out if reduce is None else reduce(out)
  return step


def argmax_step(model):
  return forward_step(model, lambda logits: jnp.argmax(logits, -1))


def generate_step(model, max_decode_len: int):
  def step(params, batch):
    return decoding.greedy_decode(model, params,
                                  batch["encoder_input_tokens"],
                                  max_decode_len)
  return step


def embed_step(model, layers: tuple[int, ...], pooling: str):
  """Pooled, L2-normalised sentence embeddings `[B, len(layers), d]`."""

  def step(params, batch):
    ids, mask = batch["input_ids"], batch["attention_mask"]
    if hasattr(model, "encoder_hidden_states"):
      states = model.apply({"params": params}, ids,
                           method="encoder_hidden_states")
    else:
      states = model.apply({"params": params}, ids, mask,
                           method="hidden_states")
    pooled = retrieval.pool_hidden_states(states, mask, layers, pooling)
    return jnp.swapaxes(pooled, 0, 1)
  return step


# ----------------------------------------------------------------- labels ---


def fill_tag(names: Sequence[str]) -> str:
  for tag in ("O", "X"):
    if tag in names:
      return tag
  return names[0]


def _label_strings(indices, names: Sequence[str], as_index: bool
                   ) -> list[str]:
  """Class ids -> what the layout writes: names, or the index ('0', '1')
  for tasks whose official files hold indices (PAWS-X); -1 is invalid."""
  out = []
  for i in indices:
    i = int(i)
    out.append(INVALID_LABEL if i < 0 else (str(i) if as_index
                                             else names[i]))
  return out


def _labels_decoded(predicted_ids, gold_ids, names, as_index) -> Decoded:
  predictions = _label_strings(predicted_ids, names, as_index)
  labels = _label_strings(gold_ids, names, as_index)
  return Decoded("labels", predictions, labels,
                 [{"prediction": p, "label": l}
                  for p, l in zip(predictions, labels)])


def decode_classification(split: Split, outputs, as_index: bool) -> Decoded:
  names = features_lib.label_names_of(split.task)
  return _labels_decoded(outputs, split.arrays["label"], names, as_index)


# ------------------------------------------------------------------- tags ---


def _tags_decoded(predictions, labels) -> Decoded:
  return Decoded("tags", predictions, labels,
                 [{"prediction": p, "label": l}
                  for p, l in zip(predictions, labels)])


def decode_tagging(split: Split, outputs) -> Decoded:
  names = features_lib.label_names_of(split.task, "tags")
  fill = fill_tag(names)
  word_index = split.arrays["word_index"]
  predictions, labels = [], []
  for row, example in enumerate(split.raw):
    words = example["words"]
    word_ids = [int(w) if w >= 0 else None for w in word_index[row]]
    predictions.append(submission.word_tags_from_subword_tags(
        word_ids, [names[int(t)] for t in outputs[row]], len(words), fill))
    labels.append(list(example["tags"]))
  return _tags_decoded(predictions, labels)


# --------------------------------------------------------------------- QA ---


def _gold_answers(example: dict) -> list[str]:
  """Every gold answer; [''] for an unanswerable question (SQuAD v2.0's
  convention: only the empty answer is right)."""
  texts = list(example["answers"]["text"])
  if example.get("is_impossible") or not texts:
    return [""]
  return texts


def _qa_decoded(raw: list[dict], answers: Sequence[str]) -> Decoded:
  ids = [str(ex["id"]) for ex in raw]
  golds = [_gold_answers(ex) for ex in raw]
  return Decoded("qa", dict(zip(ids, answers)), dict(zip(ids, golds)),
                 [{"id": i, "prediction": a, "label": g}
                  for i, a, g in zip(ids, answers, golds)])


def decode_span(split: Split, outputs) -> Decoded:
  raw = split.raw
  has_unanswerable = any(ex.get("is_impossible") for ex in raw)
  answers = span_lib.predict_answers(
      outputs[..., 0], outputs[..., 1], split.arrays,
      [ex["context"] for ex in raw],
      null_threshold=0.0 if has_unanswerable else None)
  return _qa_decoded(raw, answers)


# ------------------------------------------------------- text-to-text -------

# RE2's \s (what the tasks' TF regexes use): ASCII whitespace only.
_SPACE = " \t\n\f\r"
_SPACES = re.compile("[" + re.escape(_SPACE) + "]+")


def _is_padded_punctuation(ch: str) -> bool:
  """A character `common.pad_punctuation` puts spaces around: not '_',
  whitespace, a number, a letter or a mark."""
  return ch != "_" and ch not in _SPACE and unicodedata.category(ch)[0] not in (
      "N", "L", "M")


def _units(text: str) -> list[tuple[int, int]]:
  """Character spans of the words of `pad_punctuation(text)`."""
  units, i = [], 0
  while i < len(text):
    if text[i] in _SPACE:
      i += 1
    elif _is_padded_punctuation(text[i]):
      units.append((i, i + 1))
      i += 1
    else:
      j = i
      while j < len(text) and text[j] not in _SPACE and (
          not _is_padded_punctuation(text[j])):
        j += 1
      units.append((i, j))
      i = j
  return units


def answer_from_padded_generation(context: str, generated: str) -> str:
  """The context's own characters for an answer generated in
  multilingual-t5's punctuation-padded form ("U . S ." -> "U.S."): the
  first run of the context's padded words equal to the generation's. A
  generation that is not in the context is returned as generated."""
  words = [w for w in _SPACES.split(generated) if w]
  if not words:
    return ""
  units = _units(context)
  texts = [context[a:b] for a, b in units]
  n = len(words)
  for start in range(len(units) - n + 1):
    if texts[start:start + n] == words:
      return context[units[start][0]:units[start + n - 1][1]]
  return submission.answer_from_generated_text(generated)


def tags_from_spans(words: Sequence[str], generated: str) -> list[str]:
  """IOB2 tags from mT5's NER output 'PER: rick $$ LOC: new york': each
  span's words are matched left to right after the previous span."""
  tags = ["O"] * len(words)
  cursor = 0
  for part in generated.split("$$"):
    kind, sep, text = part.partition(":")
    span = text.split()
    if not sep or not kind.strip() or not span:
      continue
    for start in range(cursor, len(words) - len(span) + 1):
      if list(words[start:start + len(span)]) == span:
        tags[start] = f"B-{kind.strip()}"
        for i in range(start + 1, start + len(span)):
          tags[i] = f"I-{kind.strip()}"
        cursor = start + len(span)
        break
  return tags


def _tags_from_text(words, generated: str, spans: bool) -> list[str]:
  if spans:
    return tags_from_spans(words, generated)
  tags = generated.split()[:len(words)]
  return tags + ["X"] * (len(words) - len(tags))


def decode_text_to_text(split: Split, outputs, as_index: bool) -> Decoded:
  """Generated text -> the values of the source family's kind."""
  vocabulary = split.task.output_features["targets"].vocabulary
  texts = [vocabulary.decode([int(t) for t in row]).strip()
           for row in outputs]
  raw = split.raw
  first = raw[0] if raw else {}
  if "answers" in first:
    return _qa_decoded(raw, [answer_from_padded_generation(ex["context"], t)
                             for ex, t in zip(raw, texts)])
  if "words" in first:
    spans = "spans" in first
    return _tags_decoded(
        [_tags_from_text(ex["words"], t, spans) for ex, t in zip(raw, texts)],
        [list(ex["tags"]) for ex in raw])
  if "choices" in first:
    predicted = [list(ex["choices"]).index(t) if t in ex["choices"] else -1
                 for ex, t in zip(raw, texts)]
    return _labels_decoded(predicted, [ex["label"] for ex in raw],
                           None, True)
  info = task_info.info_of(split.task.name)
  if "label" in first and info.target_labels:
    targets = list(info.target_labels)
    names = info.class_names or info.target_labels
    predicted = [targets.index(t) if t in targets else -1 for t in texts]
    return _labels_decoded(predicted, [ex["label"] for ex in raw], names,
                           as_index)
  # Anything else: exact match with the target text.
  gold = [vocabulary.decode([int(t) for t in row]).strip()
          for row in split.arrays["decoder_target_tokens"]]
  predictions = [t.replace("\n", " ") or INVALID_LABEL for t in texts]
  labels = [t.replace("\n", " ") or INVALID_LABEL for t in gold]
  return Decoded("labels", predictions, labels,
                 [{"prediction": p, "label": l}
                  for p, l in zip(predictions, labels)])


# -------------------------------------------------------------- retrieval ---


def _by_layer(pooled: np.ndarray, layers, pooling: str, rows=None
              ) -> retrieval.SentenceEmbeddings:
  pooled = pooled if rows is None else pooled[rows]
  return retrieval.SentenceEmbeddings(
      pooling, {l: pooled[:, i] for i, l in enumerate(layers)})


def decode_tatoeba(split: Split, outputs, layers, settings: RetrievalSettings,
                   layer: int) -> Decoded:
  """Pairs (text_a other language, text_b English): rows 2i, 2i+1."""
  n = len(split.arrays["index"])
  source = _by_layer(outputs, layers, settings.pooling, slice(0, 2 * n, 2))
  english = _by_layer(outputs, layers, settings.pooling, slice(1, 2 * n, 2))
  gold = list(range(n))
  result = retrieval.tatoeba_evaluate(source, english, gold, layer=layer,
                                      layers=layers,
                                      block_size=settings.block_size)
  predictions = result["predictions"]
  return Decoded("ranking", predictions, gold,
                 [{"prediction": p, "label": g}
                  for p, g in zip(predictions, gold)],
                 details={"chosen": result["chosen"],
                          "layers": result["layers"]})


def _bucc_corpus(split: Split, outputs, layers, pooling: str, gold
                 ) -> tuple[retrieval.BuccCorpus, list[str]]:
  sides = np.asarray(split.arrays["side"])
  ids = [str(ex["id"]) for ex in split.raw]
  texts = [ex["text_a"] for ex in split.raw]
  corpus = {}
  for side in (0, 1):
    rows = np.flatnonzero(sides == side)
    unique = retrieval.unique_sentences([ids[r] for r in rows],
                                        [texts[r] for r in rows])
    corpus[side] = (unique.ids, _by_layer(outputs, layers, pooling,
                                          rows[unique.rows]))
  source_ids = [ids[r] for r in np.flatnonzero(sides == 0)]
  return retrieval.BuccCorpus(
      corpus[0][0], corpus[0][1], corpus[1][0], corpus[1][1],
      None if gold is None else frozenset(map(tuple, gold))), source_ids


def decode_bucc(split: Split, outputs, tune: Split, tune_outputs, layers,
                settings: RetrievalSettings, layer: int, gold, tune_gold
                ) -> Decoded:
  if tune_gold is None:
    raise errors.DataError(
        f"{split.task.name!r} has no gold pairs for its {settings.tune_split!r}"
        " split, which the BUCC threshold is tuned on",
        "provide that split's .gold file (BUCC's sample split), or set "
        "RetrievalRun.tune_split to a split that has one")
  dev, _ = _bucc_corpus(tune, tune_outputs, layers, settings.pooling,
                        tune_gold)
  test, source_ids = _bucc_corpus(split, outputs, layers, settings.pooling,
                                  gold)
  result = retrieval.bucc_evaluate(dev, test, layer=layer, layers=layers,
                                   select=settings.select, k=settings.k,
                                   block_size=settings.block_size)
  pairs = [tuple(p) for p in result["test_pairs"]]
  labels = None if gold is None else [tuple(p) for p in gold]
  return Decoded("pairs", pairs, labels,
                 [{"prediction": list(p)} for p in pairs],
                 details={"chosen": result["chosen"],
                          "layers": result["layers"]},
                 source_ids=source_ids)


def gold_pairs(task_name: str, split: str):
  info = task_info.info_of(task_name)
  if info.gold_pairs is None:
    raise errors.ConfigError(
        f"task {task_name!r} (sentences for BUCC-style mining) has no gold "
        "pairs registered", "register them with xferjax.data.task_info."
        "set_info(name, gold_pairs=fn(split) -> pairs)")
  return info.gold_pairs(split)


def is_pair_task(task) -> bool:
  """Tatoeba-style (aligned pairs) rather than BUCC-style sentences."""
  return "text_b" in task.output_features


def load_split(name: str, split: str, lengths, converter, need_raw: bool
               ) -> Split:
  task = pipeline.get_task_or_mixture(name)
  arrays = pipeline.load_examples(name, split, lengths, converter)
  raw = pipeline.raw_examples(name, split) if need_raw else None
  if raw is not None and len(raw) != _num_source_examples(arrays):
    raise errors.DataError(
        f"{name!r} {split}: {len(raw)} source examples but "
        f"{_num_source_examples(arrays)} converted ones, so predictions "
        "cannot be matched to their gold", "make the task's preprocessors "
        "keep one example per source example (no filtering)")
  return Split(task, arrays, raw)


def _num_source_examples(arrays: Mapping[str, np.ndarray]) -> int:
  if "example_index" in arrays:  # span windows
    return int(arrays["example_index"].max()) + 1 if len(
        arrays["example_index"]) else 0
  return pipeline.num_examples(arrays)


def qa_normalizer(xtreme_task: str, language: str) -> metrics.AnswerNormalizer:
  """The answer normalisation the official scorer uses for the task."""
  if xtreme_task == "mlqa":
    return metrics.mlqa_normalizer(language)
  return metrics.SQUAD_NORMALIZER
