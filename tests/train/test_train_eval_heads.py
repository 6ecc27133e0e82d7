"""Per-head evaluation through the trainer, on a tiny XTREME in its files.

Each test trains a tiny model for two steps (what is measured is the
mechanics, not the accuracy), evaluates it on other languages and checks
that (a) the metrics in results.json are what the official-equivalent
scorer (`scorer.score_task`) gives on the written XTREME-layout files,
(b) the written gold is the source files' gold, per original word /
question / pair, and (c) the per-example scores average to the metric (what
the study's paired bootstrap resamples).
"""

import csv
import json
import os

import pytest

import xtreme_files
from xferjax import errors
from xferjax.train import eval_heads


@pytest.fixture(scope="module")
def macros(tmp_path_factory):
  return xtreme_files.write(tmp_path_factory.mktemp("xtreme"))


def _train(macros, model_dir, cfg, **kw):
  from xferjax.train.trainer import TrainRun, run_training
  xtreme_files.bind(macros)
  import xferjax_tasks  # noqa: F401
  run = TrainRun(model_dir=str(model_dir), num_steps=2, batch_size=8,
                 log_every=1, eval_batch_size=8, learning_rate=1e-3, **kw)
  return run_training(run, cfg)


@pytest.fixture(scope="module")
def pawsx_run(macros, tmp_path_factory, tiny_xlmr):
  run_dir = tmp_path_factory.mktemp("pawsx") / "run"
  results = _train(macros, run_dir, tiny_xlmr, task="pawsx.en",
                   task_feature_lengths={"text_a": 12, "text_b": 12},
                   eval_tasks=("pawsx.en", "pawsx.de"))
  return str(run_dir), results


def test_classification_scored_as_the_official_scorer(macros, pawsx_run):
  run_dir, results = pawsx_run
  for lang in ("en", "de"):
    name = f"pawsx.{lang}"
    official, labels = xtreme_files.official_scores(run_dir, "validation", "pawsx", lang)
    xtreme_files.check_scores(run_dir, name, "validation", results["eval"][name],
                  official, lang)
    # The gold is the file's label column, as class indices (PAW-X's
    # official files hold 0/1).
    with open(os.path.join(macros["PAWSX_DATA_DIR"], "x-final", lang,
                           "dev_2k.tsv")) as f:
      gold = [r["label"] for r in csv.DictReader(f, delimiter="\t")]
    assert labels == gold and results["eval"][name]["num_examples"] == 8


def _panx_gold(macros, lang, split):
  with open(os.path.join(macros["PANX_DATA_DIR"], f"{lang}-{split}")) as f:
    blocks = f.read().strip().split("\n\n")
  return [[line.split("\t")[1] for line in b.splitlines()] for b in blocks]


def test_tagging_gives_one_tag_per_original_word(macros, tmp_path,
                                                 tiny_xlmr):
  # 6 pieces (<cls> ... <sep>) cut most sentences: cut-off words get 'O'.
  results = _train(macros, tmp_path / "run", tiny_xlmr, task="panx.en",
                   head="tagging", task_feature_lengths={"tokens": 6,
                                                         "tags": 6},
                   eval_tasks=("panx.de",))
  official, labels = xtreme_files.official_scores(tmp_path / "run", "validation", "panx", "de")
  xtreme_files.check_scores(str(tmp_path / "run"), "panx.de", "validation",
                results["eval"]["panx.de"], official, "de")
  assert labels == _panx_gold(macros, "de", "dev")
  predictions = [r["prediction"] for r in xtreme_files.read_jsonl(tmp_path / "run", "panx.de",
                                                 "validation")]
  assert [len(p) for p in predictions] == [len(g) for g in labels]
  assert all(p[-1] == "O" for p in predictions)  # '.' is past 6 pieces


def test_tagging_head_refuses_a_task_of_another_tag_set(macros, tiny_xlmr):
  from xferjax.train.evaluator import Evaluator
  from xferjax.train.trainer import (build_model_for_task, converter,
                                     prepare_model)
  xtreme_files.bind(macros)
  import xferjax_tasks  # noqa: F401
  _, model, special = build_model_for_task("panx.en", "tagging", tiny_xlmr)
  evaluator = Evaluator(prepare_model(model, _partitioner()), ("udpos.de",),
                        "validation", {"tokens": 8, "tags": 8},
                        lambda t: converter(t, "tagging", special), 8,
                        head="tagging")
  with pytest.raises(errors.ConfigError, match="17 labels but the tagging"):
    evaluator.evaluate(None)


def _partitioner():
  from xferjax import partitioning
  return partitioning.create_partitioner()


def test_span_answers_from_stride_windows_with_converter_options(
    macros, tmp_path, tiny_xlmr):
  options = {"span": {"max_length": 32, "doc_stride": 8,
                      "max_question_length": 12}}
  results = _train(macros, tmp_path / "run", tiny_xlmr, task="squad_v1",
                   head="span", task_feature_lengths={"question": 12},
                   converter_options=options, eval_tasks=("xquad.de",),
                   eval_split="test")
  metrics = results["eval"]["xquad.de"]
  official, questions = xtreme_files.official_scores(tmp_path / "run", "test", "xquad", "de")
  xtreme_files.check_scores(str(tmp_path / "run"), "xquad.de", "test", metrics,
                official, "de")
  with open(os.path.join(macros["XQUAD_DATA_DIR"], "xquad.de.json")) as f:
    data = json.load(f)["data"]
  gold = {q["id"]: [a["text"] for a in q["answers"]]
          for a in data for p in a["paragraphs"] for q in p["qas"]}
  assert {q.id: list(q.answers) for q in questions} == gold
  assert metrics["num_examples"] == len(gold) == 6
  # Each context (4 sentences) spans several 32-piece windows; an answer
  # is a piece of its own context.
  for row in xtreme_files.read_jsonl(tmp_path / "run", "xquad.de", "test"):
    context = next(p["context"] for a in data for p in a["paragraphs"]
                   if any(q["id"] == row["id"] for q in p["qas"]))
    assert row["prediction"] in context


