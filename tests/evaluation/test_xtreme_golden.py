"""Golden test: XTREME's mock_test_data must score exactly as the official
scorer scores it: the averages of evaluate_test.py (float equality, as
there), and the whole JSON the official evaluate.py wrote, byte for byte."""

import itertools
import json
import pathlib

import pytest

from xferjax.evaluation import scorer
from xferjax.evaluation import submission
from xferjax.evaluation import tasks

MOCK = pathlib.Path(__file__).parents[1] / "fixtures" / "xtreme_mock_test_data"

# TASK2AVG_SCORES from google-research/xtreme evaluate_test.py (commit 838c13b).
EXPECTED = {
    "pawsx": {"avg_accuracy": 51.42857142857143},
    "xnli": {"avg_accuracy": 30.666666666666668},
    "panx": {"avg_f1": 57.50793650793652, "avg_precision": 54.729166666666664,
             "avg_recall": 62.750000000000014},
    "udpos": {"avg_f1": 70.21746048354693, "avg_precision": 71.02232625883823,
              "avg_recall": 69.54982073976082},
    "bucc2018": {"avg_f1": 55.0, "avg_precision": 55.0, "avg_recall": 55.0},
    "tatoeba": {"avg_accuracy": 53.611111111111114},
    "xquad": {"avg_exact_match": 77.27272727272727,
              "avg_f1": 79.9586776859504},
    "mlqa": {"avg_exact_match": 57.142857142857146,
             "avg_f1": 81.76870748299321},
    "tydiqa": {"avg_exact_match": 88.88888888888889,
               "avg_f1": 97.22222222222223},
}


@pytest.fixture(scope="module")
def official():
  return scorer.score_submission(MOCK / "predictions", MOCK / "labels")


def _averages(task_scores):
  return {k: v for k, v in task_scores.items()
          if k.startswith("avg_") and k != "avg_metric"}


@pytest.mark.parametrize("task", list(EXPECTED))
def test_folder_scores_match_evaluate_test_exactly(official, task):
  assert _averages(official[task]) == EXPECTED[task]


@pytest.mark.parametrize("task", list(EXPECTED))
def test_in_memory_scores_match_folder_scores(official, task):
  fmt = submission.file_format(task)
  languages = tasks.XTREME_TASKS[task].languages
  labels = {l: fmt.read_labels(submission.task_file(MOCK / "labels", task, l))
            for l in languages}
  predictions = {
      l: fmt.read_predictions(submission.task_file(MOCK / "predictions", task,
                                                   l)) for l in languages}
  assert scorer.score_task(task, predictions, labels) == official[task]


def _official_all_task_values(scores: dict) -> set:
  """Every value the official `sum(... for task in set(...)) / 9` can take:
  the set's order follows PYTHONHASHSEED, and float addition is not
  associative."""
  metric = [scores[t]["avg_metric"] for t in tasks.XTREME_TASKS]
  return {sum(order) / len(order) for order in itertools.permutations(metric)}


@pytest.mark.parametrize("seqeval", ["0.0.12", "1.2.2"])
def test_json_is_byte_for_byte_what_evaluate_py_wrote(seqeval):
  ours = scorer.score_submission(MOCK / "predictions", MOCK / "labels",
                                 seqeval=seqeval)
  text = (MOCK / "official_scores" / f"seqeval-{seqeval}.json").read_text()
  theirs = json.loads(text)
  # Same keys, nesting and order, same numbers, and ints where they wrote
  # ints (seqeval 0.0.12 and BUCC give the int 0 when nothing is correct).
  possible = _official_all_task_values(theirs)
  assert theirs["all_task"] in possible and ours["all_task"] in possible
  ours_text = json.dumps({**ours, "all_task": theirs["all_task"]}, indent=2)
  assert ours_text == text


def test_json_layout_is_the_official_one(official):
  assert list(official) == ["all_task", "classification", "tagging", "qa",
                            "retrieval", "pawsx", "xnli", "panx", "udpos",
                            "bucc2018", "tatoeba", "xquad", "mlqa", "tydiqa"]
  assert list(official["panx"]) == ["f1", "precision", "recall", "avg_f1",
                                    "avg_precision", "avg_recall",
                                    "avg_metric"]
  assert list(official["xquad"]["exact_match"]) == list(
      tasks.XTREME_TASKS["xquad"].languages)
  # Per-language values are 0-100, e.g. mock en UDPOS is a perfect copy.
  assert official["udpos"]["f1"]["en"] == 100.0
  qa = official["mlqa"]
  assert qa["avg_metric"] == (qa["avg_exact_match"] + qa["avg_f1"]) / 2
  assert official["tagging"] == (official["udpos"]["avg_metric"]
                                 + official["panx"]["avg_metric"]) / 2


def test_seqeval_1_2_2_mode_changes_udpos_only():
  modern = scorer.score_submission(MOCK / "predictions", MOCK / "labels",
                                   seqeval="1.2.2")
  assert modern["panx"]["avg_f1"] == EXPECTED["panx"]["avg_f1"]
  assert modern["udpos"]["avg_f1"] == 70.39805810699043
