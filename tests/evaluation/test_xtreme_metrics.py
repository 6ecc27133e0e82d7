"""Hand-made edge cases for the metrics; expected values are worked out by hand
from the official rules (stated next to each case)."""

import pytest

from xferjax import errors
from xferjax.evaluation import metrics

SQUAD = metrics.SQUAD_NORMALIZER


def _qa(pred, gold, normalize):
  return (metrics.qa_exact_match(pred, gold, normalize),
          metrics.qa_f1(pred, gold, normalize))


# --------------------------------------------------------------------------
# Entity F1 (seqeval, non-strict).


def test_chunk_may_start_with_i():
  gold = [["B-PER", "I-PER", "O", "B-LOC"]]
  pred = [["I-PER", "I-PER", "O", "B-LOC"]]  # I- after O opens a PER chunk
  assert metrics.chunks(pred) == {("PER", 0, 1), ("LOC", 3, 3)}
  assert metrics.entity_f1(gold, pred) == {"f1": 100.0, "precision": 100.0,
                                           "recall": 100.0}


def test_type_change_splits_chunks_and_partial_credit():
  gold = [["B-PER", "I-PER", "O", "B-LOC"]]
  assert metrics.chunks([["B-PER", "I-LOC"]]) == {("PER", 0, 0),
                                                  ("LOC", 1, 1)}
  # 1 of 1 predicted chunk right, 1 of 2 gold found: P 100, R 50, F1 2/3.
  scores = metrics.entity_f1(gold, [["B-PER", "I-PER", "O", "O"]])
  assert scores["precision"] == 100.0 and scores["recall"] == 50.0
  assert scores["f1"] == pytest.approx(200 / 3)


def test_chunks_do_not_cross_sentences():
  # Joined as B-PER O I-PER O: two chunks, the second opened by I-.
  assert metrics.chunks([["B-PER"], ["I-PER"]]) == {("PER", 0, 0),
                                                    ("PER", 2, 2)}


def test_all_o_prediction_scores_zero_not_nan():
  assert metrics.entity_f1([["B-ORG", "O"]], [["O", "O"]]) == {
      "f1": 0.0, "precision": 0.0, "recall": 0.0}


def test_pos_tags_are_runs_of_equal_tags():
  assert metrics.chunks([["NOUN", "NOUN", "VERB"]]) == {("NOUN", 0, 1),
                                                        ("VERB", 2, 2)}
  assert metrics.entity_f1([["NOUN", "NOUN"]], [["NOUN", "VERB"]])["f1"] == 0


def test_seqeval_versions_differ_on_conj_tags():
  # seqeval <= 0.0.15 keeps SCONJ and CCONJ apart; >= 0.0.16 types both "CONJ"
  # (the tag letter S/C is not part of the type), so the guess counts.
  gold, pred = [["SCONJ"]], [["CCONJ"]]
  assert metrics.entity_f1(gold, pred, seqeval="0.0.12")["f1"] == 0
  assert metrics.entity_f1(gold, pred, seqeval="1.2.2")["f1"] == 100


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
# SQuAD normalisation (XQuAD, TyDiQA).


def test_squad_articles_case_punctuation_whitespace():
  assert _qa("The Eiffel Tower!", "eiffel tower", SQUAD) == (True, 1.0)
  assert _qa("  New\tYork \n City ", "New York City", SQUAD) == (True, 1.0)
  # "the" only as a word: "theatre" keeps its letters.
  assert SQUAD("the theatre, a play") == "theatre play"


def test_squad_keeps_non_ascii_punctuation():
  # string.punctuation is ASCII only: « » stay, so no match under SQuAD ...
  assert _qa("«Paris»", "Paris", SQUAD) == (False, 0)
  # ... but MLQA strips every Unicode P* character.
  assert _qa("«Paris»", "Paris", metrics.mlqa_normalizer("en")) == (True, 1.0)


def test_squad_on_chinese_is_whitespace_tokens():
  # XQuAD zh uses the SQuAD normaliser: "北京" vs "北京大学" share no token.
  assert _qa("北京", "北京大学", SQUAD) == (False, 0)


def test_empty_prediction():
  assert _qa("", "Paris", SQUAD) == (False, 0)
  # Gold "the" also normalises to "": EM 1 but F1 0 (official quirk).
  assert _qa("", "the", SQUAD) == (True, 0)


# --------------------------------------------------------------------------
# MLQA per-language normalisation.


def test_mlqa_chinese_is_character_level():
  zh = metrics.mlqa_normalizer("zh")
  assert zh("2008年北京 奥运会") == "2008 年 北 京 奥 运 会"
  # 2 of 2 predicted characters, 2 of 4 gold: P 1, R 0.5, F1 2/3.
  em, f1 = _qa("北京", "北京大学", zh)
  assert not em and f1 == pytest.approx(2 / 3)
  # Fullwidth punctuation is removed before segmenting.
  assert _qa("北京。", "「北京」", zh) == (True, 1.0)


def test_mlqa_arabic_removes_every_al():
  ar = metrics.mlqa_normalizer("ar")
  assert _qa("الكتاب", "كتاب", ar) == (True, 1.0)
  # The official pattern also strips 'ال' inside words: "مالك" -> "م ك".
  assert ar("مالك") == "م ك"
  # Arabic comma and question mark are Unicode punctuation.
  assert _qa("كتاب، قلم؟", "كتاب قلم", ar) == (True, 1.0)


def test_mlqa_hindi_danda_is_punctuation_and_no_articles():
  hi = metrics.mlqa_normalizer("hi")
  assert _qa("भारत।", "भारत", hi) == (True, 1.0)
  assert _qa("भारत।", "भारत", SQUAD) == (False, 0)  # XQuAD hi keeps "।"
  assert hi("a भारत") == "a भारत"  # no English articles in Hindi


@pytest.mark.parametrize("language,prediction,gold", [
    ("es", "la casa", "casa"),
    ("es", "¿Los Ángeles?", "Ángeles"),  # "los" is an article, ¿ punctuation
    ("de", "der Hund", "Hund"),
    ("vi", "những con mèo", "con mèo"),
    ("en", "an apple", "apple"),
])
def test_mlqa_articles(language, prediction, gold):
  assert _qa(prediction, gold, metrics.mlqa_normalizer(language)) == (True,
                                                                      1.0)


def test_mlqa_articles_are_per_language():
  # Spanish "la" is not an English article.
  assert _qa("la casa", "casa", metrics.mlqa_normalizer("en"))[0] is False


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
