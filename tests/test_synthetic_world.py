"""The synthetic world is deterministic, non-parallel where it must be, and
its labels follow its own semantics."""

import collections

from xferjax_tasks.synthetic import world as world_lib


def _world(**kwargs):
  return world_lib.World(world_lib.WorldConfig(**kwargs))


def test_deterministic_across_instances():
  a, b = _world(), _world()
  for lang in world_lib.LANGUAGE_CODES:
    assert list(a.nli("validation", lang)) == list(b.nli("validation", lang))
    assert list(a.corpus(lang))[:50] == list(b.corpus(lang))[:50]
  assert list(a.entailment("train"))[:50] == list(b.entailment("train"))[:50]


def test_seed_changes_the_world():
  assert (list(_world(seed=0).corpus("syn1"))[:20]
          != list(_world(seed=1).corpus("syn1"))[:20])


def test_lexicons_are_disjoint_except_anchors():
  w = _world()
  anchors = set(world_lib.NAMES) | set(world_lib.COUNTS)
  words = {lang: set(" ".join(w.corpus(lang)).split())
           for lang in world_lib.LANGUAGE_CODES}
  for a in words:
    for b in words:
      if a < b:
        assert words[a] & words[b] <= anchors, (a, b)
  # Every language does use the anchors.
  for lang in words:
    assert words[lang] & set(world_lib.NAMES)


def test_corpora_are_not_parallel():
  w = _world()
  en = list(w.corpus("en"))[:200]
  syn1 = list(w.corpus("syn1"))[:200]  # same word order as English
  names = lambda s: [t for t in s.split() if t in world_lib.NAMES]
  same = sum(names(a) == names(b) for a, b in zip(en, syn1))
  assert same < 50  # parallel text would match (nearly) always


def test_dev_sets_are_parallel_translations():
  w = _world()
  en = list(w.nli("validation", "en"))
  for lang in ("syn2", "syn4"):
    other = list(w.nli("validation", lang))
    assert [e["label"] for e in other] == [e["label"] for e in en]
    assert [sorted(t for t in e["premise"].split() if t in world_lib.NAMES)
            for e in other] == [
                sorted(t for t in e["premise"].split()
                       if t in world_lib.NAMES) for e in en]


def test_labels_match_the_world_semantics():
  w = _world(max_premise_facts=2)
  fact = world_lib.Fact("ana", 0, "3", 1, 2, False)
  other = world_lib.Fact("bo", 4, "5", 0, 7, True)
  label = world_lib.hypothesis_label
  assert label([fact, other], fact) == 0
  assert label([fact], world_lib.Fact("ana", 0, "4", 1, 2, False)) == 2
  assert label([fact], world_lib.Fact("ana", 0, "3", 1, 2, True)) == 2
  assert label([fact], world_lib.Fact("kim", 0, "3", 1, 2, False)) == 1
  assert label([fact], world_lib.Fact("ana", 0, "3", 1, 5, False)) == 1
  counts = collections.Counter(e["label"] for e in w.nli("train", "en"))
  assert min(counts.values()) > 0.25 * sum(counts.values())


def test_word_orders_differ_as_documented():
  w = _world()
  fact = world_lib.Fact("ana", 0, "3", 1, 2, True)
  en = w.render(fact, "en").split()
  assert en[0] == "ana" and en[3] == "3"
  assert w.render(fact, "syn1").split()[0] == "ana"  # SVO like English
  assert w.render(fact, "syn4").split()[0] == w.lexicons["syn4"].verbs[0]