def test_unknown_converter_option_is_a_config_error(macros):
  from xferjax.train.trainer import converter
  xtreme_files.bind(macros)
  import seqio
  import xferjax_tasks  # noqa: F401
  with pytest.raises(errors.ConfigError, match="takes no option"):
    converter(seqio.get_mixture_or_task("squad_v1"), "span",
              {"pad": 0, "eos": 1, "cls": 3, "sep": 4, "mask": 5},
              {"span": {"max_lenght": 32}})


def test_text_to_text_generation_mapped_back_to_labels_and_answers(
    macros, tmp_path, tiny_mt5):
  # Trained on a seqio mixture of one layout (mixed per example).
  import seqio
  import xferjax_tasks  # noqa: F401  (the mixture's tasks)
  if "mt5.test_pawsx_squad" not in seqio.MixtureRegistry.names():
    seqio.MixtureRegistry.add("mt5.test_pawsx_squad",
                              [("mt5.pawsx.en", 3.0), ("mt5.squad_v1", 1.0)])
  results = _train(macros, tmp_path / "run", tiny_mt5,
                   task="mt5.test_pawsx_squad", head="text_to_text",
                   task_feature_lengths={"inputs": 32, "targets": 6},
                   eval_tasks=("mt5.pawsx.de", "mt5.xquad.de"),
                   eval_split="test")
  assert results["num_train_examples"] == 32 + 16  # PAWS-X + SQuAD questions
  for name, task in (("mt5.pawsx.de", "pawsx"), ("mt5.xquad.de", "xquad")):
    official, _ = xtreme_files.official_scores(tmp_path / "run", "test", task, "de")
    xtreme_files.check_scores(str(tmp_path / "run"), name, "test", results["eval"][name],
                  official, "de")
  rows = xtreme_files.read_jsonl(tmp_path / "run", "mt5.pawsx.de", "test")
  assert {r["label"] for r in rows} <= {"0", "1"}
  assert {r["prediction"] for r in rows} <= {"0", "1",
                                             eval_heads.INVALID_LABEL}
  # Sentence embeddings of the mT5 encoder (`text <eos>` rows): Tatoeba.
  from xferjax.train.evaluate_run import EvalRun, run_eval
  out = tmp_path / "eval"
  results = run_eval(EvalRun(
      checkpoint_dir=str(tmp_path / "run"), tasks=("mt5.tatoeba.de",),
      split="test", task_feature_lengths={"text_a": 12, "text_b": 12},
      batch_size=8, output_dir=str(out)), tiny_mt5)
  official, _ = xtreme_files.official_scores(out, "test", "tatoeba", "de")
  xtreme_files.check_scores(str(out), "mt5.tatoeba.de", "test",
                results["mt5.tatoeba.de"], official, "de")


def test_generated_text_back_to_context_characters_and_tags():
  context = "Er wohnt in den U.S. (seit 2001)."
  assert eval_heads.answer_from_padded_generation(
      context, "U . S .") == "U.S."
  assert eval_heads.answer_from_padded_generation(
      context, "( seit 2001 )") == "(seit 2001)"
  assert eval_heads.tags_from_spans(
      "rick lives in new york with rick".split(),
      "PER: rick $$ LOC: new york $$ PER: rick") == [
          "B-PER", "O", "O", "B-LOC", "I-LOC", "O", "B-PER"]


def test_retrieval_from_a_checkpoint_with_xferjax_eval(macros, pawsx_run,
                                                       tmp_path, tiny_xlmr):
  from xferjax.train.evaluate_run import EvalRun, run_eval
  run_dir, _ = pawsx_run
  xtreme_files.bind(macros)
  out = tmp_path / "eval"
  lengths = {"text_a": 12, "text_b": 12}
  for task, split, lang in (("tatoeba", "test", "de"),
                            ("bucc2018", "test", "de")):
    name = f"{task}.{lang}"
    results = run_eval(EvalRun(
        checkpoint_dir=run_dir, tasks=(name,), split=split,
        task_feature_lengths=lengths, batch_size=8, output_dir=str(out),
        retrieval_layer=1), tiny_xlmr)
    official, labels = xtreme_files.official_scores(out, split, task, lang)
    xtreme_files.check_scores(str(out), name, split, results[name], official, lang)
    assert results[name]["retrieval"]["chosen"]["layer"] == 1
    with open(out / "eval_results.json") as f:
      assert json.load(f)[name]["num_examples"] == results[name][
          "num_examples"]
    if task == "bucc2018":  # the .gold file of BUCC's 'training' split
      with open(os.path.join(macros["BUCC2018_DATA_DIR"], "bucc2018", "de-en",
                             "de-en.training.gold")) as f:
        assert sorted(labels) == sorted(
            tuple(l.split("\t")) for l in f.read().splitlines())
    else:
      assert labels == [str(i) for i in range(12)]
