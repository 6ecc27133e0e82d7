"""Cosmos QA (real CSV slice) and CommonsenseQA (JSONL fixtures)."""

import json
import pathlib
import shutil

import pytest

from xferjax.data.readers import common
from xferjax.data.readers import multiple_choice
from xferjax.errors import DataError

REALDATA = pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / (
    "realdata")
COSMOSQA_DIR = REALDATA / "cosmosqa" / "data"
needs_cosmosqa = pytest.mark.skipif(
    not (COSMOSQA_DIR / "valid.csv").is_file(),
    reason=f"real Cosmos QA slice not found at {COSMOSQA_DIR}")


@needs_cosmosqa
def test_real_cosmosqa_valid_slice():
  stats = common.ReadStats()
  examples = list(multiple_choice.read_cosmosqa(str(COSMOSQA_DIR),
                                                "validation", stats=stats))
  assert len(examples) == 50 and stats.skipped == 0
  first = examples[0]
  assert first["id"].startswith("3BFF0DJK8XA7YNK4QYIGCOG1A95STE##")
  assert first["question"] == "Why is this person asking about divorce ?"
  assert first["choices"][1] == (
      "He wants to get married to a different person .")
  assert first["label"] == 1
  assert not any("\r" in e["context"] or "\r" in c
                 for e in examples for c in e["choices"])
  assert {e["label"] for e in examples} <= {0, 1, 2, 3}


@needs_cosmosqa
def test_real_cosmosqa_row_with_a_missing_column(tmp_path):
  shutil.copy(COSMOSQA_DIR / "valid.csv", tmp_path / "valid.csv")
  lines = (tmp_path / "valid.csv").read_bytes().split(b"\r\n")
  lines[3] = lines[3].rsplit(b",", 1)[0]  # Drop the label of record 3.
  (tmp_path / "valid.csv").write_bytes(b"\r\n".join(lines))
  with pytest.raises(DataError) as err:
    list(multiple_choice.read_cosmosqa(str(tmp_path), "validation"))
  assert err.value.message.startswith(
      f"{tmp_path / 'valid.csv'}:4: wrong column count")
  stats = common.ReadStats()
  kept = list(multiple_choice.read_cosmosqa(str(tmp_path), "validation",
                                            on_error="skip", stats=stats))
  assert len(kept) == 49 and stats.skipped == 1


def test_cosmosqa_quoted_newline_keeps_line_numbers(tmp_path):
  header = "id,context,question,answer0,answer1,answer2,answer3,label\r\n"
  (tmp_path / "train.csv").write_bytes((
      header + 'a,"Zwei\r\nZeilen",Q?,w,x,y,z,2\r\n'
      'b,"Drei\r\nlange\r\nZeilen",Q?,w,x,y,z,7\r\n'
      "c,Kontext,Q?,w,x,y,z,9\r\n").encode("utf-8"))
  with pytest.raises(DataError, match=r"train\.csv:4: unknown label: '7'"):
    list(multiple_choice.read_cosmosqa(str(tmp_path), "train"))
  stats = common.ReadStats()
  (first,) = multiple_choice.read_cosmosqa(str(tmp_path), "train",
                                           on_error="skip", stats=stats)
  assert first["context"] == "Zwei\r\nZeilen"  # Bytes kept as released.
  assert first["label"] == 2
  assert stats.problems[1].startswith(f"{tmp_path / 'train.csv'}:7: unknown")


def _csqa_line(answer_key="B", stem="Wo ist das Café?"):
  record = {"id": "q1", "question": {"question_concept": "café", "stem": stem,
                                     "choices": [
                                         {"label": "A", "text": "Straße"},
                                         {"label": "B", "text": "Ecke"}]}}
  if answer_key is not None:
    record["answerKey"] = answer_key
  return json.dumps(record, ensure_ascii=False)


def test_commonsenseqa_answer_key_becomes_choice_index(tmp_path):
  (tmp_path / "dev_rand_split.jsonl").write_text(_csqa_line() + "\n",
                                                 encoding="utf-8")
  (example,) = multiple_choice.read_commonsenseqa(str(tmp_path), "validation")
  assert example == {"id": "q1", "context": "", "question": "Wo ist das Café?",
                     "choices": ["Straße", "Ecke"], "label": 1}


def test_commonsenseqa_test_split_has_no_label(tmp_path):
  (tmp_path / "test_rand_split_no_answers.jsonl").write_text(
      _csqa_line(answer_key=None) + "\n", encoding="utf-8")
  (example,) = multiple_choice.read_commonsenseqa(str(tmp_path), "test")
  assert example["label"] == -1


def test_commonsenseqa_bad_json_and_bad_key_name_their_lines(tmp_path):
  path = tmp_path / "train_rand_split.jsonl"
  path.write_text("\n".join([_csqa_line(), '{"id": "q2", "question": {',
                             _csqa_line(answer_key="E"), _csqa_line()]) + "\n",
                  encoding="utf-8")
  with pytest.raises(DataError, match=rf"{path}:2: bad JSON"):
    list(multiple_choice.read_commonsenseqa(str(tmp_path), "train"))
  stats = common.ReadStats()
  kept = list(multiple_choice.read_commonsenseqa(
      str(tmp_path), "train", on_error="skip", stats=stats))
  assert len(kept) == 2
  assert stats.malformed == {"bad JSON": 1, "unknown label": 1}
  assert stats.problems[1].startswith(f"{path}:3: unknown label")


def test_missing_cosmosqa_download(tmp_path):
  with pytest.raises(DataError) as err:
    multiple_choice.read_cosmosqa(str(tmp_path), "train")
  assert "train.csv" in err.value.message
  assert "wilburOne/cosmosqa" in err.value.fix
