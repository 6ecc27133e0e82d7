"""A tiny XTREME in the official file layouts, generated (no download).

English and German sentences from a few templates ("ana lives in paris ."
/ "ana wohnt in paris .") fill every task the evaluator and the study tests
read from files: PAWS-X, PAN-X, UD-POS, SQuAD v1.1 (train/dev), XQuAD,
Tatoeba, BUCC 2018 and (multiple choice, English) Cosmos QA. Names and cities are shared between the languages
(anchors), the other words differ, so a small model can learn something,
but the tests only rely on the mechanics. `write(root)` returns the gin
macros (data directories and a SentencePiece vocabulary trained on the
files' text) to bind. `official_scores`, `check_scores` and `read_jsonl`
check what an evaluation wrote against the official-equivalent scorer.
"""

from __future__ import annotations

import json
import os
import pathlib
import random

import numpy as np
import pytest

from xferjax.data import vocab
from xferjax.evaluation import scorer, submission
from xferjax.train.evaluator import SCORES_SUFFIX, read_example_scores

NAMES = ["ana", "bo", "cai", "dex", "eli", "fay", "gus", "hal"]
CITIES = ["paris", "rome", "oslo", "lima", "kyiv", "doha"]
LIVES = {"en": "{n} lives in {c} .", "de": "{n} wohnt in {c} ."}
WORKS = {"en": "{n} works in {c} .", "de": "{n} arbeitet in {c} ."}
SWAP = {"en": "in {c} lives {n} .", "de": "in {c} wohnt {n} ."}
QUESTION = {"en": "where does {n} live ?", "de": "wo wohnt {n} ?"}
UPOS = {"lives": "VERB", "wohnt": "VERB", "works": "VERB",
        "arbeitet": "VERB", "in": "ADP", ".": "PUNCT"}


def _facts(rng: random.Random, n: int):
  return [(rng.choice(NAMES), rng.choice(CITIES)) for _ in range(n)]


def _put(root: pathlib.Path, macro: str, rel: str, text: str, dirs: dict):
  path = root / macro / rel
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(text, encoding="utf-8")
  dirs[macro] = str(root / macro)


def _words(lang, name, city):
  return LIVES[lang].format(n=name, c=city).split()


def _panx(lang, facts):
  blocks = []
  for name, city in facts:
    words = _words(lang, name, city)
    tags = ["B-PER", "O", "O", "B-LOC", "O"]
    blocks.append("".join(f"{lang}:{w}\t{t}\n" for w, t in zip(words, tags)))
  return "\n".join(blocks) + "\n"


def _conllu(lang, facts):
  out = []
  for k, (name, city) in enumerate(facts):
    words = _words(lang, name, city)
    out.append(f"# sent_id = s{k}\n# text = {' '.join(words)}\n" + "".join(
        f"{i + 1}\t{w}\t{w}\t{UPOS.get(w, 'PROPN')}\t_\t_\t0\tdep\t_\t_\n"
        for i, w in enumerate(words)) + "\n")
  return "".join(out)


def _pawsx(lang, facts, rng):
  rows = ["id\tsentence1\tsentence2\tlabel"]
  for i, (name, city) in enumerate(facts):
    same = i % 2 == 0
    other = name if same else rng.choice([x for x in NAMES if x != name])
    rows.append(f"{i}\t{LIVES[lang].format(n=name, c=city)}\t"
                f"{SWAP[lang].format(n=other, c=city)}\t{int(same)}")
  return "\n".join(rows) + "\n"


def _squad(lang, rng, n_paragraphs, prefix):
  """SQuAD JSON; each context has 4 facts (longer than a 48-piece window)."""
  paragraphs = []
  for p in range(n_paragraphs):
    facts = [(NAMES[(p + i) % len(NAMES)], rng.choice(CITIES))
             for i in range(4)]
    sentences = [(WORKS if i % 2 else LIVES)[lang].format(n=n, c=c)
                 for i, (n, c) in enumerate(facts)]
    context = " ".join(sentences)
    qas = []
    for i, (name, city) in enumerate(facts):
      if i % 2:
        continue
      start = context.index(sentences[i]) + sentences[i].index(city)
      qas.append({"id": f"{prefix}{p}-{i}",
                  "question": QUESTION[lang].format(n=name),
                  "answers": [{"text": city, "answer_start": start}]})
    paragraphs.append({"context": context, "qas": qas})
  return json.dumps({"version": "1.1",
                     "data": [{"title": "t", "paragraphs": paragraphs}]})


def _bucc(facts, prefix):
  de = "".join(f"de-{prefix}{i}\t{LIVES['de'].format(n=n, c=c)}\n"
               for i, (n, c) in enumerate(facts))
  en = "".join(f"en-{prefix}{i}\t{LIVES['en'].format(n=n, c=c)}\n"
               for i, (n, c) in enumerate(facts))
  en += f"en-{prefix}x\tnoise sentence without a pair .\n"
  gold = "".join(f"de-{prefix}{i}\ten-{prefix}{i}\n"
                 for i in range(0, len(facts), 2))
  return de, en, gold


