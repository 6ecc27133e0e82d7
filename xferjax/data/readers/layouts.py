"""Where each dataset's official files live, and where to get them.

One `DatasetLayout` per dataset that TFDS does not serve (or serves only with
a manual download). It knows the valid language codes, the file name pattern
of each split as the official release unpacks, and the download URL, so that
a missing file ends with a message saying exactly what to fetch and where to
put it, and an unknown language code ends with the list of valid ones.

Convention: a dataset's data directory (gin macro `<NAME>_DATA_DIR`, e.g.
`XQUAD_DATA_DIR`) is the folder the files were downloaded into; archives are
extracted there as they unpack (so UD files sit under
`<dir>/ud-treebanks-v2.5/UD_*/`). It may be local or gs://.

Layouts describe the *original* releases. XTREME's download script rewrites
some files (it blanks the gold answers of XQuAD/MLQA/TyDiQA evaluation files
and sorts Tatoeba's English side, breaking the alignment): do not point these
readers at XTREME's `download/` folder except for PAN-X and BUCC, whose
XTREME file names are accepted as an alternative.
"""

import dataclasses
from typing import Mapping

from xferjax.data.readers import common
from xferjax.errors import ConfigError, DataError

# A split's files: alternatives tried in order; the first whose every pattern
# matches wins. Patterns use str.format fields and may contain glob wildcards.
Alternatives = tuple[tuple[str, ...], ...]

XQUAD_LANGUAGES = ("ar", "de", "el", "en", "es", "hi", "ru", "th",
                   "tr", "vi", "zh")
MLQA_LANGUAGES = ("ar", "de", "en", "es", "hi", "vi", "zh")

TYDIQA_LANGUAGE_NAMES = {
    "ar": "arabic", "bn": "bengali", "en": "english", "fi": "finnish",
    "id": "indonesian", "ko": "korean", "ru": "russian", "sw": "swahili",
    "te": "telugu",
}

# XTREME's 33 UD-POS languages (UD v2.5) with their UD language names.
# Language -> treebanks follows XTREME's rule: every v2.5 treebank whose file
# name starts with the code (`<code>_<treebank>-ud-<split>.conllu`), i.e. for
# en every UD_English-* treebank of the release, read in folder-name order.
# Matching the file prefix, not the folder name, keeps out UD_Swiss_German
# (gsw), UD_Classical_Chinese (lzh) or UD_Hindi_English (qhe).
UD_LANGUAGE_NAMES = {
    "af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "de": "German",
    "el": "Greek", "en": "English", "es": "Spanish", "et": "Estonian",
    "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French",
    "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian",
    "it": "Italian", "ja": "Japanese", "kk": "Kazakh", "ko": "Korean",
    "mr": "Marathi", "nl": "Dutch", "pt": "Portuguese", "ru": "Russian",
    "ta": "Tamil", "te": "Telugu", "th": "Thai", "tl": "Tagalog",
    "tr": "Turkish", "ur": "Urdu", "vi": "Vietnamese", "yo": "Yoruba",
    "zh": "Chinese",
}

PANX_LANGUAGES = (
    "af", "ar", "bg", "bn", "de", "el", "en", "es", "et", "eu", "fa", "fi",
    "fr", "he", "hi", "hu", "id", "it", "ja", "jv", "ka", "kk", "ko", "ml",
    "mr", "ms", "my", "nl", "pt", "ru", "sw", "ta", "te", "th", "tl", "tr",
    "ur", "vi", "yo", "zh")

# Tatoeba (LASER) names files by ISO 639-3 code; XTREME uses 2-letter codes.
TATOEBA_ISO3 = {
    "af": "afr", "ar": "ara", "bg": "bul", "bn": "ben", "de": "deu",
    "el": "ell", "es": "spa", "et": "est", "eu": "eus", "fa": "pes",
    "fi": "fin", "fr": "fra", "he": "heb", "hi": "hin", "hu": "hun",
    "id": "ind", "it": "ita", "ja": "jpn", "jv": "jav", "ka": "kat",
    "kk": "kaz", "ko": "kor", "ml": "mal", "mr": "mar", "nl": "nld",
    "pt": "por", "ru": "rus", "sw": "swh", "ta": "tam", "te": "tel",
    "th": "tha", "tl": "tgl", "tr": "tur", "ur": "urd", "vi": "vie",
    "zh": "cmn",
}

