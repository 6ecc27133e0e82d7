"""The nine XTREME target tasks, in every XTREME language.

Languages come from the scorer's table (`xferjax.evaluation.tasks`), so
registration, evaluation and scoring never disagree.

  name                   splits              source (files if <NAME>_DATA_DIR
                                             is set in gin, else TFDS)
  xnli.<lang>            validation, test    XNLI 1.0 files | TFDS xnli
                         (+ train for en:    XNLI-MT en | TFDS multi_nli)
  pawsx.<lang>           train, validation,  PAWS-X files | TFDS paws_x_wiki
                         test
  udpos.<lang>           train, validation,  UD v2.5 files only (every
                         test                treebank of the language)
  panx.<lang>            train, validation,  PAN-X files only (manual
                         test                download)
  xquad.<lang>           test                XQuAD files | TFDS xquad
  mlqa.<lang>            validation, test    MLQA files | TFDS mlqa
  mlqa.<ctx>.<q>         validation, test    MLQA files only: context in
                                             <ctx>, question in <q> (G-XLT)
  tydiqa.<lang>          train, validation   TyDiQA-GoldP files | TFDS
                                             tydi_qa/goldp (split by id)
  bucc2018.<lang>        validation, test    BUCC 2018 files only: sentences
                                             of both sides (side 0 = <lang>,
                                             1 = en; gold pairs via
                                             readers.parallel.read_bucc_gold)
  tatoeba.<lang>         test                Tatoeba files only (pairs)

English training data for XQuAD and MLQA is SQuAD v1.1 (`squad_v1`, see
`tasks.intermediate`). Every task also exists as `mt5.<name>`: in the
multilingual-t5 formats (UD-POS: ours), and for the retrieval tasks the same
sentences in the mT5 vocabulary (`text <eos>`), embedded by the mT5 encoder.
BUCC's gold pairs (per split) are recorded in `xferjax.data.task_info`.
"""

from __future__ import annotations

import tensorflow as tf

from xferjax import errors
from xferjax.data import sources, task_info, vocab
from xferjax.data.readers import common as readers_common
from xferjax.data.readers import conllu, layouts, panx, parallel
from xferjax.data.readers import seqio_source
from xferjax.data.readers import squad_json, tsv
from xferjax.evaluation import tasks as xtreme_table
from xferjax_tasks import common
from xferjax_tasks.intermediate import NLI_LABELS

PAWSX_LABELS = ("different_meaning", "paraphrase")
TASKS = tuple(xtreme_table.XTREME_TASKS)


def languages(task: str) -> tuple[str, ...]:
  return xtreme_table.task_spec(task).languages


def task_name(task: str, language: str, text_to_text: bool = False) -> str:
  """`<task>.<language>` (or `mt5.` ...); an unknown code lists the valid."""
  valid = languages(task)
  if language not in valid:
    raise errors.ConfigError(
        f"unknown language {language!r} for XTREME task {task!r}",
        f"use one of {', '.join(sorted(valid))}")
  name = f"{task}.{language}"
  return common.t2t_name(name) if text_to_text else name


def _pair(a: str, b: str):
  return lambda ex: {"text_a": ex[a], "text_b": ex[b],
                     "label": tf.cast(ex["label"], tf.int32)}


def _xnli_tfds(lang: str):
  def normalize(ex):
    hyp = ex["hypothesis"]
    at = tf.where(tf.equal(hyp["language"], lang))[0, 0]
    return {"text_a": ex["premise"][lang], "text_b": hyp["translation"][at],
            "label": tf.cast(ex["label"], tf.int32)}
  return normalize


def _squad_tfds(ex):
  out = {k: ex[k] for k in ("id", "title", "context", "question", "answers")}
  out["is_impossible"] = tf.constant(False)
  return out


def _tydiqa_tfds(lang: str):
  prefix = layouts.TYDIQA_LANGUAGE_NAMES[lang]  # Ids start "<name>-".

  def dataset_fn(split, shuffle_files, seed=None):
    ds = sources.tfds_dataset_fn("tydi_qa/goldp", _squad_tfds)(
        split, shuffle_files, seed)
    return ds.filter(lambda ex: tf.strings.regex_full_match(
        ex["id"], prefix + "-.*"))

  return dataset_fn


def _words(ex):
  return {"words": ex["tokens"], "tags": ex["upos"]}


def _panx_with_spans(data_dir, split, language, on_error="raise"):
  """PAN-X plus mT5's entity spans; paths resolve now (errors surface)."""
  examples = panx.read_panx(data_dir, split, language, on_error=on_error)
  return ({**ex, "spans": common.entity_spans(ex["tags"], ex["tokens"])}
          for ex in examples)


_PANX_SCHEMA = {**panx.FEATURES, "spans": readers_common.STRINGS}


def _bucc_sentences(lang: str):
  """Both sides of one BUCC split: `lang` (side 0) then English (side 1)."""

  def dataset_fn(split, shuffle_files, seed=None):
    del shuffle_files, seed
    data_dir = sources.data_dir_of("bucc2018") or ""
    sides = []
    for side_index, side in enumerate((lang, "en")):
      ds = seqio_source.dataset_from_reader(
          lambda s, side=side: parallel.read_bucc(
              data_dir, s, lang, side,
              on_error=vocab.gin_macro_value(sources.ON_ERROR_MACRO)
              or "raise"),
          parallel.BUCC_SENTENCE_FEATURES, split)
      sides.append(ds.enumerate().map(
          lambda i, ex, side_index=side_index: {
              "id": ex["id"], "text_a": ex["sentence"],
              "side": tf.constant(side_index, tf.int32),
              "index": tf.cast(i, tf.int32)}))
    return sides[0].concatenate(sides[1])

  return dataset_fn


