"""Dataset layout table: languages, splits, paths, download messages."""

import pytest

from xferjax.data.readers import layouts
from xferjax.errors import ConfigError, DataError


@pytest.mark.parametrize("name, count", [
    ("udpos", 33), ("panx", 40), ("tatoeba", 36), ("bucc2018", 4),
    ("xquad", 11), ("mlqa", 7), ("tydiqa_goldp", 9), ("xnli", 15),
    ("pawsx", 7)])
def test_xtreme_language_counts(name, count):
  languages = layouts.get_layout(name).languages
  assert len(languages) == count
  assert len(set(languages)) == count


def test_tatoeba_codes_are_iso639_3_and_distinct():
  codes = list(layouts.TATOEBA_ISO3.values())
  assert len(set(codes)) == 36
  assert all(len(code) == 3 for code in codes)
  assert layouts.TATOEBA_ISO3["zh"] == "cmn"
  assert layouts.TATOEBA_ISO3["fa"] == "pes"


def test_unknown_language_lists_valid_codes():
  with pytest.raises(ConfigError) as err:
    layouts.get_layout("panx").check_language("xx")
  assert "'xx'" in err.value.message
  assert "af, ar, bg" in err.value.message and "zh" in err.value.message


def test_extra_language_is_accepted_and_named_in_error():
  xquad = layouts.get_layout("xquad")
  assert xquad.check_language("ro") == "ro"
  with pytest.raises(ConfigError, match="outside XTREME: ro"):
    xquad.check_language("fr")


def test_single_language_dataset_defaults_language():
  assert layouts.get_layout("cosmosqa").check_language(None) == "en"


def test_unknown_split_and_dataset_list_choices():
  with pytest.raises(ConfigError, match="available: test"):
    layouts.get_layout("xquad").resolve("/tmp", "train", "de")
  with pytest.raises(ConfigError, match="known: squad"):
    layouts.get_layout("wikiann2")


def test_missing_data_says_what_to_download_and_where(tmp_path):
  with pytest.raises(DataError) as err:
    layouts.get_layout("mlqa").resolve(str(tmp_path), "test", "de",
                                       context_lang="de", question_lang="zh")
  expected = tmp_path / "MLQA_V1/test/test-context-de-question-zh.json"
  assert str(expected) in err.value.message
  assert "https://dl.fbaipublicfiles.com/MLQA/MLQA_V1.zip" in err.value.fix
  assert "MLQA_DATA_DIR" in err.value.fix
  assert str(tmp_path) in err.value.fix


@pytest.mark.parametrize("data_dir", [None, ""])
def test_unset_data_dir_names_the_gin_macro(data_dir):
  with pytest.raises(ConfigError) as err:
    layouts.get_layout("pawsx").resolve(data_dir, "test", "ko")
  assert "PAWSX_DATA_DIR" in err.value.fix and "x-final.tar.gz" in err.value.fix


def test_missing_directory_is_named(tmp_path):
  with pytest.raises(DataError, match="does not exist"):
    layouts.get_layout("xquad").resolve(str(tmp_path / "nope"), "test", "de")


def test_manual_download_is_flagged():
  fix = layouts.get_layout("ccgbank").fix("/data/ccg")
  assert fix.startswith("Request and download")
  assert "LDC2005T13" in fix


def test_cross_language_field_is_checked():
  with pytest.raises(ConfigError, match="'fr'"):
    layouts.get_layout("mlqa").resolve("/tmp", "test", "de",
                                       context_lang="de", question_lang="fr")


def test_alternatives_take_first_complete_match(tmp_path):
  panx = layouts.get_layout("panx")
  (tmp_path / "dev-de.tsv").write_text("x\tO\n", encoding="utf-8")
  assert panx.resolve(str(tmp_path), "validation", "de") == [
      str(tmp_path / "dev-de.tsv")]
  (tmp_path / "de-dev").write_text("de:x\tO\n", encoding="utf-8")
  assert panx.resolve(str(tmp_path), "validation", "de") == [
      str(tmp_path / "de-dev")]


def test_glob_patterns_return_every_treebank_in_order(tmp_path):
  for folder, name in [("UD_German-HDT", "de_hdt"), ("UD_German-GSD", "de_gsd"),
                       ("UD_Swiss_German-UZH", "gsw_uzh")]:
    (tmp_path / "ud-treebanks-v2.5" / folder).mkdir(parents=True)
    (tmp_path / "ud-treebanks-v2.5" / folder / f"{name}-ud-test.conllu"
    ).write_text("", encoding="utf-8")
  paths = layouts.get_layout("udpos").resolve(str(tmp_path), "test", "de")
  assert [p.split("/")[-1] for p in paths] == [
      "de_gsd-ud-test.conllu", "de_hdt-ud-test.conllu"]


def test_ccgbank_sections_follow_standard_split():
  files = layouts.get_layout("ccgbank").files
  train = files["train"][0]
  assert len(train) == 20
  assert train[0].startswith("ccgbank_1_1/data/AUTO/02/")
  assert train[-1].startswith("ccgbank_1_1/data/AUTO/21/")
  assert files["validation"][0] == ("ccgbank_1_1/data/AUTO/00/wsj_00*.auto",)
  assert files["test"][0] == ("ccgbank_1_1/data/AUTO/23/wsj_23*.auto",)