def _cosmosqa(rng, facts, prefix):
  """Cosmos QA CSV: 'where does <name> live?', four cities, one right."""
  rows = ["id,context,question,answer0,answer1,answer2,answer3,label"]
  for i, (name, city) in enumerate(facts):
    others = rng.sample([c for c in CITIES if c != city], 3)
    label = i % 4
    choices = others[:label] + [city] + others[label:]
    rows.append(f"{prefix}{i},{LIVES['en'].format(n=name, c=city)},"
                f"{QUESTION['en'].format(n=name)},{','.join(choices)},"
                f"{label}")
  return "\r\n".join(rows) + "\r\n"


def write(root: pathlib.Path, seed: int = 0) -> dict[str, str]:
  """Every file, and the SentencePiece model; returns gin macros."""
  rng = random.Random(seed)
  dirs: dict[str, str] = {}
  for lang in ("en", "de"):
    for split, n in (("train", 32), ("dev", 8), ("test", 8)):
      _put(root, "PANX_DATA_DIR", f"{lang}-{split}",
           _panx(lang, _facts(rng, n)), dirs)
    treebank = {"en": "UD_English-EWT/en_ewt", "de": "UD_German-GSD/de_gsd"}
    for split, n in (("train", 32), ("dev", 8), ("test", 8)):
      _put(root, "UDPOS_DATA_DIR",
           f"ud-treebanks-v2.5/{treebank[lang]}-ud-{split}.conllu",
           _conllu(lang, _facts(rng, n)), dirs)
    for split, n in (("train", 32), ("dev_2k", 8), ("test_2k", 8)):
      if split == "train" and lang != "en":
        continue
      _put(root, "PAWSX_DATA_DIR", f"x-final/{lang}/{split}.tsv",
           _pawsx(lang, _facts(rng, n), rng), dirs)
  _put(root, "SQUAD_DATA_DIR", "train-v1.1.json", _squad("en", rng, 8, "t"),
       dirs)
  _put(root, "SQUAD_DATA_DIR", "dev-v1.1.json", _squad("en", rng, 2, "d"),
       dirs)
  _put(root, "XQUAD_DATA_DIR", "xquad.de.json", _squad("de", rng, 3, "x"),
       dirs)
  for split, n in (("train.csv", 32), ("valid.csv", 8)):
    _put(root, "COSMOSQA_DATA_DIR", split,
         _cosmosqa(rng, _facts(rng, n), split[0]), dirs)
  facts = _facts(rng, 12)
  _put(root, "TATOEBA_DATA_DIR", "tatoeba.deu-eng.deu", "".join(
      LIVES["de"].format(n=n, c=c) + "\n" for n, c in facts), dirs)
  _put(root, "TATOEBA_DATA_DIR", "tatoeba.deu-eng.eng", "".join(
      LIVES["en"].format(n=n, c=c) + "\n" for n, c in facts), dirs)
  for split, prefix in (("sample", "s"), ("training", "t")):
    de, en, gold = _bucc(_facts(rng, 10), prefix)
    base = f"bucc2018/de-en/de-en.{split}"
    _put(root, "BUCC2018_DATA_DIR", f"{base}.de", de, dirs)
    _put(root, "BUCC2018_DATA_DIR", f"{base}.en", en, dirs)
    _put(root, "BUCC2018_DATA_DIR", f"{base}.gold", gold, dirs)
  texts = [line.split("\t")[-1] for path in root.rglob("*")
           if path.is_file() for line in path.read_text().splitlines()]
  texts += [LIVES[l].format(n=n, c=c) for l in LIVES for n in NAMES
            for c in CITIES]
  model = vocab.train_sentencepiece(texts * 2, str(root / "spm.model"), 200)
  return {"XLMR_VOCAB_PATH": model, "MT5_VOCAB_PATH": model, **dirs}


def bind(macros: dict[str, str]) -> None:
  """Binds the macros in gin (after clearing it)."""
  import gin
  gin.clear_config()
  gin.parse_config("\n".join(f"{k} = {v!r}" for k, v in macros.items()))


# ---- checks of what an evaluation wrote -------------------------------------

def official_scores(run_dir, split, task, lang):
  """score_task on the files the evaluator wrote, and those files."""
  root = os.path.join(run_dir, "predictions", "xtreme", split)
  fmt = submission.file_format(task)
  predictions = fmt.read_predictions(submission.task_file(
      os.path.join(root, "predictions"), task, lang))
  labels = fmt.read_labels(submission.task_file(
      os.path.join(root, "labels"), task, lang))
  return scorer.score_task(task, {lang: predictions}, {lang: labels}), labels


def check_scores(run_dir, name, split, metrics, official, lang):
  """results.json == the official dict; per-example means == metrics."""
  reported = {m: v[lang] for m, v in official.items() if isinstance(v, dict)}
  assert reported, official
  for metric, value in reported.items():
    assert metrics[metric] == pytest.approx(value, abs=1e-9), metric
  rows = read_example_scores(os.path.join(
      run_dir, "predictions", f"{name}.{split}.{SCORES_SUFFIX}"))
  for metric in reported:
    mean = np.mean([scores[metric] for _, scores in rows])
    assert mean == pytest.approx(metrics[metric], abs=1e-6), metric


def read_jsonl(run_dir, name, split):
  with open(os.path.join(run_dir, "predictions",
                         f"{name}.{split}.jsonl")) as f:
    return [json.loads(line) for line in f]
