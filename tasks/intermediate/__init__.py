"""English intermediate tasks (Phang et al. 2020), their ladders and sources.

  name            source                                   family / head
  anli_plus       TFDS anli/r1-r3 + multi_nli + snli        pair (3 NLI labels)
                  (train; validation/test: ANLI r1-r3)
  mnli            TFDS glue/mnli (validation = matched)     pair
  qqp             TFDS glue/qqp                             pair
  squad_v1        SQUAD_DATA_DIR files, else TFDS squad/v1.1     span
  squad_v2        SQUAD_V2_DATA_DIR files, else TFDS squad/v2.0  span
  hellaswag       TFDS hellaswag                            choice (4)
  ccg             CCGBANK_DATA_DIR files (LDC)              tagging (supertags
                                                            seen >= min_count
                                                            in 02-21, + <OOV>)
  cosmosqa        COSMOSQA_DATA_DIR files, else TFDS cosmos_qa   choice (4)
  commonsenseqa   COMMONSENSEQA_DATA_DIR files              choice (5)

Each also exists as `mt5.<name>` (text-to-text) and, for every size in
`LADDER_SIZES`, as `<name>_n<N>` / `mt5.<name>_n<N>` (nested subsets of the
training split, `xferjax.data.ladders`). `TRAIN_SIZES` are the official
training-set sizes, which the mixtures' rates use without reading data.
"""

from __future__ import annotations

import hashlib
import os

import gin
import tensorflow as tf

from xferjax.data import ladders, sources, vocab
from xferjax.data.features import LazyLabelVocabulary
from xferjax.data.readers import ccgbank, multiple_choice, squad_json
from xferjax_tasks import common

LADDER_SIZES = ladders.DEFAULT_SIZES
NLI_LABELS = ("entailment", "neutral", "contradiction")
QQP_LABELS = ("not_duplicate", "duplicate")

# Official training-set sizes (examples; CCG: sentences of sections 02-21;
# ANLI+: ANLI r1+r2+r3 + MNLI + SNLI's labelled pairs).
TRAIN_SIZES = {
    "anli_plus": 16946 + 45460 + 100459 + 392702 + 549367,
    "mnli": 392702, "qqp": 363846, "squad_v1": 87599, "squad_v2": 130319,
    "hellaswag": 39905, "ccg": 39604, "cosmosqa": 25262,
    "commonsenseqa": 9741,
}
NAMES = tuple(TRAIN_SIZES)


def _nli(premise_key: str):
  return lambda ex: {"text_a": ex[premise_key], "text_b": ex["hypothesis"],
                     "label": tf.cast(ex["label"], tf.int32)}


def _labelled(dataset_fn):
  """SNLI marks pairs without a gold label -1: drop them."""
  def fn(split, shuffle_files, seed=None):
    return dataset_fn(split, shuffle_files, seed).filter(
        lambda ex: ex["label"] >= 0)
  return fn


def _squad_tfds(ex):
  out = {k: ex[k] for k in ("id", "title", "context", "question", "answers")}
  out["is_impossible"] = ex.get("is_impossible", tf.constant(False))
  return out


def _squad_source(layout: str, tfds_name: str, version: str):
  files = sources.files_dataset_fn(layout, squad_json.read_squad,
                                   squad_json.FEATURES, version=version)
  tfds = sources.tfds_dataset_fn(tfds_name, _squad_tfds)
  return sources.function_source(
      sources.either_dataset_fn(files, tfds, layout), ["train", "validation"])


def _joined(context, question):
  return tf.strings.strip(tf.strings.join([context, question], " "))


def _mc_files(ex):
  return {"text_a": _joined(ex["context"], ex["question"]),
          "choices": ex["choices"], "label": ex["label"]}


def _cosmos_tfds(ex):
  return {"text_a": _joined(ex["context"], ex["question"]),
          "choices": tf.stack([ex[f"answer{i}"] for i in range(4)]),
          "label": tf.cast(ex["label"], tf.int32)}


def _hellaswag(ex):
  return {"text_a": ex["context"], "choices": ex["endings"],
          "label": tf.cast(ex["label"], tf.int32)}


def _ccg(ex):
  return {"words": ex["tokens"], "tags": ex["supertags"]}


