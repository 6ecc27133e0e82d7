"""Shared fixtures for the task-registry tests: no network, no download.

- a small SentencePiece model trained on the fly (stands in for XLM-R's and
  mT5's; it has <cls>/<sep>/<mask> and pad 0);
- files in the official formats for datasets read from files (generated
  here), plus `../shared/realdata` slices where present;
- `tfds.testing.mock_data` whose `as_dataset_fn` serves examples with each
  builder's structure (valid answer offsets, real label ranges).
"""

import json
import pathlib

import gin
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import xferjax_tasks  # noqa: F401  (registers every task)
from xferjax.data import vocab

REALDATA = pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / (
    "realdata")
HAS_REAL = (REALDATA / "xquad").is_dir()
needs_real = pytest.mark.skipif(not HAS_REAL,
                                reason=f"no real data slices at {REALDATA}")

CONTEXT = ("The Panthers defense gave up just 308 points, ranking sixth in "
           "the league. Thomas Davis and Luke Kuechly were selected to the "
           "Pro Bowl.")
WORDS = ["Rick", "and", "Morty", "live", "in", "Seattle", "."]
CORPUS = [CONTEXT, " ".join(WORDS), "question answer premise hypothesis",
          "ein Satz auf Deutsch", "这是一个中文句子", "paraphrase entailment"]


def _real_texts():
  texts = []
  for lang in ("en", "zh", "de"):
    path = REALDATA / "xquad" / f"xquad.{lang}.json"
    if path.exists():
      for article in json.loads(path.read_text())["data"]:
        for paragraph in article["paragraphs"]:
          texts.append(paragraph["context"])
          texts += [q["question"] for q in paragraph["qas"]]
  return texts


# ------------------------------------------------------ official files ---

def _ccg_leaf(tag, word):
  return f"(<L {tag} NN NN {word} {tag}>)"


def write_files(root: pathlib.Path) -> dict[str, str]:
  """Small files in each official layout; returns gin macro -> directory."""
  dirs = {}

  def put(macro, rel, text):
    path = root / macro / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    dirs[macro] = str(root / macro)

  # CCGbank: sections 02-21 train (tags seen 3x, 2x, 1x), 00 dev, 23 test.
  sentences = [[("N/N", "big"), ("N", "dog")], [("N/N", "old"), ("N", "cat")],
               [("N/N", "red"), ("N", "car"), ("S\\NP", "runs")]]
  auto = "".join(
      f"ID=wsj_0201.{i} PARSER=GOLD NUMPARSE=1\n(<T S 0 2> "
      + " ".join(_ccg_leaf(t, w) for t, w in s) + " )\n"
      for i, s in enumerate(sentences))
  for section in ["00", "23"] + [f"{s:02d}" for s in range(2, 22)]:
    put("CCGBANK_DATA_DIR",
        f"ccgbank_1_1/data/AUTO/{section}/wsj_{section}01.auto", auto)
  # CommonsenseQA: JSON lines, 5 choices.
  line = lambda i, key: json.dumps({
      "id": f"q{i}", "answerKey": key, "question": {
          "stem": f"Where do dogs live {i}?", "choices": [
              {"label": l, "text": f"place {l}"} for l in "ABCDE"]}})
  for name in ("train_rand_split.jsonl", "dev_rand_split.jsonl"):
    put("COMMONSENSEQA_DATA_DIR", name,
        "\n".join(line(i, "ABCDE"[i % 5]) for i in range(6)) + "\n")
  # PAN-X: `lang:token<TAB>tag`, blank line between sentences.
  tags = ["B-PER", "O", "B-PER", "O", "O", "B-LOC", "O"]
  panx = "".join("".join(f"{{lang}}:{w}\t{t}\n" for w, t in zip(WORDS, tags))
                 + "\n" for _ in range(3))
  for lang in ("en", "de", "zh"):
    for split in ("train", "dev", "test"):
      put("PANX_DATA_DIR", f"{lang}-{split}", panx.format(lang=lang))
  # UD v2.5 CoNLL-U (a treebank with a train split, which the slices lack).
  upos = ["PROPN", "CCONJ", "PROPN", "VERB", "ADP", "PROPN", "PUNCT"]
  conllu = "".join(
      f"# sent_id = s{k}\n# text = {' '.join(WORDS)}\n" + "".join(
          f"{i + 1}\t{w}\t{w}\t{u}\t_\t_\t0\tdep\t_\t_\n"
          for i, (w, u) in enumerate(zip(WORDS, upos))) + "\n"
      for k in range(4))
  for split in ("train", "dev", "test"):
    put("UDPOS_DATA_DIR",
        f"ud-treebanks-v2.5/UD_Afrikaans-AfriBooms/af_afribooms-ud-{split}"
        ".conllu", conllu)
  # BUCC 2018: `id<TAB>sentence` per side, gold pairs.
  for split in ("sample", "training"):
    base = f"bucc2018/de-en/de-en.{split}"
    put("BUCC2018_DATA_DIR", f"{base}.de",
        "de-1\tein Satz\nde-2\tnoch ein Satz\n")
    put("BUCC2018_DATA_DIR", f"{base}.en",
        "en-1\ta sentence\nen-2\tanother sentence\nen-3\tnoise\n")
    put("BUCC2018_DATA_DIR", f"{base}.gold", "de-1\ten-1\nde-2\ten-2\n")
  # MLQA: SQuAD JSON per (context, question) language pair.
  mlqa = json.dumps({"data": [{"title": "t", "paragraphs": [{
      "context": CONTEXT, "qas": [{
          "id": f"m{i}", "question": "How many points?",
          "answers": [{"text": "308", "answer_start": CONTEXT.index("308")}]}
          for i in range(3)]}]}]})
  for split in ("dev", "test"):
    put("MLQA_DATA_DIR",
        f"MLQA_V1/{split}/{split}-context-de-question-en.json", mlqa)
  return dirs


