"""Hand-made edge cases for the metrics. The tables hold the figures the
official code returned for each input (seqeval 0.0.12 and 1.2.2; XTREME's
evaluate_squad.py and evaluate_mlqa.py); the rest are worked out by hand."""

import pytest

from xferjax import errors
from xferjax.evaluation import metrics

SQUAD = metrics.SQUAD_NORMALIZER


def _qa(pred, gold, normalize):
  return (metrics.qa_exact_match(pred, gold, normalize),
          metrics.qa_f1(pred, gold, normalize))


# --------------------------------------------------------------------------
# Entity F1 (seqeval, non-strict).

# (case, gold, prediction, (f1, precision, recall) from seqeval 0.0.12,
# the same from seqeval 1.2.2): figures the real packages returned for these
# inputs (2026-12-02), int 0 where they return int 0.
OFFICIAL_TAG_CASES = [
    ("starts_with_i", [["B-PER", "I-PER", "O", "B-LOC"]],
     [["I-PER", "I-PER", "O", "B-LOC"]],
     (100.0, 100.0, 100.0), (100.0, 100.0, 100.0)),
    ("gold_starts_with_i", [["I-ORG", "I-ORG", "O"]],
     [["B-ORG", "I-ORG", "O"]],
     (100.0, 100.0, 100.0), (100.0, 100.0, 100.0)),
    ("i_after_other_type", [["B-PER", "I-PER"]],
     [["B-PER", "I-LOC"]],
     (0, 0.0, 0.0), (0.0, 0.0, 0.0)),
    ("i_across_sentences", [["B-PER"], ["B-PER"]],
     [["B-PER"], ["I-PER"]],
     (100.0, 100.0, 100.0), (100.0, 100.0, 100.0)),
    ("partial_credit", [["B-PER", "I-PER", "O", "B-LOC"]],
     [["B-PER", "I-PER", "O", "O"]],
     (66.66666666666666, 100.0, 50.0), (66.66666666666666, 100.0, 50.0)),
    ("all_o_prediction", [["B-ORG", "O"]],
     [["O", "O"]],
     (0, 0, 0.0), (0.0, 0.0, 0.0)),
    ("no_gold_entities", [["O", "O"]],
     [["B-LOC", "O"]],
     (0, 0.0, 0), (0.0, 0.0, 0.0)),
    ("nothing_anywhere", [["O"], []],
     [["O"], []],
     (0, 0, 0), (0.0, 0.0, 0.0)),
    ("iobes", [["S-PER", "B-LOC", "E-LOC"]],
     [["S-PER", "B-LOC", "I-LOC"]],
     (100.0, 100.0, 100.0), (100.0, 100.0, 100.0)),
    ("pos_runs", [["NOUN", "NOUN", "VERB", "PUNCT"]],
     [["NOUN", "VERB", "VERB", "PUNCT"]],
     (33.33333333333333, 33.33333333333333, 33.33333333333333),
     (33.33333333333333, 33.33333333333333, 33.33333333333333)),
    ("pos_conj", [["SCONJ", "NOUN"]],
     [["CCONJ", "NOUN"]],
     (50.0, 50.0, 50.0), (100.0, 100.0, 100.0)),
    ("pos_single_letter_tag", [["X", "NOUN"]],
     [["O", "NOUN"]],
     (66.66666666666666, 100.0, 50.0), (66.66666666666666, 100.0, 50.0)),
]


def _typed(values):
  return [(v, type(v)) for v in values]


@pytest.mark.parametrize("case,gold,pred,old,new", OFFICIAL_TAG_CASES,
                         ids=[c[0] for c in OFFICIAL_TAG_CASES])
def test_entity_f1_matches_real_seqeval(case, gold, pred, old, new):
  for seqeval, expected in (("0.0.12", old), ("1.2.2", new)):
    scores = metrics.entity_f1(gold, pred, seqeval=seqeval)
    got = (scores["f1"], scores["precision"], scores["recall"])
    assert _typed(got) == _typed(expected), (case, seqeval)