@gin.configurable(module="xferjax_tasks.intermediate")
def ccg_supertags(min_count: int = 10) -> tuple[str, ...]:
  """CCG's label set: built from CCGbank's training sections on first use
  and cached under XFERJAX_CACHE_DIR (keyed by data dir and min_count)."""
  data_dir = sources.data_dir_of("ccgbank") or ""
  key = hashlib.sha1(f"{data_dir}|{min_count}".encode()).hexdigest()[:16]
  path = os.path.join(vocab.default_cache_dir(), "ccgbank",
                      f"supertags-{key}.txt")
  if tf.io.gfile.exists(path):
    return ccgbank.SupertagInventory.load(path).tags
  inventory = ccgbank.build_supertag_inventory(
      (ex["supertags"] for ex in ccgbank.read_ccgbank(data_dir, "train")),
      min_count=min_count)
  inventory.save(path)
  return inventory.tags


def _fn_source(dataset_fn, splits):
  return sources.function_source(dataset_fn, splits)


def register() -> list[str]:
  tfds = sources.tfds_dataset_fn
  nli = common.Family("pair", NLI_LABELS)
  anli = lambda split: [tfds(f"anli/r{r}", _nli("context"))
                        for r in (1, 2, 3)]
  anli_plus = common.split_router({
      "train": common.concat_dataset_fn(
          *anli("train"), tfds("multi_nli", _nli("premise")),
          _labelled(tfds("snli", _nli("premise")))),
      "validation": common.concat_dataset_fn(*anli("validation")),
      "test": common.concat_dataset_fn(*anli("test")),
  })
  mnli_splits = {"validation": "validation_matched",
                 "validation_mismatched": "validation_mismatched"}
  cosmos = sources.either_dataset_fn(
      sources.files_dataset_fn("cosmosqa", multiple_choice.read_cosmosqa,
                               multiple_choice.FEATURES, _mc_files),
      tfds("cosmos_qa", _cosmos_tfds), "cosmosqa")
  table = [
      ("anli_plus", nli, _fn_source(anli_plus, ["train", "validation",
                                                "test"]),
       common.glue_format("anli", ("premise", "hypothesis"), NLI_LABELS)),
      ("mnli", nli, _fn_source(
          tfds("glue/mnli", _nli("premise"), mnli_splits),
          ["train", "validation", "validation_mismatched"]),
       common.glue_format("mnli", ("premise", "hypothesis"), NLI_LABELS)),
      ("qqp", common.Family("pair", QQP_LABELS), _fn_source(
          tfds("glue/qqp", lambda ex: {
              "text_a": ex["question1"], "text_b": ex["question2"],
              "label": tf.cast(ex["label"], tf.int32)}),
          ["train", "validation"]),
       common.glue_format("qqp", ("question1", "question2"), QQP_LABELS)),
      ("squad_v1", common.Family("span"),
       _squad_source("squad", "squad/v1.1", "1.1"), common.squad_format()),
      ("squad_v2", common.Family("span"),
       _squad_source("squad_v2", "squad/v2.0", "2.0"), common.squad_format()),
      ("hellaswag", common.Family("choice", num_choices=4), _fn_source(
          tfds("hellaswag", _hellaswag), ["train", "validation"]),
       common.choice_format("hellaswag", 4)),
      ("ccg", common.Family("tagging", LazyLabelVocabulary(
          ccg_supertags, oov_index=0)), _fn_source(
              sources.files_dataset_fn("ccgbank", ccgbank.read_ccgbank,
                                       ccgbank.FEATURES, _ccg),
              ["train", "validation", "test"]),
       common.tags_format("ccg")),
      ("cosmosqa", common.Family("choice", num_choices=4),
       _fn_source(cosmos, ["train", "validation"]),
       common.choice_format("cosmosqa", 4)),
      ("commonsenseqa", common.Family("choice", num_choices=5), _fn_source(
          sources.files_dataset_fn("commonsenseqa",
                                   multiple_choice.read_commonsenseqa,
                                   multiple_choice.FEATURES, _mc_files),
          ["train", "validation"]),
       common.choice_format("commonsenseqa", 5)),
  ]
  names = []
  for name, family, source, t2t in table:
    names += common.register(name, family, source, t2t,
                             ladder_sizes=LADDER_SIZES)
  return names


TASK_NAMES = register()
