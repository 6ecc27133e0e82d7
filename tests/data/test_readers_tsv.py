"""XNLI / XNLI-MT / PAWS-X TSV fixtures in the official layouts."""

import pytest

from xferjax.data.readers import common
from xferjax.data.readers import tsv
from xferjax.errors import DataError

_XNLI_HEADER = ("language\tgold_label\tsentence1_binary_parse\t"
                "sentence2_binary_parse\tsentence1_parse\tsentence2_parse\t"
                "sentence1\tsentence2\tpromptID\tpairID\tgenre\tlabel1\t"
                "label2\tlabel3\tlabel4\tlabel5\tsentence1_tokenized\t"
                "sentence2_tokenized\tmatch")


def _xnli_row(language, label, premise, hypothesis, pair_id):
  cells = [language, label, "", "", "", "", premise, hypothesis, "1",
           pair_id, "fiction", label, label, label, label, label, premise,
           hypothesis, "True"]
  return "\t".join(cells)


def _write_xnli(tmp_path, rows, split="dev"):
  folder = tmp_path / "XNLI-1.0"
  folder.mkdir(exist_ok=True)
  path = folder / f"xnli.{split}.tsv"
  path.write_text("\n".join([_XNLI_HEADER, *rows]) + "\n", encoding="utf-8")
  return path


def test_xnli_keeps_one_language_and_maps_labels(tmp_path):
  _write_xnli(tmp_path, [
      _xnli_row("en", "neutral", 'He said "hi', "x", "1"),
      _xnli_row("de", "entailment", "Er sagte „Hallo“.", "Er grüßte.", "1"),
      _xnli_row("zh", "contradiction", "他说你好。", "他没说话。", "1"),
      _xnli_row("de", "contradiction", "Die Tür ist zu.", "Sie ist offen.",
                "2"),
  ])
  examples = list(tsv.read_xnli(str(tmp_path), "validation", "de"))
  assert examples == [
      {"id": "1", "premise": "Er sagte „Hallo“.", "hypothesis": "Er grüßte.",
       "label": 0},
      {"id": "2", "premise": "Die Tür ist zu.", "hypothesis": "Sie ist offen.",
       "label": 2}]
  (english,) = tsv.read_xnli(str(tmp_path), "validation", "en")
  assert english["premise"] == 'He said "hi'


def test_xnli_row_with_missing_column_names_line(tmp_path):
  path = _write_xnli(tmp_path, [
      _xnli_row("de", "neutral", "a", "b", "1"),
      _xnli_row("de", "neutral", "a", "b", "2").rsplit("\t", 1)[0]])
  with pytest.raises(DataError) as err:
    list(tsv.read_xnli(str(tmp_path), "validation", "de"))
  assert err.value.message.startswith(
      f"{path}:3: wrong column count: expected 19")
  assert "found 18" in err.value.message


def test_xnli_mt_train_maps_contradictory(tmp_path):
  folder = tmp_path / "XNLI-MT-1.0" / "multinli"
  folder.mkdir(parents=True)
  (folder / "multinli.train.de.tsv").write_text(
      "premise\thypo\tlabel\nEs regnet.\tEs ist nass.\tentailment\n"
      "Es regnet.\tEs ist trocken.\tcontradictory\n"
      "Es regnet.\tEs ist kalt.\tmaybe\n", encoding="utf-8")
  stats = common.ReadStats()
  examples = list(tsv.read_xnli(str(tmp_path), "train", "de",
                                on_error="skip", stats=stats))
  assert [e["label"] for e in examples] == [0, 2]
  assert stats.malformed == {"unknown label": 1}
  assert stats.problems[0].endswith("'maybe' is not one of entailment, "
                                    "neutral, contradiction")


def test_wrong_file_header_is_a_data_error(tmp_path):
  folder = tmp_path / "x-final" / "de"
  folder.mkdir(parents=True)
  (folder / "dev_2k.tsv").write_text("a\tb\n1\t2\n", encoding="utf-8")
  with pytest.raises(DataError, match="header lacks column.*sentence1"):
    list(tsv.read_pawsx(str(tmp_path), "validation", "de"))


def _write_pawsx(tmp_path, language, name, rows):
  folder = tmp_path / "x-final" / language
  folder.mkdir(parents=True, exist_ok=True)
  (folder / name).write_text(
      "id\tsentence1\tsentence2\tlabel\n" + "".join(r + "\n" for r in rows),
      encoding="utf-8")


def test_pawsx_train_file_name_differs_for_english(tmp_path):
  _write_pawsx(tmp_path, "en", "train.tsv", ["1\tA b.\tB a.\t0"])
  _write_pawsx(tmp_path, "zh", "translated_train.tsv",
               ["7\t他来了。\t他到了。\t1"])
  (english,) = tsv.read_pawsx(str(tmp_path), "train", "en")
  (chinese,) = tsv.read_pawsx(str(tmp_path), "train", "zh")
  assert english["label"] == 0
  assert chinese == {"id": "7", "sentence1": "他来了。",
                     "sentence2": "他到了。", "label": 1}


def test_pawsx_bad_rows_skipped_and_counted(tmp_path):
  _write_pawsx(tmp_path, "de", "test_2k.tsv", [
      "1\tGroß.\tKlein.\t0", "2\tnur ein Satz\t1", "3\tx\ty\t", "4\tä\tö\t1"])
  stats = common.ReadStats()
  examples = list(tsv.read_pawsx(str(tmp_path), "test", "de",
                                 on_error="skip", stats=stats))
  assert [e["id"] for e in examples] == ["1", "4"]
  assert stats.malformed == {"wrong column count": 1, "unknown label": 1}


def test_xnli_missing_download(tmp_path):
  with pytest.raises(DataError) as err:
    tsv.read_xnli(str(tmp_path), "test", "sw")
  assert "XNLI-1.0/xnli.test.tsv" in err.value.message
  assert "XNLI-1.0.zip" in err.value.fix