def test_chunk_may_start_with_i():
  # I- after O opens a chunk (conlleval), and chunks do not cross sentences:
  # joined as B-PER O I-PER O, the second one is opened by I-.
  assert metrics.chunks([["I-PER", "I-PER", "O", "B-LOC"]]) == {
      ("PER", 0, 1), ("LOC", 3, 3)}
  assert metrics.chunks([["B-PER"], ["I-PER"]]) == {("PER", 0, 0),
                                                    ("PER", 2, 2)}
  assert metrics.chunks([["B-PER", "I-LOC"]]) == {("PER", 0, 0),
                                                  ("LOC", 1, 1)}


def test_pos_tags_are_runs_of_equal_tags():
  assert metrics.chunks([["NOUN", "NOUN", "VERB"]]) == {("NOUN", 0, 1),
                                                        ("VERB", 2, 2)}
  # seqeval 1.x types "SCONJ" and "CCONJ" both "CONJ" (S/C is the tag letter).
  assert metrics.chunks([["SCONJ"]], "1.2.2") == {("CONJ", 0, 0)}


def test_no_sentences_scores_zero_like_seqeval_0_0_12():
  assert metrics.entity_f1([], []) == {"f1": 0, "precision": 0, "recall": 0}


def test_mismatched_sentence_lengths_are_an_error():
  with pytest.raises(errors.DataError, match="sentence 2 has 1 predicted"):
    metrics.entity_f1([["O"], ["O", "O"]], [["O"], ["O"]], "pred.tsv")
  with pytest.raises(errors.DataError, match="pred.tsv: 1 predicted sentences"):
    metrics.entity_f1([["O"], ["O"]], [["O"]], "pred.tsv")


def test_unknown_seqeval_mode_is_a_config_error():
  with pytest.raises(errors.ConfigError):
    metrics.entity_f1([["O"]], [["O"]], seqeval="2.0")


def test_token_accuracy():
  scores = metrics.token_accuracy([["NOUN", "VERB"], ["X"]],
                                  [["NOUN", "NOUN"], ["X"]])
  assert scores == {"token_accuracy": pytest.approx(200 / 3)}


# --------------------------------------------------------------------------
# Answer normalisation: SQuAD (XQuAD, TyDiQA) and MLQA per language.

# (normaliser, prediction, gold answer, normalised prediction, EM, F1): what
# the official evaluate_squad.py / evaluate_mlqa.py (xtreme 838c13b) return.
OFFICIAL_QA_CASES = [
    ("squad", "The Eiffel Tower!", "eiffel tower", "eiffel tower", True, 1.0),
    ("squad", "  New\tYork \n City ", "New York City", "new york city", True,
     1.0),
    ("squad", "New\xa0York", "New York", "new york", True, 1.0),
    ("squad", "New\u200bYork", "New York", "new\u200byork", False, 0),
    ("squad", "«Paris»", "Paris", "«paris»", False, 0),
    ("squad", "Paris.", "Paris", "paris", True, 1.0),
    ("squad", "北京", "北京大学", "北京", False, 0),
    ("squad", "भारत।", "भारत", "भारत।", False, 0),
    ("squad", "", "Paris", "", False, 0),
    ("squad", "", "the", "", True, 0),
    ("squad", "an apple a day", "apple day", "apple day", True, 1.0),
    ("mlqa:en", "«Paris»", "Paris", "paris", True, 1.0),
    ("mlqa:en", "the theatre", "theatre", "theatre", True, 1.0),
    ("mlqa:en", "la casa", "casa", "la casa", False, 0.6666666666666666),
    ("mlqa:es", "¿Los Ángeles?", "Ángeles", "ángeles", True, 1.0),
    ("mlqa:es", "la casa de las flores", "casa de flores", "casa de flores",
     True, 1.0),
    ("mlqa:de", "der Hund, die Katze", "Hund Katze", "hund katze", True, 1.0),
    ("mlqa:de", "Der Hund", "des Hundes", "hund", False, 0),
    ("mlqa:vi", "những con mèo", "con mèo", "con mèo", True, 1.0),
    ("mlqa:vi", "Hà Nội là thủ đô", "Hà Nội thủ đô", "hà nội thủ đô", True,
     1.0),
    ("mlqa:ar", "الكتاب", "كتاب", "كتاب", True, 1.0),
    ("mlqa:ar", "مالك", "م ك", "م ك", True, 1.0),
    ("mlqa:ar", "كتاب، قلم؟", "كتاب قلم", "كتاب قلم", True, 1.0),
    ("mlqa:hi", "भारत।", "भारत", "भारत", True, 1.0),
    ("mlqa:hi", "a भारत", "भारत", "a भारत", False, 0.6666666666666666),
    ("mlqa:zh", "北京", "北京大学", "北 京", False, 0.6666666666666666),
    ("mlqa:zh", "北京。", "「北京」", "北 京", True, 1.0),
    ("mlqa:zh", "2008年北京 奥运会", "2008年 北京奥运会",
     "2008 年 北 京 奥 运 会", True, 1.0),
    ("mlqa:zh", "iPhone 手机", "iphone手机", "iphone 手 机", True, 1.0),
    ("mlqa:zh", "", "北京", "", False, 0),
    ("mlqa:zh", "\u3000北京\u3000", "北京", "北 京", True, 1.0),
]


