"""SQuAD-style JSON: real XQuAD slices plus MLQA/TyDiQA/SQuAD fixtures."""

import json
import pathlib

import pytest

from xferjax.data.readers import common
from xferjax.data.readers import squad_json
from xferjax.errors import ConfigError, DataError

REALDATA = pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / (
    "realdata")
XQUAD_DIR = REALDATA / "xquad"
needs_xquad = pytest.mark.skipif(
    not XQUAD_DIR.is_dir(),
    reason=f"real XQuAD slice not found at {XQUAD_DIR}")


def _squad(paragraphs, title="T", **top):
  return {"version": "1.1", **top,
          "data": [{"title": title, "paragraphs": paragraphs}]}


def _write(path: pathlib.Path, document) -> str:
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
  return str(path)


@needs_xquad
@pytest.mark.parametrize("language", ["en", "de", "zh", "ro"])
def test_real_xquad_slices_read_with_valid_offsets(language):
  stats = common.ReadStats()
  examples = list(squad_json.read_xquad(str(XQUAD_DIR), "test", language,
                                        stats=stats))
  assert len(examples) == 97 and stats.records == 97 and stats.skipped == 0
  first = examples[0]
  assert first["id"] == "56beb4343aeaaa14008c925b"
  assert first["answers"]["text"] == ["308"]
  start = first["answers"]["answer_start"][0]
  assert first["context"][start:start + 3] == "308"
  assert first["is_impossible"] is False


@needs_xquad
def test_real_xquad_languages_share_question_ids_and_scripts():
  ids = {}
  for language in ["en", "de", "zh", "ro"]:
    examples = list(squad_json.read_xquad(str(XQUAD_DIR), "test", language))
    ids[language] = [e["id"] for e in examples]
    if language == "zh":
      assert examples[0]["question"] == "黑豹队的防守丢了多少分？"
    if language == "ro":
      assert examples[0]["question"].startswith("Câte puncte")
  assert ids["en"] == ids["de"] == ids["zh"] == ids["ro"]


@needs_xquad
def test_real_xquad_ro_layout_quirks_do_not_matter(tmp_path):
  raw = (XQUAD_DIR / "xquad.ro.json").read_bytes()
  assert b'"data" : [' in raw and not raw.endswith(b"\n")
  examples = list(squad_json.read_squad_file(str(XQUAD_DIR / "xquad.ro.json")))
  assert examples[1]["question"] == (
      "Câte sack-uri a avut Jared Allen de-a lungul carierei?")


def test_mlqa_cross_language_pair_is_read_from_its_own_file(tmp_path):
  context = "北京是中国的首都。"
  document = _squad([{"context": context, "qas": [{
      "id": "q1", "question": "Was ist die Hauptstadt Chinas?",
      "answers": [{"text": "北京", "answer_start": 0}]}]}])
  _write(tmp_path / "MLQA_V1" / "dev" / "dev-context-zh-question-de.json",
         document)
  (example,) = squad_json.read_mlqa(str(tmp_path), "validation", "zh", "de")
  assert example["question"] == "Was ist die Hauptstadt Chinas?"
  assert example["answers"] == {"text": ["北京"], "answer_start": [0]}
  with pytest.raises(DataError, match="dev-context-zh-question-zh.json"):
    squad_json.read_mlqa(str(tmp_path), "validation", "zh")


def test_tydiqa_train_keeps_only_the_language_by_id_prefix(tmp_path):
  qas = [{"id": f"{name}-{i}", "question": "?",
          "answers": [{"text": "Kimi", "answer_start": 0}]}
         for i, name in enumerate(["arabic", "finnish", "finnish"])]
  _write(tmp_path / "tydiqa-goldp-v1.1-train.json",
         _squad([{"context": "Kimi Räikkönen", "qas": qas}]))
  examples = list(squad_json.read_tydiqa_goldp(str(tmp_path), "train", "fi"))
  assert [e["id"] for e in examples] == ["finnish-1", "finnish-2"]


def test_tydiqa_dev_file_is_named_by_language_name(tmp_path):
  _write(tmp_path / "tydiqa-goldp-v1.1-dev" / "tydiqa-goldp-dev-swahili.json",
         _squad([{"context": "Nairobi ni mji mkuu.", "qas": [{
             "id": "swahili-1", "question": "?",
             "answers": [{"text": "Nairobi", "answer_start": 0}]}]}]))
  (example,) = squad_json.read_tydiqa_goldp(str(tmp_path), "validation", "sw")
  assert example["answers"]["text"] == ["Nairobi"]


