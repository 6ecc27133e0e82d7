"""Folder scoring: bad input gives a clear error naming the file (or, where the
official scorer assigns a score, that score), and the in-memory API."""

import json
import pathlib
import shutil

import pytest

from xferjax import errors
from xferjax.evaluation import scorer
from xferjax.evaluation import submission

MOCK = pathlib.Path(__file__).parents[1] / "fixtures" / "xtreme_mock_test_data"


def _copy(tmp_path, *tasks_to_copy, labels=None):
  """Copies mock predictions of `tasks_to_copy` and labels of `labels`
  (default: the same tasks) into tmp_path/{predictions,labels}."""
  for side, names in (("predictions", tasks_to_copy),
                      ("labels", labels or tasks_to_copy)):
    (tmp_path / side).mkdir()
    for name in names:
      shutil.copytree(MOCK / side / name, tmp_path / side / name)
  return tmp_path / "predictions", tmp_path / "labels"


def test_missing_prediction_language_names_the_file(tmp_path):
  predictions, labels = _copy(tmp_path, "xnli")
  (predictions / "xnli" / "test-de.tsv").unlink()
  with pytest.raises(errors.DataError) as e:
    scorer.score_submission(predictions, labels)
  assert str(predictions / "xnli" / "test-de.tsv") in e.value.message
  assert "'de'" in e.value.message and e.value.fix


def test_missing_label_file_names_the_file(tmp_path):
  predictions, labels = _copy(tmp_path, "udpos")
  (labels / "udpos" / "test-zh.tsv").unlink()
  with pytest.raises(errors.DataError,
                     match=r"labels.udpos.test-zh.tsv is missing"):
    scorer.score_submission(predictions, labels)


def test_wrong_number_of_lines(tmp_path):
  predictions, labels = _copy(tmp_path, "pawsx")
  path = predictions / "pawsx" / "test-fr.tsv"
  path.write_text("".join(path.read_text().splitlines(True)[:-1]))
  with pytest.raises(errors.DataError,
                     match="9 predictions but 10 labels") as e:
    scorer.score_submission(predictions, labels)
  assert str(path) in e.value.message


def test_wrong_number_of_tag_sentences(tmp_path):
  predictions, labels = _copy(tmp_path, "panx")
  path = predictions / "panx" / "test-en.tsv"
  path.write_text(path.read_text().split("\n\n", 1)[1])
  with pytest.raises(errors.DataError, match="predicted sentences") as e:
    scorer.score_submission(predictions, labels)
  assert str(path) in e.value.message


def test_non_json_qa_predictions(tmp_path):
  predictions, labels = _copy(tmp_path, "tydiqa")
  path = predictions / "tydiqa" / "test-ko.json"
  path.write_text("q1\tanswer\n")
  with pytest.raises(errors.DataError, match="is not valid JSON") as e:
    scorer.score_submission(predictions, labels)
  assert str(path) in e.value.message


def test_qa_answer_must_be_text(tmp_path):
  predictions, labels = _copy(tmp_path, "xquad")
  path = predictions / "xquad" / "test-de.json"
  answers = json.loads(path.read_text())
  answers[next(iter(answers))] = ["a", "list"]
  path.write_text(json.dumps(answers))
  with pytest.raises(errors.DataError, match="not a string"):
    scorer.score_submission(predictions, labels)


def test_unanswered_question_scores_zero_with_a_note(tmp_path):
  predictions, labels = _copy(tmp_path, "tydiqa")
  path = predictions / "tydiqa" / "test-en.json"
  path.write_text("{}")  # the single en question is now unanswered
  report = scorer.evaluate_submission(predictions, labels)
  assert report.official["tydiqa"]["exact_match"]["en"] == 0.0
  assert report.official["tydiqa"]["f1"]["en"] == 0.0
  assert any("1 of 1 questions have no prediction" in n for n in report.notes)


def test_task_folder_on_one_side_only_is_skipped_like_official(tmp_path):
  predictions, labels = _copy(tmp_path, "xnli", labels=["xnli", "pawsx"])
  report = scorer.evaluate_submission(predictions, labels)
  # No complete group (classification also needs pawsx), so only the task.
  assert list(report.official) == ["xnli"]
  assert report.skipped == ["pawsx"]
  assert "pawsx skipped" in scorer.format_report(report)


def test_no_common_task_and_missing_folder(tmp_path):
  predictions, labels = _copy(tmp_path, "xnli", labels=["pawsx"])
  with pytest.raises(errors.DataError, match="no XTREME task folder"):
    scorer.score_submission(predictions, labels)
  with pytest.raises(errors.DataError, match="does not exist"):
    scorer.score_submission(tmp_path / "nope", labels)


def test_group_score_appears_when_group_complete(tmp_path):
  predictions, labels = _copy(tmp_path, "xnli", "pawsx")
  official = scorer.score_submission(predictions, labels)
  assert list(official) == ["classification", "pawsx", "xnli"]
  assert official["classification"] == (
      official["pawsx"]["avg_metric"] + official["xnli"]["avg_metric"]) / 2


# --------------------------------------------------------------------------
# In-memory scoring (the trainer's per-language evaluation).