def _bucc_gold(lang: str):
  """split -> BUCC gold pairs, None when that split's .gold file is absent
  (a malformed one is an error naming file and line)."""

  def gold(split):
    data_dir = sources.data_dir_of("bucc2018") or ""
    try:
      layouts.get_layout("bucc2018").resolve(data_dir, split, lang,
                                             side="gold")
    except errors.DataError:
      return None
    return [(g["source_id"], g["target_id"]) for g in parallel.read_bucc_gold(
        data_dir, split, lang,
        on_error=vocab.gin_macro_value(sources.ON_ERROR_MACRO) or "raise")]

  return gold


def _tatoeba(ex):
  return {"text_a": ex["source"], "text_b": ex["target"],
          "index": tf.cast(ex["index"], tf.int32)}


def _either(layout, files_fn, tfds_fn):
  return sources.either_dataset_fn(files_fn, tfds_fn, layout)


def _table(lang: str):
  """(task, family, dataset_fn, splits, t2t format) rows for one language."""
  files, tfds = sources.files_dataset_fn, sources.tfds_dataset_fn
  pair = lambda labels: common.Family("pair", labels)
  span = common.Family("span")
  squad_t2t = common.squad_format()
  rows = []
  if lang in languages("xnli"):
    xnli_eval = _either("xnli", files("xnli", tsv.read_xnli,
                                      tsv.XNLI_FEATURES,
                                      _pair("premise", "hypothesis"),
                                      language=lang),
                        tfds("xnli", _xnli_tfds(lang)))
    splits = ["validation", "test"]
    fn = xnli_eval
    if lang == "en":
      train = _either("xnli", xnli_eval,
                      tfds("multi_nli", _pair("premise", "hypothesis")))
      fn = common.split_router({"train": train, "validation": xnli_eval,
                                "test": xnli_eval})
      splits = ["train"] + splits
    rows.append(("xnli", pair(NLI_LABELS), fn, splits, common.xnli_format()))
  if lang in languages("pawsx"):
    rows.append(("pawsx", pair(PAWSX_LABELS), _either(
        "pawsx", files("pawsx", tsv.read_pawsx, tsv.PAWSX_FEATURES,
                       _pair("sentence1", "sentence2"), language=lang),
        tfds(f"paws_x_wiki/{lang}", _pair("sentence1", "sentence2"))),
                 ["train", "validation", "test"],
                 common.glue_format("paws", ("sentence1", "sentence2"),
                                    PAWSX_LABELS)))
  if lang in languages("udpos"):
    rows.append(("udpos", common.Family("tagging", conllu.UPOS_TAGS),
                 files("udpos", conllu.read_udpos, conllu.FEATURES, _words,
                       language=lang),
                 ["train", "validation", "test"],
                 common.tags_format("udpos")))
  if lang in languages("panx"):
    rows.append(("panx", common.Family("tagging", panx.PANX_TAGS),
                 files("panx", _panx_with_spans, _PANX_SCHEMA,
                       lambda ex: {"words": ex["tokens"], "tags": ex["tags"],
                                   "spans": ex["spans"]}, language=lang),
                 ["train", "validation", "test"], common.wikiann_format()))
  if lang in languages("xquad"):
    rows.append(("xquad", span, _either(
        "xquad", files("xquad", squad_json.read_xquad, squad_json.FEATURES,
                       language=lang),
        tfds(f"xquad/{lang}", _squad_tfds)), ["test"], squad_t2t))
  if lang in languages("mlqa"):
    rows.append(("mlqa", span, _either(
        "mlqa", files("mlqa", squad_json.read_mlqa, squad_json.FEATURES,
                      context_language=lang),
        tfds(f"mlqa/{lang}", _squad_tfds)), ["validation", "test"],
                 squad_t2t))
  if lang in languages("tydiqa"):
    rows.append(("tydiqa", span, _either(
        "tydiqa_goldp", files("tydiqa_goldp", squad_json.read_tydiqa_goldp,
                              squad_json.FEATURES, language=lang),
        _tydiqa_tfds(lang)), ["train", "validation"], squad_t2t))
  if lang in languages("bucc2018"):
    rows.append(("bucc2018", common.Family("sentences"),
                 _bucc_sentences(lang), ["validation", "test"], None))
  if lang in languages("tatoeba"):
    rows.append(("tatoeba", common.Family("retrieval"),
                 files("tatoeba", parallel.read_tatoeba,
                       parallel.TATOEBA_FEATURES, _tatoeba, language=lang),
                 ["test"], None))
  return rows


def _mlqa_cross_pairs():
  langs = languages("mlqa")
  for context_lang in langs:
    for question_lang in langs:
      if context_lang != question_lang:
        yield context_lang, question_lang


def register() -> list[str]:
  names = []
  all_languages = sorted({l for t in TASKS for l in languages(t)})
  for lang in all_languages:
    for task, family, fn, splits, t2t in _table(lang):
      names += common.register(f"{task}.{lang}", family,
                               sources.function_source(fn, splits), t2t)
  for lang in languages("bucc2018"):
    for name in (f"bucc2018.{lang}", common.t2t_name(f"bucc2018.{lang}")):
      task_info.set_info(name, gold_pairs=_bucc_gold(lang))
  for context_lang, question_lang in _mlqa_cross_pairs():
    fn = sources.files_dataset_fn(
        "mlqa", squad_json.read_mlqa, squad_json.FEATURES,
        context_language=context_lang, question_language=question_lang)
    names += common.register(f"mlqa.{context_lang}.{question_lang}",
                             common.Family("span"),
                             sources.function_source(fn, ["validation",
                                                          "test"]),
                             common.squad_format())
  return names


TASK_NAMES = register()
