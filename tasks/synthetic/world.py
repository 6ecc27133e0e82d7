"""The embedded synthetic world: one latent grammar, several languages.

No pretrained multilingual model or XTREME data can be downloaded everywhere
xferjax must run, so the demo builds a small world of its own, deterministically
from a seed, in which the research question still makes sense (the approach of
K et al. 2020 and Dufter & Schuetze 2020, who study multilinguality with
synthetic "fake" languages):

* Latent content: facts `(name, verb, count, adjective, noun, negated)`, e.g.
  "ana does not buy 3 red kites".
* Languages render the same fact with their own lexicon (disjoint word forms,
  built from each language's own syllables) and their own word order; names
  and digits are shared anchor tokens, as real languages share some.
* Phase 0 corpus: monolingual, *non-parallel* text per language (each
  language samples its own facts), so any cross-lingual alignment must be
  learned by MLM pretraining, not given.
* Intermediate task (English only, many examples): paraphrase identification
  ("do these two sentences state the same fact?"), which exercises comparing
  names, verbs, nouns, counts and negation.
* Target task (XNLI-like, few English examples): premise of one or two facts,
  hypothesis of one fact; entailment / neutral / contradiction. Dev sets are
  the same latent examples rendered in every language (like XNLI's translated
  dev sets), for zero-shot evaluation.

Everything here is plain Python: the SeqIO registrations live in `tasks.py`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from typing import Iterator

# Version of the generator: bump when rendering changes, so cached
# vocabularies keyed by the world's fingerprint are rebuilt.
GENERATOR_VERSION = 1

NAMES = ("ana", "bo", "cai", "dex", "eli", "fay", "gus", "hal", "ivo", "jun",
         "kim", "lux")
COUNTS = ("2", "3", "4", "5", "6", "7", "8", "9")
VERBS = ("sees", "buys", "paints", "carries", "sells", "finds", "likes",
         "hides")
NOUNS = ("apples", "birds", "cars", "books", "cups", "hats", "lamps", "boats",
         "drums", "kites", "rings", "shoes")
ADJECTIVES = ("red", "blue", "big", "small", "old", "new", "green", "round")
# English function words; other languages get generated ones.
ENGLISH_FUNCTION = {"neg": "not", "and": "and"}

NLI_LABELS = ("entailment", "neutral", "contradiction")
ENTAILMENT_LABELS = ("not_entailed", "entailed")
PARAPHRASE_LABELS = ("different", "same")


@dataclasses.dataclass(frozen=True)
class Language:
  """How one language renders a fact: word order and sound inventory."""

  code: str
  # Slot order; NEG appears only in negated facts, ADJ only when kept.
  order: tuple[str, ...]
  consonants: str
  vowels: str
  description: str


# From "same grammar, new words" to "different word order": K et al. (2020)
# found word order matters for transfer, so the demo spans the range.
LANGUAGES = (
    Language("en", ("NAME", "NEG", "VERB", "NUM", "ADJ", "NOUN"), "", "",
             "English words, SVO, adjective before noun"),
    Language("syn1", ("NAME", "NEG", "VERB", "NUM", "ADJ", "NOUN"), "ptkmnsl",
             "aiu", "English word order, new words"),
    Language("syn2", ("NAME", "NEG", "VERB", "NUM", "NOUN", "ADJ"), "bdgrvz",
             "eo", "SVO, adjective after noun"),
    Language("syn3", ("NAME", "NUM", "ADJ", "NOUN", "VERB", "NEG"), "fhjwxq",
             "aeiy", "SOV, negation after the verb"),
    Language("syn4", ("VERB", "NEG", "NAME", "NOUN", "ADJ", "NUM"), "ctnrls",
             "ou", "VSO, modifiers after noun"),
)
LANGUAGE_CODES = tuple(lang.code for lang in LANGUAGES)


@dataclasses.dataclass(frozen=True)
class Fact:
  name: str
  verb: int
  count: str
  adjective: int
  noun: int
  negated: bool


@dataclasses.dataclass(frozen=True)
class WorldConfig:
  """Sizes of the world's datasets. The defaults give a demo that runs fast."""

  seed: int = 0
  languages: tuple[str, ...] = LANGUAGE_CODES
  corpus_sentences_per_language: int = 6000
  intermediate_train_size: int = 20000
  intermediate_validation_size: int = 1000
  target_train_size: int = 400
  target_validation_size: int = 600
  # Facts per premise in the inference tasks (1 or 2): two-fact premises
  # make the model find which fact the hypothesis is about.
  max_premise_facts: int = 1

  def fingerprint(self) -> str:
    blob = json.dumps([GENERATOR_VERSION, dataclasses.asdict(self)],
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _make_word(rng: random.Random, lang: Language) -> str:
  syllables = rng.randint(2, 3)
  return "".join(rng.choice(lang.consonants) + rng.choice(lang.vowels)
                 for _ in range(syllables))


class Lexicon:
  """Surface forms of every concept in one language."""

  def __init__(self, lang: Language, seed: int, taken: set[str]):
    if lang.code == "en":
      self.verbs, self.nouns, self.adjectives = VERBS, NOUNS, ADJECTIVES
      self.neg, self.conj = ENGLISH_FUNCTION["neg"], ENGLISH_FUNCTION["and"]
      taken.update(VERBS + NOUNS + ADJECTIVES + tuple(ENGLISH_FUNCTION.values()))
      return
    rng = random.Random(f"lexicon/{seed}/{lang.code}")

    def fresh() -> str:
      while True:
        word = _make_word(rng, lang)
        if word not in taken:
          taken.add(word)
          return word

    self.verbs = tuple(fresh() for _ in VERBS)
    self.nouns = tuple(fresh() for _ in NOUNS)
    self.adjectives = tuple(fresh() for _ in ADJECTIVES)
    self.neg, self.conj = fresh(), fresh()


class World:
  """Generates every dataset of the synthetic world, deterministically."""

  def __init__(self, config: WorldConfig = WorldConfig()):
    unknown = set(config.languages) - set(LANGUAGE_CODES)
    if unknown or "en" not in config.languages:
      raise ValueError(
          f"synthetic world languages {sorted(config.languages)} must include "
          f"'en' and be drawn from {LANGUAGE_CODES}")
    self.config = config
    self.languages = {l.code: l for l in LANGUAGES if l.code in config.languages}
    taken = set(NAMES) | set(COUNTS)
    self.lexicons = {code: Lexicon(lang, config.seed, taken)
                     for code, lang in self.languages.items()}

  # ---- rendering -------------------------------------------------------
  def render(self, fact: Fact, lang: str, with_adjective: bool = True) -> str:
    lex = self.lexicons[lang]
    slots = {
        "NAME": fact.name,
        "NEG": lex.neg if fact.negated else None,
        "VERB": lex.verbs[fact.verb],
        "NUM": fact.count,
        "ADJ": lex.adjectives[fact.adjective] if with_adjective else None,
        "NOUN": lex.nouns[fact.noun],
    }
    return " ".join(slots[s] for s in self.languages[lang].order if slots[s])

  def render_facts(self, facts: list[Fact], lang: str) -> str:
    return f" {self.lexicons[lang].conj} ".join(
        self.render(f, lang) for f in facts)

  # ---- sampling --------------------------------------------------------
  def _rng(self, *parts) -> random.Random:
    return random.Random("/".join(map(str, (self.config.seed,) + parts)))

  @staticmethod
  def random_fact(rng: random.Random, name: str | None = None) -> Fact:
    return Fact(
        name=name or rng.choice(NAMES),
        verb=rng.randrange(len(VERBS)),
        count=rng.choice(COUNTS),
        adjective=rng.randrange(len(ADJECTIVES)),
        noun=rng.randrange(len(NOUNS)),
        negated=rng.random() < 0.3)

  def _premise(self, rng: random.Random, max_facts: int = 2) -> list[Fact]:
    names = rng.sample(NAMES, rng.randint(1, max_facts))
    return [self.random_fact(rng, n) for n in names]

  # ---- datasets --------------------------------------------------------
  def corpus(self, lang: str) -> Iterator[str]:
    """Monolingual MLM text; each language samples its own facts."""
    rng = self._rng("corpus", lang)
    for _ in range(self.config.corpus_sentences_per_language):
      yield self.render_facts(self._premise(rng), lang)

  def _split_size(self, kind: str, split: str) -> int:
    sizes = {
        ("intermediate", "train"): self.config.intermediate_train_size,
        ("intermediate", "validation"): self.config.intermediate_validation_size,
        ("target", "train"): self.config.target_train_size,
        ("target", "validation"): self.config.target_validation_size,
    }
    if (kind, split) not in sizes:
      raise ValueError(f"the synthetic {kind} task has no split {split!r}")
    return sizes[(kind, split)]

  def paraphrase(self, split: str, lang: str = "en") -> Iterator[dict]:
    """Intermediate task: do two sentences state the same fact?"""
    rng = self._rng("paraphrase", split)
    for i in range(self._split_size("intermediate", split)):
      fact = self.random_fact(rng)
      same = rng.random() < 0.5
      other = fact if same else _perturb(rng, fact)
      yield {
          "idx": i,
          "sentence1": self.render(fact, lang),
          # Dropping the adjective keeps the fact: independent of the label.
          "sentence2": self.render(other, lang,
                                   with_adjective=rng.random() < 0.5),
          "label": int(same),
      }

  def _inference_pair(self, rng: random.Random,
                      label: int) -> tuple[list[Fact], Fact, bool]:
    """A premise and a hypothesis standing in relation `label` to it."""
    premise = self._premise(rng, self.config.max_premise_facts)
    fact = rng.choice(premise)
    if label == 0:  # entailment: restate one fact, maybe less specific
      hypothesis = fact
    elif label == 2:  # contradiction: flip negation or change the count
      hypothesis = _contradict(rng, fact)
    else:  # neutral: a fact the premise says nothing about
      hypothesis = _unrelated(rng, fact, premise)
    return premise, hypothesis, rng.random() < 0.5

  def nli(self, split: str, lang: str) -> Iterator[dict]:
    """Target task; the same latent examples in every language."""
    rng = self._rng("nli", split)  # not keyed by lang: parallel across langs
    for i in range(self._split_size("target", split)):
      premise, hypothesis, with_adj = self._inference_pair(
          rng, rng.randrange(3))
      yield {
          "idx": i,
          "premise": self.render_facts(premise, lang),
          "hypothesis": self.render(hypothesis, lang, with_adjective=with_adj),
          "label": hypothesis_label(premise, hypothesis),
      }

  def entailment(self, split: str, lang: str = "en",
                 limit: int | None = None) -> Iterator[dict]:
    """Intermediate task: binary "is the hypothesis entailed?" (MNLI-like
    data, different examples and label scheme from the target).

    `limit` keeps the first N examples of the split: subsets are nested
    (1k within 4k within the full set) and fixed by the world's seed.
    """
    rng = self._rng("entailment", split)
    size = self._split_size("intermediate", split)
    for i in range(size if limit is None else min(limit, size)):
      label = 0 if rng.random() < 0.5 else rng.choice((1, 2))
      premise, hypothesis, with_adj = self._inference_pair(rng, label)
      yield {
          "idx": i,
          "premise": self.render_facts(premise, lang),
          "hypothesis": self.render(hypothesis, lang, with_adjective=with_adj),
          "label": int(hypothesis_label(premise, hypothesis) == 0),
      }


def hypothesis_label(premise: list[Fact], hypothesis: Fact) -> int:
  """The gold NLI label, computed from the facts (the world's semantics).

  Entailed if some premise fact is the hypothesis (adjectives aside: the
  hypothesis may omit it, never change it); contradicted if a premise fact
  about the same name, verb and noun differs in count or negation; otherwise
  neutral.
  """
  for fact in premise:
    same_event = (fact.name, fact.verb, fact.noun) == (
        hypothesis.name, hypothesis.verb, hypothesis.noun)
    if not same_event:
      continue
    if (fact.count, fact.negated) == (hypothesis.count, hypothesis.negated):
      return 0
    return 2
  return 1


def _perturb(rng: random.Random, fact: Fact) -> Fact:
  """A fact that differs from `fact` in exactly one element."""
  field = rng.choice(("name", "verb", "count", "noun", "negated"))
  if field == "negated":
    return dataclasses.replace(fact, negated=not fact.negated)
  return _replace_with_other(rng, fact, field)


def _replace_with_other(rng: random.Random, fact: Fact, field: str) -> Fact:
  pools = {"name": NAMES, "count": COUNTS, "verb": range(len(VERBS)),
           "noun": range(len(NOUNS))}
  current = getattr(fact, field)
  value = rng.choice([v for v in pools[field] if v != current])
  return dataclasses.replace(fact, **{field: value})


def _contradict(rng: random.Random, fact: Fact) -> Fact:
  if rng.random() < 0.5:
    return dataclasses.replace(fact, negated=not fact.negated)
  return _replace_with_other(rng, fact, "count")


def _unrelated(rng: random.Random, fact: Fact, premise: list[Fact]) -> Fact:
  """Changes who, what or which action, so the premise cannot decide it."""
  field = rng.choice(("name", "noun", "verb"))
  if field == "name":
    absent = [n for n in NAMES if n not in {f.name for f in premise}]
    return dataclasses.replace(fact, name=rng.choice(absent))
  return _replace_with_other(rng, fact, field)
