"""Writers and the helpers that turn model outputs into submission values."""

import json

import pytest

from xferjax import errors
from xferjax.evaluation import submission


def test_task_file_layout(tmp_path):
  assert submission.task_file(tmp_path, "udpos", "de") == str(
      tmp_path / "udpos" / "test-de.tsv")
  assert submission.task_file("out", "mlqa", "zh").endswith(
      "mlqa/test-zh.json")


def test_tag_file_format_matches_official_reader(tmp_path):
  path = submission.write_tag_sentences(str(tmp_path / "t.tsv"),
                                        [["B-PER", "I-PER"], [], ["O"]])
  # One tag per line, a blank line after every sentence; an empty sentence is
  # a second blank line, read back as [] by the official rule.
  assert open(path).read() == "B-PER\nI-PER\n\n\nO\n\n"
  assert submission.read_tag_sentences(path) == [["B-PER", "I-PER"], [],
                                                 ["O"]]


def test_tag_reader_without_trailing_blank_line(tmp_path):
  path = tmp_path / "t.tsv"
  path.write_text("NOUN\r\nVERB\r\n\r\n PUNCT \n")
  assert submission.read_tag_sentences(str(path)) == [["NOUN", "VERB"],
                                                      ["PUNCT"]]


def test_answers_are_utf8_json(tmp_path):
  path = submission.write_answers(str(tmp_path / "a.json"),
                                  {"q1": "北京", "q2": ""})
  assert "北京" in open(path, encoding="utf-8").read()
  assert json.load(open(path, encoding="utf-8")) == {"q1": "北京", "q2": ""}


def test_writers_refuse_values_that_would_not_round_trip(tmp_path):
  with pytest.raises(errors.DataError, match="one-per-line"):
    submission.write_labels(str(tmp_path / "x.tsv"), ["a\nb"])
  with pytest.raises(errors.DataError, match="empty tag"):
    submission.write_tag_sentences(str(tmp_path / "x.tsv"), [["O", ""]])
  with pytest.raises(errors.DataError, match="neither a string"):
    submission.write_labels(str(tmp_path / "x.tsv"), [0.5])
  with pytest.raises(errors.DataError, match="not a BUCC pair"):
    submission.write_pairs(str(tmp_path / "x.tsv"), [("a", "b", "c")])


def test_pairs_and_indices(tmp_path):
  pairs = submission.write_pairs(str(tmp_path / "b.tsv"),
                                 [("de-1", "en-2"), "de-3\ten-4"])
  assert open(pairs).read() == "de-1\ten-2\nde-3\ten-4\n"
  indices = submission.write_labels(str(tmp_path / "t.tsv"), [3, 0])
  assert submission.read_lines(indices) == ["3", "0"]


def test_word_tags_from_first_subword():
  # "Angela Merkel visited Paris" -> [CLS] An ##gela Mer ##kel visited [SEP],
  # the last word cut by truncation.
  word_ids = [None, 0, 0, 1, 1, 2, None]
  subword_tags = ["O", "B-PER", "I-PER", "I-PER", "O", "O", "O"]
  assert submission.word_tags_from_subword_tags(
      word_ids, subword_tags, num_words=4, fill="O") == [
          "B-PER", "I-PER", "O", "O"]
  with pytest.raises(errors.ShapeError):
    submission.word_tags_from_subword_tags([0], ["O", "O"], 1, "O")
  with pytest.raises(errors.ShapeError):
    submission.word_tags_from_subword_tags([5], ["O"], 1, "O")


def test_answers_from_spans_keep_original_text():
  context = "Der Eiffelturm steht in Paris, Frankreich."
  offsets = [(0, 3), (4, 14), (15, 20), (21, 23), (24, 29), (29, 30),
             (31, 41), (41, 42)]
  assert submission.answer_from_token_span(context, offsets, 4, 6) == (
      "Paris, Frankreich")
  assert submission.answer_from_char_span(context, 24, 29) == "Paris"
  assert submission.answer_from_generated_text(" Paris \n") == "Paris"
  with pytest.raises(errors.ShapeError):
    submission.answer_from_token_span(context, offsets, 5, 8)
  with pytest.raises(errors.ShapeError):
    submission.answer_from_char_span(context, 10, 5)


def test_missing_and_non_utf8_files(tmp_path):
  with pytest.raises(errors.DataError, match="does not exist"):
    submission.read_lines(str(tmp_path / "nope.tsv"))
  path = tmp_path / "latin1.tsv"
  path.write_bytes("Müller\n".encode("latin-1"))
  with pytest.raises(errors.DataError, match="not UTF-8"):
    submission.read_lines(str(path))


def test_squad_labels_in_memory_shapes():
  squad = {"data": [{"paragraphs": [{"qas": [
      {"id": "a", "answers": [{"text": "x"}, {"text": "y"}]}]}]}]}
  expected = [submission.metrics.Question("a", ("x", "y"))]
  assert submission.coerce_questions(squad, "m") == expected
  assert submission.coerce_questions(squad["data"], "m") == expected
  assert submission.coerce_questions({"a": ["x", "y"]}, "m") == expected
  with pytest.raises(errors.DataError, match="not SQuAD format"):
    submission.coerce_questions({"data": [{"paragraphs": [{}]}]}, "m")