BUCC_LANGUAGES = ("de", "fr", "ru", "zh")
XNLI_LANGUAGES = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw",
                  "th", "tr", "ur", "vi", "zh")
PAWSX_LANGUAGES = ("de", "en", "es", "fr", "ja", "ko", "zh")

# CCGbank's standard split: WSJ sections 02-21 train, 00 dev, 23 test.
CCGBANK_SECTIONS = {
    "train": tuple(range(2, 22)), "validation": (0,), "test": (23,)}


@dataclasses.dataclass(frozen=True)
class DatasetLayout:
  """Official file layout of one dataset, plus how to obtain it."""

  name: str
  title: str
  languages: tuple[str, ...]
  files: Mapping[str, Alternatives]
  download: str
  setup: str
  extra_languages: tuple[str, ...] = ()
  language_fields: Mapping[str, Mapping[str, str]] = dataclasses.field(
      default_factory=dict)
  split_fields: Mapping[str, Mapping[str, str]] = dataclasses.field(
      default_factory=dict)
  manual: bool = False

  @property
  def gin_macro(self) -> str:
    return f"{self.name.upper()}_DATA_DIR"

  @property
  def valid_languages(self) -> tuple[str, ...]:
    return self.languages + self.extra_languages

  @property
  def splits(self) -> tuple[str, ...]:
    return tuple(self.files)

  def check_language(self, language: str | None) -> str:
    """Returns the language code; None is fine for one-language datasets."""
    if language is None and len(self.languages) == 1:
      return self.languages[0]
    if language not in self.valid_languages:
      extra = (f" (also accepted, outside XTREME: "
               f"{', '.join(self.extra_languages)})"
               if self.extra_languages else "")
      raise ConfigError(
          f"unknown language {language!r} for {self.title}; valid codes: "
          f"{', '.join(self.languages)}{extra}",
          fix="Use one of the listed ISO 639-1 codes (as in XTREME).")
    return language

  def check_split(self, split: str) -> str:
    if split not in self.files:
      raise ConfigError(
          f"{self.title} has no split {split!r}; available: "
          f"{', '.join(self.files)}",
          fix="Use one of the listed split names.")
    return split

  def resolve(self, data_dir: str, split: str, language: str | None = None,
              **fields: str) -> list[str]:
    """Paths of `split` for `language` under `data_dir`; DataError if absent.

    Extra `fields` fill further pattern placeholders (e.g. MLQA's
    `context_lang`); those ending in `_lang` are checked like `language`.
    """
    if not data_dir:
      raise ConfigError(f"no data directory given for {self.title}",
                        fix=f"Set the gin macro {self.gin_macro}. "
                        + self.fix("<unset>"))
    self.check_split(split)
    language = self.check_language(language)
    for key, value in fields.items():
      if key.endswith("_lang"):
        self.check_language(value)
    values = {"lang": language, **self.language_fields.get(language, {}),
              **self.split_fields.get(split, {}), **fields}
    tried = []
    for alternative in self.files[split]:
      patterns = [common.join(data_dir, p.format(**values))
                  for p in alternative]
      matches = [common.glob(p) if _is_glob(p) else
                 ([p] if common.exists(p) else []) for p in patterns]
      if all(matches):
        return [path for group in matches for path in group]
      tried.append(" + ".join(patterns))
    missing_dir = "" if common.exists(data_dir) else (
        f" (the directory {data_dir!r} does not exist)")
    raise DataError(
        f"{self.title} {split} data for {language!r} not found{missing_dir}; "
        "looked for " + " or ".join(tried), fix=self.fix(data_dir))

  def fix(self, data_dir: str) -> str:
    how = "Request and download" if self.manual else "Download"
    return (f"{how} {self.title} from {self.download}. {self.setup} Put it in "
            f"the directory set by the gin macro {self.gin_macro} (now "
            f"{data_dir!r}).")


def _is_glob(pattern: str) -> bool:
  return any(c in pattern for c in "*?[")


def _one(*patterns: str) -> Alternatives:
  return (tuple(patterns),)


def _ccgbank_sections(split: str) -> Alternatives:
  return (tuple(f"ccgbank_1_1/data/AUTO/{s:02d}/wsj_{s:02d}*.auto"
                for s in CCGBANK_SECTIONS[split]),)


