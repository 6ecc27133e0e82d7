"""PAN-X / WikiAnn token-tag files (fixtures in the released layout)."""

import pytest

from xferjax.data.readers import common
from xferjax.data.readers import panx
from xferjax.errors import ConfigError, DataError

_ZH_RELEASED = ("zh:北京\tB-LOC\nzh:是\tO\nzh:首都\tO\n\n"
                "zh:李\tB-PER\nzh:明\tI-PER\n")


def test_seven_iob2_tags():
  assert panx.PANX_TAGS == ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC",
                            "I-LOC")


def test_released_file_strips_language_prefix(tmp_path):
  (tmp_path / "zh-train").write_text(_ZH_RELEASED, encoding="utf-8")
  sentences = list(panx.read_panx(str(tmp_path), "train", "zh"))
  assert sentences == [
      {"tokens": ["北京", "是", "首都"], "tags": ["B-LOC", "O", "O"]},
      {"tokens": ["李", "明"], "tags": ["B-PER", "I-PER"]}]


def test_only_the_exact_language_prefix_is_removed(tmp_path):
  path = tmp_path / "de-dev"
  path.write_text("de:Größe\tO\nde:http://x.de\tO\n12:30\tO\nen:Zürich\tB-LOC"
                  "\n\n\n", encoding="utf-8")
  (sentence,) = panx.read_panx(str(tmp_path), "validation", "de")
  assert sentence["tokens"] == ["Größe", "http://x.de", "12:30", "en:Zürich"]


def test_xtreme_preprocessed_layout_is_accepted(tmp_path):
  (tmp_path / "dev-de.tsv").write_text("Köln\tB-LOC\nliegt\tO\n",
                                       encoding="utf-8")
  (sentence,) = panx.read_panx(str(tmp_path), "validation", "de")
  assert sentence == {"tokens": ["Köln", "liegt"], "tags": ["B-LOC", "O"]}


def test_token_only_files_read_with_with_tags_false(tmp_path):
  path = tmp_path / "test-de.tsv"
  path.write_text("Köln\nliegt\n\nam\nRhein\n", encoding="utf-8")
  sentences = list(panx.read_panx_file(str(path), "de", with_tags=False))
  assert sentences == [{"tokens": ["Köln", "liegt"], "tags": []},
                       {"tokens": ["am", "Rhein"], "tags": []}]


@pytest.mark.parametrize("bad_line, kind", [
    ("de:Köln\tB-LOC\textra", "wrong column count"),
    ("de:Köln", "token/tag count mismatch"),
    ("de:Köln\tB-CITY", "unknown tag"),
    ("de:\tO", "empty token"),
])
def test_malformed_line_names_file_and_line(tmp_path, bad_line, kind):
  path = tmp_path / "de-test"
  path.write_text(f"de:Ich\tO\n\nde:wohne\tO\n{bad_line}\n", encoding="utf-8")
  with pytest.raises(DataError) as err:
    list(panx.read_panx(str(tmp_path), "test", "de"))
  assert err.value.message.startswith(f"{path}:4: {kind}")


def test_skip_mode_counts_bad_sentences(tmp_path):
  (tmp_path / "de-test").write_text(
      "de:a\tO\n\nde:b\tO\tO\n\nde:c\tB-XYZ\n\nde:d\tO\n", encoding="utf-8")
  stats = common.ReadStats()
  sentences = list(panx.read_panx(str(tmp_path), "test", "de",
                                  on_error="skip", stats=stats))
  assert [s["tokens"] for s in sentences] == [["a"], ["d"]]
  assert stats.malformed == {"wrong column count": 1, "unknown tag": 1}
  assert stats.records == 2


def test_missing_file_points_to_manual_download(tmp_path):
  with pytest.raises(DataError) as err:
    panx.read_panx(str(tmp_path), "train", "sw")
  assert "sw-train" in err.value.message and "train-sw.tsv" in err.value.message
  assert "AmazonPhotos.zip" in err.value.fix
  assert "PANX_DATA_DIR" in err.value.fix


def test_unknown_language_lists_the_40_codes(tmp_path):
  with pytest.raises(ConfigError) as err:
    panx.read_panx(str(tmp_path), "train", "pl")
  listed = err.value.message.split("valid codes: ")[1].split(", ")
  assert listed[:2] == ["af", "ar"] and len(listed) == 40
