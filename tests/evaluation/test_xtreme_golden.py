"""Golden test: XTREME's mock_test_data must score exactly as evaluate_test.py
says the official scorer scores it (float equality, as there)."""

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
  metrics = [official[t]["avg_metric"] for t in tasks.XTREME_TASKS]
  assert official["all_task"] == pytest.approx(sum(metrics) / 9, abs=1e-12)
  json.dumps(official)  # plain floats only


def test_seqeval_1_2_2_mode_changes_udpos_only():
  modern = scorer.score_submission(MOCK / "predictions", MOCK / "labels",
                                   seqeval="1.2.2")
  assert modern["panx"]["avg_f1"] == EXPECTED["panx"]["avg_f1"]
  assert modern["udpos"]["avg_f1"] == pytest.approx(70.39805810699043,
                                                    abs=1e-9)