def test_score_task_in_memory_subset_of_languages():
  scores = scorer.score_task(
      "xnli", {"de": ["entailment", "neutral"], "sw": ["neutral", "neutral"]},
      {"sw": ["neutral", "contradiction"], "de": ["entailment", "neutral"]})
  # Official language order (de before sw), whatever the dict order.
  assert scores == {"accuracy": {"de": 100.0, "sw": 50.0},
                    "avg_accuracy": 75.0, "avg_metric": 75.0}


def test_score_task_integer_labels_and_non_xtreme_language():
  scores = scorer.score_task("pawsx", {"xx": [1, 0, 1]}, {"xx": ["1", "0", 0]})
  assert scores["accuracy"] == {"xx": pytest.approx(200 / 3)}


def test_score_task_missing_language_in_predictions():
  with pytest.raises(errors.DataError, match="xnli predictions for 'fr'"):
    scorer.score_task("xnli", {"de": ["a"]}, {"de": ["a"], "fr": ["b"]})


def test_score_task_qa_and_tags_and_pairs_in_memory():
  qa = scorer.score_task("mlqa", {"zh": {"q": "北京"}},
                         {"zh": {"q": ["北京大学"]}})
  assert qa["f1"]["zh"] == pytest.approx(200 / 3)
  assert qa["avg_metric"] == pytest.approx((0 + 200 / 3) / 2)
  tags = scorer.score_task_detailed("udpos", {"en": [["NOUN", "VERB"]]},
                                    {"en": [["NOUN", "NOUN"]]})
  assert tags.scores["f1"]["en"] == 0.0
  assert tags.extras == {"token_accuracy": {"en": 50.0},
                         "avg_token_accuracy": 50.0}
  pairs = scorer.score_task("bucc2018", {"de": [("d1", "e1"), "d2\te9"]},
                            {"de": ["d1\te1", "d2\te2"]})
  assert pairs["f1"] == {"de": 50.0}


def test_unknown_task():
  with pytest.raises(errors.UnknownTaskError):
    scorer.score_task("xcopa", {}, {"en": []})


def test_written_predictions_score_like_memory(tmp_path):
  """Writers -> official layout -> folder scorer == in-memory scorer."""
  gold = {
      "panx": {"en": [["B-PER", "I-PER", "O"], [], ["B-LOC"]]},
      "xquad": {"zh": [submission.metrics.Question("q1", ("北京",))]},
      "tatoeba": {"de": [2, 0, 1]},
      "bucc2018": {"fr": [("fr-1", "en-7")]},
  }
  predicted = {
      "panx": {"en": [["I-PER", "I-PER", "O"], [], ["O"]]},
      "xquad": {"zh": {"q1": "北京"}},
      "tatoeba": {"de": [2, 1, 1]},
      "bucc2018": {"fr": [("fr-1", "en-7"), ("fr-2", "en-3")]},
  }
  for task in gold:
    submission.write_task_predictions(tmp_path / "p", task, predicted[task])
    language, values = next(iter(gold[task].items()))
    label_path = submission.task_file(tmp_path / "l", task, language)
    if task == "xquad":
      submission.write_questions(label_path, values)
    else:
      submission.file_format(task).write_predictions(label_path, values)
    fmt = submission.file_format(task)
    assert fmt.read_predictions(submission.task_file(
        tmp_path / "p", task, language)) == fmt.coerce_predictions(
            predicted[task][language], "memory")
    in_memory = scorer.score_task(task, predicted[task], gold[task])
    from_files = scorer.score_task(
        task, {language: fmt.read_predictions(submission.task_file(
            tmp_path / "p", task, language))},
        {language: fmt.read_labels(label_path)})
    assert in_memory == from_files
  assert scorer.score_task("panx", predicted["panx"], gold["panx"])["f1"] == {
      "en": pytest.approx(200 / 3)}


def test_bucc_with_nothing_correct_is_an_integer_zero_like_official(tmp_path):
  predictions, labels = _copy(tmp_path, "bucc2018")
  (predictions / "bucc2018" / "test-ru.tsv").write_text("ru-1\ten-1\n")
  official = scorer.score_submission(predictions, labels)
  # The official scorer's `prec = rec = f1_val = 0` is written as 0, not 0.0.
  assert '"ru": 0,' in json.dumps(official, indent=2)
  assert official["bucc2018"]["avg_f1"] == (50 + 50 + 0 + 70) / 4


def test_bucc_file_with_fewer_lines_is_scored_as_a_set_like_official(tmp_path):
  # BUCC has no line-count check in the official scorer: a missing pair is a
  # missed pair. Figures: official evaluate_one_task on the same file.
  predictions, labels = _copy(tmp_path, "bucc2018")
  path = predictions / "bucc2018" / "test-de.tsv"
  path.write_text("\n".join(path.read_text().splitlines()[:-1]))
  scores = scorer.score_submission(predictions, labels)["bucc2018"]
  assert (scores["f1"]["de"], scores["precision"]["de"],
          scores["recall"]["de"]) == (42.10526315789474, 44.44444444444444,
                                      40.0)


def test_qa_predictions_that_are_not_an_object_name_the_file(tmp_path):
  # The official scorer gives a JSON list 0 (every id "unanswered"); we stop.
  predictions, labels = _copy(tmp_path, "mlqa")
  path = predictions / "mlqa" / "test-hi.json"
  path.write_text('["a", "b"]')
  with pytest.raises(errors.DataError, match="must be a JSON object") as e:
    scorer.score_submission(predictions, labels)
  assert str(path) in e.value.message
