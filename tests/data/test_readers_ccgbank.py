"""CCGbank .auto fixtures (the corpus is LDC-licensed) and the tag inventory."""

import pytest

from xferjax.data.readers import ccgbank
from xferjax.data.readers import common
from xferjax.errors import ConfigError, DataError

# wsj_0001.1 as CCGbank 1.1 writes it: an ID line, then one derivation line.
_PIERRE = (
    "ID=wsj_0001.1 PARSER=GOLD NUMPARSE=1\n"
    "(<T S[dcl] 0 2> (<T S[dcl] 1 2> (<T NP 0 2> (<T NP 0 2> (<T NP 0 2> "
    "(<T NP 0 1> (<T N 1 2> (<L N/N NNP NNP Pierre N_73/N_73>) "
    "(<L N NNP NNP Vinken N>) ) ) (<L , , , , ,>) ) (<T NP\\NP 0 1> "
    "(<T S[adj]\\NP 1 2> (<T NP 0 1> (<T N 1 2> (<L N/N CD CD 61 N_93/N_93>) "
    "(<L N NNS NNS years N>) ) ) (<L (S[adj]\\NP)\\NP JJ JJ old "
    "(S[adj]\\NP_83)\\NP_84>) ) ) ) (<L , , , , ,>) ) (<T S[dcl]\\NP 0 2> "
    "(<L (S[dcl]\\NP)/(S[b]\\NP) MD MD will "
    "(S[dcl]\\NP_10)/(S[b]_11\\NP_10:B)_11>) (<T S[b]\\NP 0 2> "
    "(<L (S[b]\\NP)/NP VB VB join (S[b]\\NP_20)/NP_22>) (<T NP 1 2> "
    "(<L NP[nb]/N DT DT the NP[nb]_29/N_29>) (<L N NN NN board N>) ) ) ) ) "
    "(<L . . . . .>) )\n")
_SHORT = ("ID=wsj_{id} PARSER=GOLD NUMPARSE=1\n"
          "(<T S[dcl] 0 2> (<L NP NNP NNP Tom NP>) "
          "(<L S[dcl]\\NP VBZ VBZ {verb} S[dcl]\\NP_1>) )\n")


def _auto(tmp_path, section, name, text):
  folder = tmp_path / "ccgbank_1_1" / "data" / "AUTO" / f"{section:02d}"
  folder.mkdir(parents=True, exist_ok=True)
  path = folder / name
  path.write_text(text, encoding="utf-8")
  return str(path)


def test_leaves_give_tokens_supertags_and_pos(tmp_path):
  path = _auto(tmp_path, 0, "wsj_0001.auto", _PIERRE)
  (sentence,) = ccgbank.read_ccgbank_auto_file(path)
  assert sentence["id"] == "wsj_0001.1"
  assert sentence["tokens"] == ["Pierre", "Vinken", ",", "61", "years", "old",
                                ",", "will", "join", "the", "board", "."]
  assert sentence["supertags"][:3] == ["N/N", "N", ","]
  assert sentence["supertags"][5] == "(S[adj]\\NP)\\NP"
  assert sentence["supertags"][7] == "(S[dcl]\\NP)/(S[b]\\NP)"
  assert sentence["pos"][7] == "MD"
  assert len(sentence["tokens"]) == len(sentence["supertags"])


def test_splits_follow_wsj_sections(tmp_path):
  _auto(tmp_path, 0, "wsj_0001.auto", _PIERRE)
  _auto(tmp_path, 23, "wsj_2301.auto", _SHORT.format(id="2301.1", verb="ran"))
  for section in range(2, 22):
    _auto(tmp_path, section, f"wsj_{section:02d}01.auto",
          _SHORT.format(id=f"{section:02d}01.1", verb="sleeps"))
  _auto(tmp_path, 24, "wsj_2401.auto", _SHORT.format(id="2401.1", verb="no"))
  train = list(ccgbank.read_ccgbank(str(tmp_path), "train"))
  assert [s["id"] for s in train] == [f"wsj_{s:02d}01.1" for s in range(2, 22)]
  (dev,) = ccgbank.read_ccgbank(str(tmp_path), "validation")
  (test,) = ccgbank.read_ccgbank(str(tmp_path), "test")
  assert dev["id"] == "wsj_0001.1" and test["tokens"] == ["Tom", "ran"]


