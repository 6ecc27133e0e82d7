"""CoNLL-U / UD-POS: real UD v2.5 slices plus malformed fixtures."""

import pathlib

import pytest

from xferjax.data.readers import common
from xferjax.data.readers import conllu
from xferjax.errors import ConfigError, DataError

REALDATA = pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / (
    "realdata")
needs_ud = pytest.mark.skipif(
    not (REALDATA / "ud-treebanks-v2.5").is_dir(),
    reason=f"real UD v2.5 slice not found under {REALDATA}")

_GOOD = """# sent_id = s1
# text = Zum Bahnhof.
1-2\tZum\t_\t_\t_\t_\t_\t_\t_\t_
1\tZu\tzu\tADP\tAPPR\t_\t3\tcase\t_\t_
2\tdem\tder\tDET\tART\t_\t3\tdet\t_\t_
3\tBahnhof\tBahnhof\tNOUN\tNN\t_\t0\troot\t_\tSpaceAfter=No
4\t.\t.\tPUNCT\t$.\t_\t3\tpunct\t_\t_

"""


def _treebank(tmp_path, text, folder="UD_German-GSD", name="de_gsd",
              split="dev"):
  directory = tmp_path / "ud-treebanks-v2.5" / folder
  directory.mkdir(parents=True, exist_ok=True)
  path = directory / f"{name}-ud-{split}.conllu"
  path.write_text(text, encoding="utf-8")
  return str(path)


def test_upos_inventory_is_the_17_ud_tags():
  assert len(conllu.UPOS_TAGS) == 17 == len(set(conllu.UPOS_TAGS))
  assert {"PROPN", "AUX", "CCONJ", "SCONJ", "X"} <= set(conllu.UPOS_TAGS)


@needs_ud
@pytest.mark.parametrize("language, first_tokens, first_tags", [
    ("en", ["From", "the", "AP"], ["ADP", "DET", "PROPN"]),
    ("de", ["Manasse", "ist", "ein"], ["PROPN", "AUX", "DET"]),
    ("zh", ["同樣", "，", "施力"], ["ADV", "PUNCT", "VERB"]),
])
def test_real_dev_slices(language, first_tokens, first_tags):
  stats = common.ReadStats()
  sentences = list(conllu.read_udpos(str(REALDATA), "validation", language,
                                     stats=stats))
  assert len(sentences) == 40 and stats.skipped == 0
  assert sentences[0]["tokens"][:3] == first_tokens
  assert sentences[0]["upos"][:3] == first_tags
  for sentence in sentences:
    assert len(sentence["tokens"]) == len(sentence["upos"])
    assert set(sentence["upos"]) <= set(conllu.UPOS_TAGS)


@needs_ud
def test_real_german_multiword_tokens_become_syntactic_words():
  sentences = list(conllu.read_udpos(str(REALDATA), "validation", "de"))
  words = [w for s in sentences for w in s["tokens"]]
  assert "im" not in words and "zum" not in words
  with_im = next(s for s in sentences if " im " in f" {s['text']} ")
  assert "in" in with_im["tokens"] and "dem" in with_im["tokens"]


@needs_ud
def test_real_ewt_test_empty_node_is_skipped():
  sentences = list(conllu.read_udpos(str(REALDATA), "test", "en"))
  assert len(sentences) == 541
  last = sentences[-1]
  assert last["sent_id"] == "email-enronsent28_01-0019"
  assert len(last["tokens"]) == 27
  assert last["tokens"][22:27] == [",", "many", "for", "good", "."]


@needs_ud
def test_real_language_without_the_split_says_what_is_missing():
  with pytest.raises(DataError) as err:
    conllu.read_udpos(str(REALDATA), "train", "zh")
  assert "zh_*-ud-train.conllu" in err.value.message
  assert "ud-treebanks-v2.5.tgz" in err.value.fix


def test_fixture_sentence_fields(tmp_path):
  path = _treebank(tmp_path, _GOOD)
  (sentence,) = conllu.read_conllu_file(path)
  assert sentence == {"sent_id": "s1", "treebank": "de_gsd",
                      "text": "Zum Bahnhof.",
                      "tokens": ["Zu", "dem", "Bahnhof", "."],
                      "upos": ["ADP", "DET", "NOUN", "PUNCT"]}


def test_every_treebank_of_the_language_is_read(tmp_path):
  _treebank(tmp_path, _GOOD)
  _treebank(tmp_path, _GOOD.replace("s1", "h1"), "UD_German-HDT", "de_hdt")
  sentences = list(conllu.read_udpos(str(tmp_path), "validation", "de"))
  assert [(s["treebank"], s["sent_id"]) for s in sentences] == [
      ("de_gsd", "s1"), ("de_hdt", "h1")]


def test_file_without_final_blank_line_keeps_last_sentence(tmp_path):
  path = _treebank(tmp_path, _GOOD + _GOOD.replace("s1", "s2").rstrip("\n"))
  assert [s["sent_id"] for s in conllu.read_conllu_file(path)] == ["s1", "s2"]


@pytest.mark.parametrize("bad_line, kind, line", [
    ("2\tdem\tder\tDET\tART\t_\t3\tdet\t_", "wrong column count", 5),
    ("2\tdem\tder\tDETERMINER\tART\t_\t3\tdet\t_\t_", "unknown UPOS tag", 5),
    ("5\tdem\tder\tDET\tART\t_\t3\tdet\t_\t_", "bad token id", 5),
])
def test_malformed_lines_name_file_line_and_problem(tmp_path, bad_line, kind,
                                                    line):
  text = _GOOD.replace("2\tdem\tder\tDET\tART\t_\t3\tdet\t_\t_", bad_line)
  path = _treebank(tmp_path, text)
  with pytest.raises(DataError) as err:
    list(conllu.read_conllu_file(path))
  assert err.value.message.startswith(f"{path}:{line}: {kind}")


def test_skip_mode_drops_only_the_broken_sentence(tmp_path):
  broken = _GOOD.replace("s1", "bad").replace("\tNOUN\t", "\tNOUNS\t")
  path = _treebank(tmp_path, _GOOD + broken + _GOOD.replace("s1", "s3"))
  stats = common.ReadStats()
  sentences = list(conllu.read_conllu_file(path, on_error="skip",
                                           stats=stats))
  assert [s["sent_id"] for s in sentences] == ["s1", "s3"]
  assert stats.malformed == {"unknown UPOS tag": 1}


def test_withheld_text_is_dropped_not_an_error(tmp_path):
  withheld = ("# sent_id = w1\n"
              "1\t_\t_\tNOUN\t_\t_\t0\troot\t_\t_\n"
              "2\t_\t_\tPUNCT\t_\t_\t1\tpunct\t_\t_\n\n")
  path = _treebank(tmp_path, withheld + _GOOD, "UD_Arabic-NYUAD", "ar_nyuad")
  stats = common.ReadStats()
  sentences = list(conllu.read_conllu_file(path, stats=stats))
  assert [s["sent_id"] for s in sentences] == ["s1"]
  assert stats.dropped == {"text withheld (forms are '_')": 1}


def test_unknown_language_lists_ud_codes(tmp_path):
  with pytest.raises(ConfigError, match="valid codes: af, ar, bg"):
    conllu.read_udpos(str(tmp_path), "test", "gsw")