_LAYOUT_LIST = (
    DatasetLayout(
        name="squad", title="SQuAD v1.1", languages=("en",),
        files={"train": _one("train-v1.1.json"),
               "validation": _one("dev-v1.1.json")},
        download="https://rajpurkar.github.io/SQuAD-explorer/ (files "
        "https://rajpurkar.github.io/SQuAD-explorer/dataset/train-v1.1.json "
        "and dev-v1.1.json)",
        setup="Keep the file names train-v1.1.json and dev-v1.1.json."),
    DatasetLayout(
        name="squad_v2", title="SQuAD v2.0", languages=("en",),
        files={"train": _one("train-v2.0.json"),
               "validation": _one("dev-v2.0.json")},
        download="https://rajpurkar.github.io/SQuAD-explorer/ (files "
        "https://rajpurkar.github.io/SQuAD-explorer/dataset/train-v2.0.json "
        "and dev-v2.0.json)",
        setup="Keep the file names train-v2.0.json and dev-v2.0.json."),
    DatasetLayout(
        name="xquad", title="XQuAD", languages=XQUAD_LANGUAGES,
        extra_languages=("ro",),
        files={"test": _one("xquad.{lang}.json")},
        download="https://github.com/deepmind/xquad (raw files "
        "https://raw.githubusercontent.com/deepmind/xquad/master/"
        "xquad.<lang>.json)",
        setup="Keep the names xquad.<lang>.json."),
    DatasetLayout(
        name="mlqa", title="MLQA", languages=MLQA_LANGUAGES,
        files={"validation": _one("MLQA_V1/dev/dev-context-{context_lang}-"
                                  "question-{question_lang}.json"),
               "test": _one("MLQA_V1/test/test-context-{context_lang}-"
                            "question-{question_lang}.json")},
        download="https://dl.fbaipublicfiles.com/MLQA/MLQA_V1.zip",
        setup="Unzip it there (it creates MLQA_V1/dev and MLQA_V1/test)."),
    DatasetLayout(
        name="tydiqa_goldp", title="TyDiQA-GoldP v1.1",
        languages=tuple(TYDIQA_LANGUAGE_NAMES),
        language_fields={k: {"lang_name": v}
                         for k, v in TYDIQA_LANGUAGE_NAMES.items()},
        files={"train": _one("tydiqa-goldp-v1.1-train.json"),
               "validation": _one("tydiqa-goldp-v1.1-dev/"
                                  "tydiqa-goldp-dev-{lang_name}.json")},
        download="https://storage.googleapis.com/tydiqa/v1.1/"
        "tydiqa-goldp-v1.1-train.json and https://storage.googleapis.com/"
        "tydiqa/v1.1/tydiqa-goldp-v1.1-dev.tgz",
        setup="Extract the dev .tgz there (it creates tydiqa-goldp-v1.1-dev/)."
        " The train file holds all languages; ids start with the language "
        "name."),
    DatasetLayout(
        name="udpos", title="Universal Dependencies v2.5 (UD-POS)",
        languages=tuple(UD_LANGUAGE_NAMES),
        split_fields={"validation": {"file_split": "dev"},
                      "train": {"file_split": "train"},
                      "test": {"file_split": "test"}},
        files={split: _one("ud-treebanks-v2.5/UD_*/"
                           "{lang}_*-ud-{file_split}.conllu")
               for split in ("train", "validation", "test")},
        download="https://lindat.mff.cuni.cz/repository/xmlui/bitstream/"
        "handle/11234/1-3105/ud-treebanks-v2.5.tgz",
        setup="Extract it there (it creates ud-treebanks-v2.5/UD_*/). Some "
        "languages lack splits in v2.5 (th, tl, yo: test only; kk: no dev)."),
    DatasetLayout(
        name="panx", title="PAN-X (WikiAnn, XTREME split)",
        languages=PANX_LANGUAGES, manual=True,
        split_fields={"validation": {"file_split": "dev"},
                      "train": {"file_split": "train"},
                      "test": {"file_split": "test"}},
        files={split: (("{lang}-{file_split}",),
                       ("{file_split}-{lang}.tsv",))
               for split in ("train", "validation", "test")},
        download="the AmazonPhotos.zip share linked in XTREME's README "
        "(https://www.amazon.com/clouddrive/share/"
        "d3KGCRCIYwhKJF0H3eWA26hjg2ZCRhjpEQtDL70FSBN; manual download)",
        setup="Unzip it; for each language run `tar xzf <lang>.tar.gz` and "
        "rename the extracted train/dev/test files to <lang>-train, "
        "<lang>-dev, <lang>-test (XTREME's utils_preprocess.py output "
        "train-<lang>.tsv etc. is also accepted, but its test files have no "
        "tags)."),
    DatasetLayout(
        name="tatoeba", title="Tatoeba (LASER v1)",
        languages=tuple(TATOEBA_ISO3),
        language_fields={k: {"lang3": v} for k, v in TATOEBA_ISO3.items()},
        files={"test": _one("tatoeba.{lang3}-eng.{lang3}",
                            "tatoeba.{lang3}-eng.eng")},
        download="https://github.com/facebookresearch/LASER/tree/main/data/"
        "tatoeba/v1",
        setup="Copy the tatoeba.<xxx>-eng.<xxx> and .eng files as they are "
        "(not XTREME's copies, whose English side is sorted)."),
    DatasetLayout(
        name="bucc2018", title="BUCC 2018", languages=BUCC_LANGUAGES,
        split_fields={"validation": {"bucc_split": "sample",
                                     "xtreme_split": "dev"},
                      "test": {"bucc_split": "training",
                               "xtreme_split": "test"}},
        files={split: (("bucc2018/{lang}-en/{lang}-en.{bucc_split}.{side}",),
                       ("{lang}-en.{xtreme_split}.{side}",))
               for split in ("validation", "test")},
        download="https://comparable.limsi.fr/bucc2018/ (files "
        "bucc2018-<lang>-en.sample-gold.tar.bz2 and "
        "bucc2018-<lang>-en.training-gold.tar.bz2)",
        setup="Extract both there (they create bucc2018/<lang>-en/). As in "
        "XTREME, 'sample' is the validation split and 'training' the test "
        "split."),
    DatasetLayout(
        name="xnli", title="XNLI 1.0", languages=XNLI_LANGUAGES,
        files={"train": _one("XNLI-MT-1.0/multinli/multinli.train.{lang}.tsv"),
               "validation": _one("XNLI-1.0/xnli.dev.tsv"),
               "test": _one("XNLI-1.0/xnli.test.tsv")},
        download="https://dl.fbaipublicfiles.com/XNLI/XNLI-1.0.zip and "
        "https://dl.fbaipublicfiles.com/XNLI/XNLI-MT-1.0.zip",
        setup="Unzip both there (they create XNLI-1.0/ and XNLI-MT-1.0/)."),
    DatasetLayout(
        name="pawsx", title="PAWS-X", languages=PAWSX_LANGUAGES,
        files={"train": (("x-final/{lang}/train.tsv",),
                         ("x-final/{lang}/translated_train.tsv",)),
               "validation": _one("x-final/{lang}/dev_2k.tsv"),
               "test": _one("x-final/{lang}/test_2k.tsv")},
        download="https://storage.googleapis.com/paws/pawsx/x-final.tar.gz",
        setup="Extract it there (it creates x-final/<lang>/)."),
    DatasetLayout(
        name="cosmosqa", title="Cosmos QA", languages=("en",),
        files={"train": _one("train.csv"), "validation": _one("valid.csv")},
        download="https://github.com/wilburOne/cosmosqa/tree/master/data",
        setup="Keep the names train.csv and valid.csv (the test split has no "
        "public labels)."),
    DatasetLayout(
        name="commonsenseqa", title="CommonsenseQA 1.11", languages=("en",),
        files={"train": _one("train_rand_split.jsonl"),
               "validation": _one("dev_rand_split.jsonl"),
               "test": _one("test_rand_split_no_answers.jsonl")},
        download="https://s3.amazonaws.com/commensenseqa/ (files "
        "train_rand_split.jsonl, dev_rand_split.jsonl, "
        "test_rand_split_no_answers.jsonl)",
        setup="Keep the file names."),
    DatasetLayout(
        name="ccgbank", title="CCGbank 1.1 (LDC2005T13)", languages=("en",),
        manual=True,
        files={split: _ccgbank_sections(split) for split in CCGBANK_SECTIONS},
        download="the LDC catalogue, https://catalog.ldc.upenn.edu/LDC2005T13 "
        "(LDC licence required)",
        setup="Extract it there (it creates ccgbank_1_1/data/AUTO/00..24/)."),
)

LAYOUTS: Mapping[str, DatasetLayout] = {l.name: l for l in _LAYOUT_LIST}


def get_layout(name: str) -> DatasetLayout:
  if name not in LAYOUTS:
    raise ConfigError(f"no file layout for dataset {name!r}; known: "
                      f"{', '.join(LAYOUTS)}",
                      fix="Use one of the listed dataset names.")
  return LAYOUTS[name]