def test_missing_section_points_to_ldc(tmp_path):
  _auto(tmp_path, 2, "wsj_0201.auto", _SHORT.format(id="0201.1", verb="x"))
  with pytest.raises(DataError) as err:
    ccgbank.read_ccgbank(str(tmp_path), "train")
  assert "AUTO/03/wsj_03*.auto" in err.value.message
  assert "LDC2005T13" in err.value.fix and "CCGBANK_DATA_DIR" in err.value.fix


@pytest.mark.parametrize("text, kind, line", [
    (_SHORT.format(id="1.1", verb="x").replace("(<L NP NNP NNP Tom NP>)",
                                               "(<L NP NNP Tom>)"),
     "bad leaf", 2),
    ("ID=wsj_1.1 PARSER=GOLD\nID=wsj_1.2 PARSER=GOLD\n(<T S 0 1> "
     "(<L S NN NN x S>) )\n", "header without tree", 1),
    ("(<T S 0 1> (<L S NN NN x S>) )\n", "tree without header", 1),
    ("ID=wsj_1.1 PARSER=GOLD\n(<T S 0 0> )\n", "bad leaf", 2),
])
def test_malformed_sentences_name_file_and_line(tmp_path, text, kind, line):
  path = _auto(tmp_path, 0, "wsj_0001.auto", text)
  with pytest.raises(DataError) as err:
    list(ccgbank.read_ccgbank_auto_file(path))
  assert err.value.message.startswith(f"{path}:{line}: {kind}")


def test_skip_mode_keeps_good_sentences(tmp_path):
  text = (_SHORT.format(id="1.1", verb="a")
          + _SHORT.format(id="1.2", verb="b").replace(" S[dcl]\\NP_1>)", ">)")
          + _SHORT.format(id="1.3", verb="c"))
  path = _auto(tmp_path, 0, "wsj_0001.auto", text)
  stats = common.ReadStats()
  kept = list(ccgbank.read_ccgbank_auto_file(path, on_error="skip",
                                             stats=stats))
  assert [s["id"] for s in kept] == ["wsj_1.1", "wsj_1.3"]
  assert stats.malformed == {"bad leaf": 1}


def test_inventory_keeps_frequent_tags_and_maps_rare_ones_to_oov():
  sequences = [["S", "N/N", "S"], ["S", "(S\\NP)/NP", "N/N"], ["conj", "N"],
               ["N"]]
  inventory = ccgbank.build_supertag_inventory(sequences, min_count=2)
  assert inventory.tags == ("<OOV>", "S", "N", "N/N")  # By count, then name.
  assert inventory.oov_tag == "<OOV>" and len(inventory) == 4
  assert inventory.index("S") == 1 and inventory.index("conj") == 0
  assert inventory.normalize("(S\\NP)/NP") == "<OOV>"
  assert inventory.normalize("N/N") == "N/N"


def test_inventory_from_training_split_and_round_trip(tmp_path):
  for section in range(2, 22):
    _auto(tmp_path, section, f"wsj_{section:02d}01.auto",
          _SHORT.format(id=f"{section:02d}01.1", verb="sleeps"))
  inventory = ccgbank.build_supertag_inventory(
      (s["supertags"] for s in ccgbank.read_ccgbank(str(tmp_path), "train")),
      min_count=10, oov_tag="UNK")
  assert inventory.tags == ("UNK", "NP", "S[dcl]\\NP")
  path = str(tmp_path / "vocab" / "supertags.txt")
  inventory.save(path)
  assert ccgbank.SupertagInventory.load(path) == inventory


def test_inventory_rejects_bad_input(tmp_path):
  with pytest.raises(ConfigError, match="min_count=0"):
    ccgbank.build_supertag_inventory([["N"]], min_count=0)
  path = tmp_path / "dup.txt"
  path.write_text("<OOV>\nN\nN\n", encoding="utf-8")
  with pytest.raises(DataError, match="repeated"):
    ccgbank.SupertagInventory.load(str(path))