@pytest.fixture(scope="session")
def env(tmp_path_factory):
  """Paths of the vocabulary and of every dataset's files, as gin macros."""
  root = tmp_path_factory.mktemp("tasks")
  model = vocab.train_sentencepiece(CORPUS * 3 + _real_texts(),
                                    str(root / "spm.model"), 1200)
  macros = {"XLMR_VOCAB_PATH": model, "MT5_VOCAB_PATH": model,
            **write_files(root / "files")}
  if HAS_REAL:
    macros.update(XQUAD_DATA_DIR=str(REALDATA / "xquad"),
                  TATOEBA_DATA_DIR=str(REALDATA / "tatoeba" / "v1"),
                  COSMOSQA_DATA_DIR=str(REALDATA / "cosmosqa" / "data"))
  return macros


@pytest.fixture(autouse=True)
def bind_macros(env):
  """Rebinds the macros for each test (other tests may clear gin)."""
  gin.clear_config()
  gin.parse_config("\n".join(f"{k} = {v!r}" for k, v in env.items()))
  yield
  gin.clear_config()


# ------------------------------------------------------------ TFDS mock ---

def _squad(n, impossible=False):
  for i in range(n):
    start = CONTEXT.index("308")
    yield {"id": f"s{i}", "title": "Super_Bowl", "context": CONTEXT,
           "question": f"How many points, question {i}?",
           "answers": {"text": [] if impossible and i % 2 else ["308"],
                       "answer_start": [] if impossible and i % 2
                       else [start]},
           "is_impossible": bool(impossible and i % 2),
           "plausible_answers": {"text": [], "answer_start": []}}


def _examples(name, config, split, n=6):
  """Examples with the structure of TFDS builder `name/config`."""
  pair = lambda a, b, classes: [{a: f"first sentence {i}",
                                 b: f"second sentence {i}",
                                 "label": i % classes} for i in range(n)]
  if name in ("glue", "multi_nli", "snli") and config != "qqp":
    rows = pair("premise", "hypothesis", 3)
    if name == "snli":
      rows[0]["label"] = -1  # No gold label: dropped.
    return rows
  if config == "qqp":
    return pair("question1", "question2", 2)
  if name == "anli":
    return [{"uid": str(i), **r} for i, r in enumerate(
        pair("context", "hypothesis", 3))]
  if name == "paws_x_wiki":
    return pair("sentence1", "sentence2", 2)
  if name == "xnli":
    langs = sorted(["ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru",
                    "sw", "th", "tr", "ur", "vi", "zh"])
    return [{"premise": {l: f"premise {l} {i}" for l in langs},
             "hypothesis": {"language": langs,
                            "translation": [f"hypothesis {l} {i}"
                                            for l in langs]},
             "label": i % 3} for i in range(n)]
  if name in ("squad", "xquad", "mlqa"):
    return list(_squad(n, impossible=config == "v2.0"))
  if name == "tydi_qa":
    rows = list(_squad(n))
    for i, r in enumerate(rows):
      r["id"] = ("arabic-" if i % 2 else "english-") + r["id"]
    return rows
  if name == "hellaswag":
    return [{"context": f"A man {i}", "endings": [f"end {j}" for j in
                                                  range(4)],
             "label": i % 4, "activity_label": "x", "source_id": "y",
             "split_type": "z"} for i in range(n)]
  if name == "cosmos_qa":
    return [{"id": str(i), "context": "ctx", "question": f"why {i}?",
             **{f"answer{j}": f"because {j}" for j in range(4)},
             "label": i % 4} for i in range(n)]
  raise KeyError(f"no mock examples for TFDS {name}/{config}")


def _dataset(rows):
  first = rows[0]

  def spec(v):
    if isinstance(v, dict):
      return {k: spec(x) for k, x in v.items()}
    if isinstance(v, list):
      return tf.TensorSpec([None], tf.string if not v or isinstance(
          v[0], str) else tf.int32)
    if isinstance(v, bool):
      return tf.TensorSpec([], tf.bool)
    return tf.TensorSpec([], tf.string if isinstance(v, str) else tf.int64)

  signature = spec(first)
  if "answers" in signature:
    signature["answers"]["answer_start"] = tf.TensorSpec([None], tf.int32)
    signature["plausible_answers"] = {
        "text": tf.TensorSpec([None], tf.string),
        "answer_start": tf.TensorSpec([None], tf.int32)}
  return tf.data.Dataset.from_generator(lambda: iter(rows),
                                        output_signature=signature)


@pytest.fixture
def tfds_mock():
  """Serves `_examples` for every TFDS builder the tasks use."""

  def as_dataset(builder, split, **kwargs):
    del kwargs
    config = builder.builder_config.name if builder.builder_config else None
    return _dataset(_examples(builder.name, config, split))

  with tfds.testing.mock_data(as_dataset_fn=as_dataset):
    yield