def test_squad_v2_impossible_questions_have_no_answers(tmp_path):
  _write(tmp_path / "dev-v2.0.json", _squad([{"context": "abc", "qas": [
      {"id": "a", "question": "?", "answers": [], "is_impossible": True,
       "plausible_answers": [{"text": "b", "answer_start": 1}]},
      {"id": "b", "question": "?", "is_impossible": False,
       "answers": [{"text": "bc", "answer_start": 1}]}]}], version="v2.0"))
  impossible, possible = squad_json.read_squad(str(tmp_path), "validation",
                                               version="2.0")
  assert impossible["is_impossible"] and impossible["answers"]["text"] == []
  assert possible["answers"] == {"text": ["bc"], "answer_start": [1]}


def _offset_mismatch_file(tmp_path) -> str:
  return _write(tmp_path / "xquad.de.json", _squad([{
      "context": "Die Größe der Stadt", "qas": [
          {"id": "good", "question": "?",
           "answers": [{"text": "Größe", "answer_start": 4}]},
          {"id": "bad", "question": "?",
           "answers": [{"text": "Größe", "answer_start": 5}]}]}]))


def test_offset_mismatch_raises_naming_file_and_question(tmp_path):
  path = _offset_mismatch_file(tmp_path)
  with pytest.raises(DataError) as err:
    list(squad_json.read_squad_file(path))
  message = err.value.message
  assert path in message and "qas[1], id bad" in message
  assert "answer offset mismatch" in message and "'röße '" in message


def test_offset_mismatch_skipped_and_counted(tmp_path):
  _offset_mismatch_file(tmp_path)
  stats = common.ReadStats()
  examples = list(squad_json.read_xquad(str(tmp_path), "test", "de",
                                        on_error="skip", stats=stats))
  assert [e["id"] for e in examples] == ["good"]
  assert stats.malformed == {"answer offset mismatch": 1}


def test_blank_gold_answers_of_xtreme_copies_are_rejected(tmp_path):
  path = _write(tmp_path / "xquad.en.json", _squad([{"context": "abc", "qas": [
      {"id": "x", "question": "?",
       "answers": [{"text": "", "answer_start": 0}]}]}]))
  with pytest.raises(DataError, match="blank answer.*original release"):
    list(squad_json.read_squad_file(path))


def test_bad_json_names_file_and_line(tmp_path):
  path = tmp_path / "train-v1.1.json"
  path.write_text('{"data": [\n{"title": "x",\n "paragraphs": [}\n]}',
                  encoding="utf-8")
  with pytest.raises(DataError, match=r"train-v1\.1\.json:3: bad JSON"):
    list(squad_json.read_squad(str(tmp_path), "train"))


def test_missing_fields_are_malformed_records(tmp_path):
  path = _write(tmp_path / "f.json", _squad([
      {"qas": [{"id": "no-context", "question": "?", "answers": []}]},
      {"context": "abc", "qas": [{"id": 7, "question": "?"}]},
      {"context": "abc", "qas": [{"id": "ok", "question": "?",
                                  "answers": [{"text": "a",
                                               "answer_start": 0}]}]}]))
  stats = common.ReadStats()
  examples = list(squad_json.read_squad_file(path, on_error="skip",
                                             stats=stats))
  assert [e["id"] for e in examples] == ["ok"]
  assert stats.malformed == {"missing or mistyped field": 2}
  assert "'context' should be str" in stats.problems[0]


def test_not_squad_json_is_a_data_error(tmp_path):
  path = _write(tmp_path / "f.json", [{"context": "abc"}])
  with pytest.raises(DataError, match="no top-level 'data' list"):
    list(squad_json.read_squad_file(path))


def test_unknown_version_and_language(tmp_path):
  with pytest.raises(ConfigError, match="unknown SQuAD version"):
    squad_json.read_squad(str(tmp_path), "train", version="3")
  with pytest.raises(ConfigError, match="valid codes: ar, de"):
    squad_json.read_xquad(str(tmp_path), "test", "fr")
