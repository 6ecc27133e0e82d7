"""Tatoeba (real LASER slices) and BUCC 2018 (fixtures)."""

import pathlib
import shutil

import pytest

from xferjax.data.readers import common
from xferjax.data.readers import parallel
from xferjax.errors import ConfigError, DataError

REALDATA = pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / (
    "realdata")
TATOEBA_DIR = REALDATA / "tatoeba" / "v1"
needs_tatoeba = pytest.mark.skipif(
    not TATOEBA_DIR.is_dir(),
    reason=f"real Tatoeba slice not found at {TATOEBA_DIR}")


@needs_tatoeba
@pytest.mark.parametrize("language, source, target", [
    ("de", "Maria sagte, sie wisse nicht, wo Tom sei.",
     "Mary said she didn't know where Tom was."),
    ("zh", "我們試試看！", "Let's have a look."),
])
def test_real_tatoeba_pairs_are_aligned_by_line(language, source, target):
  stats = common.ReadStats()
  pairs = list(parallel.read_tatoeba(str(TATOEBA_DIR), "test", language,
                                     stats=stats))
  assert len(pairs) == 100 and stats.records == 100
  assert pairs[0] == {"index": 0, "source_language": language,
                      "source": source, "target": target}
  assert pairs[-1]["index"] == 99


@needs_tatoeba
def test_real_tatoeba_line_count_mismatch_is_an_error(tmp_path):
  for name in ["tatoeba.deu-eng.deu", "tatoeba.deu-eng.eng"]:
    shutil.copy(TATOEBA_DIR / name, tmp_path / name)
  english = tmp_path / "tatoeba.deu-eng.eng"
  english.write_text("".join(english.read_text(encoding="utf-8")
                             .splitlines(keepends=True)[:-1]),
                     encoding="utf-8")
  with pytest.raises(DataError) as err:
    list(parallel.read_tatoeba(str(tmp_path), "test", "de", on_error="skip"))
  assert str(english) in err.value.message
  assert "before line 100" in err.value.message


def test_tatoeba_uses_iso639_3_file_names(tmp_path):
  with pytest.raises(DataError) as err:
    parallel.read_tatoeba(str(tmp_path), "test", "fa")
  assert "tatoeba.pes-eng.pes" in err.value.message
  assert "facebookresearch/LASER" in err.value.fix


def test_tatoeba_empty_line_is_malformed(tmp_path):
  (tmp_path / "tatoeba.ell-eng.ell").write_text("Γειά\n\nΝαι\n",
                                                encoding="utf-8")
  (tmp_path / "tatoeba.ell-eng.eng").write_text("Hi\nBye\nYes\n",
                                                encoding="utf-8")
  stats = common.ReadStats()
  pairs = list(parallel.read_tatoeba(str(tmp_path), "test", "el",
                                     on_error="skip", stats=stats))
  assert [p["target"] for p in pairs] == ["Hi", "Yes"]
  assert [p["index"] for p in pairs] == [0, 2]
  assert stats.malformed == {"empty sentence": 1}
  assert stats.problems[0].endswith(
      "tatoeba.ell-eng.ell:2: empty sentence: on the source side")


def test_tatoeba_unknown_language(tmp_path):
  with pytest.raises(ConfigError, match="valid codes: af, ar"):
    parallel.read_tatoeba(str(tmp_path), "test", "az")


def _bucc(tmp_path, split_name="sample", language="zh"):
  folder = tmp_path / "bucc2018" / f"{language}-en"
  folder.mkdir(parents=True)
  stem = folder / f"{language}-en.{split_name}"
  pathlib.Path(f"{stem}.{language}").write_text(
      "zh-000000001\t北京是中国的首都。\nzh-000000002\t我们走吧。\n",
      encoding="utf-8")
  pathlib.Path(f"{stem}.en").write_text(
      "en-000000001\tLet's go.\nen-000000002\tBeijing is China's capital.\n",
      encoding="utf-8")
  pathlib.Path(f"{stem}.gold").write_text(
      "zh-000000001\ten-000000002\nzh-000000002\ten-000000001\n",
      encoding="utf-8")
  return stem


def test_bucc_sentences_and_gold_in_official_layout(tmp_path):
  _bucc(tmp_path)
  chinese = list(parallel.read_bucc(str(tmp_path), "validation", "zh", "zh"))
  english = list(parallel.read_bucc(str(tmp_path), "validation", "zh", "en"))
  gold = list(parallel.read_bucc_gold(str(tmp_path), "validation", "zh"))
  assert chinese[0] == {"id": "zh-000000001", "sentence": "北京是中国的首都。"}
  assert english[1]["sentence"] == "Beijing is China's capital."
  assert gold[0] == {"source_id": "zh-000000001", "target_id": "en-000000002"}


def test_bucc_test_split_is_the_training_archive(tmp_path):
  _bucc(tmp_path, "training")
  assert len(list(parallel.read_bucc_gold(str(tmp_path), "test", "zh"))) == 2


def test_bucc_xtreme_flat_layout_is_accepted(tmp_path):
  (tmp_path / "de-en.dev.de").write_text("de-000000001\tGrüß Gott.\n",
                                         encoding="utf-8")
  (sentence,) = parallel.read_bucc(str(tmp_path), "validation", "de", "de")
  assert sentence["sentence"] == "Grüß Gott."


def test_bucc_wrong_column_count_names_line(tmp_path):
  stem = _bucc(tmp_path)
  path = pathlib.Path(f"{stem}.en")
  path.write_text("en-1\tok\nen-2 no tab here\n", encoding="utf-8")
  with pytest.raises(DataError) as err:
    list(parallel.read_bucc(str(tmp_path), "validation", "zh", "en"))
  assert err.value.message.startswith(f"{path}:2: wrong column count")


def test_bucc_bad_side_and_missing_download(tmp_path):
  with pytest.raises(ConfigError, match="side 'fr'"):
    parallel.read_bucc(str(tmp_path), "test", "de", "fr")
  with pytest.raises(DataError) as err:
    parallel.read_bucc_gold(str(tmp_path), "test", "ru")
  assert "bucc2018/ru-en/ru-en.training.gold" in err.value.message
  assert "comparable.limsi.fr/bucc2018" in err.value.fix