def _normalizer(name):
  if name == "squad":
    return SQUAD
  return metrics.mlqa_normalizer(name.split(":")[1])


@pytest.mark.parametrize("name,prediction,gold,normalised,em,f1",
                         OFFICIAL_QA_CASES)
def test_qa_matches_official_scripts(name, prediction, gold, normalised, em,
                                     f1):
  normalize = _normalizer(name)
  assert normalize(prediction) == normalised
  assert _typed(_qa(prediction, gold, normalize)) == _typed((em, f1))


def test_mlqa_unknown_language():
  with pytest.raises(errors.DataError, match="'fr'"):
    metrics.mlqa_normalizer("fr")


# --------------------------------------------------------------------------
# Dataset-level QA scoring.


def test_qa_em_f1_best_answer_unanswered_and_extra_ids():
  questions = [
      metrics.Question("q1", ("Paris", "the city of Paris")),
      metrics.Question("q2", ("Marie Curie",)),
      metrics.Question("q3", ("1903",)),
  ]
  predictions = {"q1": "city of Paris", "q2": "Curie", "unknown": "x"}
  scores, unanswered = metrics.qa_em_f1(questions, predictions, SQUAD)
  # q1: EM 1 (second answer), F1 1; q2: EM 0, F1 2/3; q3: unanswered, 0.
  assert unanswered == ["q3"]
  assert scores["exact_match"] == pytest.approx(100 / 3)
  assert scores["f1"] == pytest.approx(100 * (1 + 2 / 3) / 3)


def test_qa_without_questions_is_an_error():
  with pytest.raises(errors.DataError, match="labels.json: no questions"):
    metrics.qa_em_f1([], {}, SQUAD, "labels.json")


# --------------------------------------------------------------------------
# BUCC and accuracy.


def test_bucc_sets_and_zero():
  gold = [("de-1", "en-1"), ("de-2", "en-2")]
  pred = [("de-1", "en-1"), ("de-1", "en-1"), ("de-3", "en-3")]
  # Sets: 1 correct of 2 predicted, of 2 gold.
  assert metrics.bucc_f1(gold, pred) == {"f1": 50.0, "precision": 50.0,
                                         "recall": 50.0}
  assert metrics.bucc_f1(gold, [("x", "y")]) == {"f1": 0, "precision": 0,
                                                 "recall": 0}


def test_accuracy():
  assert metrics.accuracy(["a", "b", "c", "d"], ["a", "b", "x", "d"]) == {
      "accuracy": 75.0}
  with pytest.raises(errors.DataError):
    metrics.accuracy([], [])
