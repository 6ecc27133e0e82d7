"""SentencePiece vocabularies: loaded from a path, or trained on the fly.

Real runs load the XLM-R / mT5 SentencePiece model from a local or `gs://`
path set in gin. The synthetic world has no released vocabulary, so one is
trained from its corpus the first time it is needed and cached on disk under a
name derived from the corpus' fingerprint. Training is single-threaded with
unshuffled input, so the same corpus always gives the same model.

Special ids follow seqio: pad=0, eos=1, unk=2. Encoder inputs also need
`<cls>` (sequence start / classification token), `<sep>` (between the two
segments of a pair) and `<mask>` (MLM): they are user-defined pieces.

Released models whose paths are set in gin (`GinPathVocabulary`): tasks are
registered when `xferjax_tasks` is imported, before any gin file is parsed,
so the path is read from a gin macro when the model is first needed. XLM-R's
`sentencepiece.bpe.model` has no pad, `<cls>`, `<sep>` or `<mask>` piece and
its ids are shifted by fairseq; `XlmrVocabulary` applies that layout.
"""

from __future__ import annotations

import io
import os
import tempfile
from typing import Callable, Iterable

import gin
import numpy as np
import seqio
import sentencepiece as spm
import tensorflow as tf

from xferjax import errors

SPECIAL_PIECES = ("<cls>", "<sep>", "<mask>")


def default_cache_dir() -> str:
  return os.environ.get(
      "XFERJAX_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache",
                                        "xferjax"))


def train_sentencepiece(sentences: Iterable[str], model_path: str,
                        vocab_size: int, model_type: str = "unigram") -> str:
  """Trains a SentencePiece model and writes it atomically.

  `vocab_size` is a soft limit (a small corpus may support fewer pieces).
  """
  proto = io.BytesIO()
  spm.SentencePieceTrainer.train(
      sentence_iterator=iter(sentences),
      model_writer=proto,
      vocab_size=vocab_size,
      model_type=model_type,
      character_coverage=1.0,
      pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
      user_defined_symbols=list(SPECIAL_PIECES),
      hard_vocab_limit=False,
      shuffle_input_sentence=False,
      num_threads=1,
      minloglevel=2)
  directory = os.path.dirname(model_path)
  tf.io.gfile.makedirs(directory)
  # Write then rename: concurrent study cells never read a half-written model.
  fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
  with os.fdopen(fd, "wb") as f:
    f.write(proto.getvalue())
  os.replace(tmp, model_path)
  return model_path


class TrainedOnFirstUseVocabulary(seqio.SentencePieceVocabulary):
  """A SentencePiece vocabulary whose model file is built when first needed.

  Registering a task must stay cheap (`xferjax tasks list` must not train
  anything), so training is deferred to the first tokenisation.
  """

  def __init__(self, model_path: str,
               corpus_fn: Callable[[], Iterable[str]], vocab_size: int,
               model_type: str = "unigram"):
    super().__init__(model_path)
    self._corpus_fn = corpus_fn
    self._vocab_size_to_train = vocab_size
    self._model_type = model_type

  def _model_context(self):
    if not self._model and not tf.io.gfile.exists(
        self._sentencepiece_model_file):
      train_sentencepiece(self._corpus_fn(), self._sentencepiece_model_file,
                          self._vocab_size_to_train, self._model_type)
    return super()._model_context()

  def __getstate__(self):
    # Pickled into tf.data functions: the corpus closure does not travel,
    # the (by then existing) model file does.
    state = super().__getstate__()
    state["_corpus_fn"] = None
    return state


def special_ids(vocab: seqio.SentencePieceVocabulary) -> dict[str, int]:
  """Ids of pad/eos/cls/sep/mask; fails clearly if a piece is missing."""
  if isinstance(vocab, XlmrVocabulary) and vocab.is_fairseq_layout:
    return vocab.fairseq_special_ids()
  tokenizer = vocab.tokenizer
  ids = {"pad": 0, "eos": vocab.eos_id}
  for piece in SPECIAL_PIECES:
    piece_id = tokenizer.piece_to_id(piece)
    if piece_id == vocab.unk_id:
      raise errors.ConfigError(
          f"the SentencePiece model {vocab.sentencepiece_model_file} has no "
          f"{piece!r} piece, which encoder inputs need",
          "use a vocabulary trained with xferjax.data.vocab.train_sentencepiece"
          " or one that defines <cls>, <sep> and <mask>")
    ids[piece.strip("<>")] = piece_id
  return ids


# ------------------------------------------------- released vocabularies ---

XLMR_VOCAB_MACRO = "XLMR_VOCAB_PATH"
MT5_VOCAB_MACRO = "MT5_VOCAB_PATH"
MT5_DEFAULT_VOCAB_PATH = (
    "gs://t5-data/vocabs/mc4.250000.100extra/sentencepiece.model")
XLMR_DOWNLOAD = (
    "sentencepiece.bpe.model from https://huggingface.co/FacebookAI/"
    "xlm-roberta-large/tree/main (the same file serves XLM-R Base, Large, "
    "XL and XXL)")
MT5_DOWNLOAD = (
    f"{MT5_DEFAULT_VOCAB_PATH} (public; copy it with `gsutil cp` to use it "
    "offline)")


def gin_macro_value(name: str):
  """The value bound to gin macro `name`, or None when it is not set."""
  try:
    return gin.query_parameter(f"%{name}")
  except ValueError:
    return None


class GinPathVocabulary(seqio.SentencePieceVocabulary):
  """A SentencePiece model whose path is the gin macro `macro` (or default).

  The path is read each time the model is needed, so a later gin config (or
  another test) pointing elsewhere loads that model instead; loading is
  cached per path by seqio.
  """

  def __init__(self, macro: str, download: str, default: str | None = None,
               extra_ids: int = 0):
    super().__init__(default or "", extra_ids=extra_ids)
    self._macro = macro
    self._download = download
    self._default = default

  def resolve_path(self) -> str:
    path = gin_macro_value(self._macro) or self._default
    if not path:
      raise errors.ConfigError(
          f"no SentencePiece model is set for {self._macro}",
          f"download {self._download} and pass "
          f"--gin.{self._macro}=\"'/path/to/the.model'\" (local or gs://)")
    if not tf.io.gfile.exists(path):
      raise errors.DataError(
          f"SentencePiece model {path} (gin macro {self._macro}) not found",
          f"download {self._download} and point {self._macro} at it")
    return path

  def _model_context(self):
    path = self.resolve_path()
    if path != self._sentencepiece_model_file:
      self._sentencepiece_model_file = path
      self._model = None
    return super()._model_context()

  @property
  def sentencepiece_model_file(self) -> str:
    return self.resolve_path()


class XlmrVocabulary(GinPathVocabulary):
  """XLM-R's SentencePiece model in fairseq's id layout, with pad id 0.

  fairseq (and Hugging Face) give `<s>`=0, `<pad>`=1, `</s>`=2, `<unk>`=3,
  SentencePiece piece p the id p+1, and `<mask>` the last id (250001). Our
  converters pad with 0, so `<s>` and `<pad>` trade places: `<pad>`=0,
  `<s>`=1 (also `<cls>`), `</s>`=2 (also `<sep>` and eos), `<unk>`=3, pieces
  p+1, `<mask>` = pieces + 1. Checkpoint import swaps embedding rows 0 and 1
  (`hf_ids` maps our ids to Hugging Face's).

  A model trained by `train_sentencepiece` (it has `<cls>` pieces and pad 0)
  is used as it is, so tests and the synthetic world can stand in for XLM-R.
  """

  PAD, CLS, EOS, UNK = 0, 1, 2, 3

  def __init__(self, macro: str = XLMR_VOCAB_MACRO,
               download: str = XLMR_DOWNLOAD, default: str | None = None):
    super().__init__(macro, download, default)

  @property
  def is_fairseq_layout(self) -> bool:
    tokenizer = super().tokenizer
    return tokenizer.piece_to_id("<cls>") == tokenizer.unk_id()

  @property
  def _pieces(self) -> int:
    return super().tokenizer.GetPieceSize()

  @property
  def eos_id(self) -> int:
    return self.EOS if self.is_fairseq_layout else super().eos_id

  @property
  def unk_id(self) -> int:
    return self.UNK if self.is_fairseq_layout else super().unk_id

  @property
  def bos_id(self) -> int:
    return self.CLS if self.is_fairseq_layout else super().bos_id

  @property
  def _base_vocab_size(self) -> int:
    return self._pieces + (2 if self.is_fairseq_layout else 0)

  def fairseq_special_ids(self) -> dict[str, int]:
    return {"pad": self.PAD, "eos": self.EOS, "cls": self.CLS,
            "sep": self.EOS, "mask": self._pieces + 1}

  def hf_ids(self, ids):
    """Our ids -> Hugging Face / fairseq ids (`<s>` and `<pad>` swapped)."""
    ids = np.asarray(ids)
    return np.where(ids == self.PAD, self.CLS,
                    np.where(ids == self.CLS, self.PAD, ids))

  def from_spm_ids_tf(self, ids):
    """SentencePiece ids (TF, dense or ragged) -> our ids."""
    if not self.is_fairseq_layout:
      return ids
    shift = lambda x: tf.where(x == 0, self.UNK, x + 1)
    if isinstance(ids, tf.RaggedTensor):
      return ids.with_flat_values(shift(ids.flat_values))
    return shift(ids)

  def _encode(self, s):
    ids = super()._encode(s)
    if not self.is_fairseq_layout:
      return ids
    return [self.UNK if i == 0 else i + 1 for i in ids]

  def _decode(self, ids):
    if not self.is_fairseq_layout:
      return super()._decode(ids)
    pieces = self._pieces
    spm_ids = [0 if i == self.UNK else int(i) - 1 for i in ids
               if i == self.UNK or self.UNK < i <= pieces]
    return super().tokenizer.DecodeIds(spm_ids)

  def _encode_tf(self, s):
    return self.from_spm_ids_tf(super()._encode_tf(s))

  def _decode_tf(self, ids):
    if not self.is_fairseq_layout:
      return super()._decode_tf(ids)
    keep = tf.logical_or(tf.equal(ids, self.UNK),
                         tf.logical_and(ids > self.UNK, ids <= self._pieces))
    spm_ids = tf.where(tf.equal(ids, self.UNK), 0, ids - 1)
    return self.tf_tokenizer.detokenize(tf.ragged.boolean_mask(spm_ids, keep))


def xlmr_vocabulary() -> XlmrVocabulary:
  """The encoder tasks' vocabulary: XLM-R's model at gin XLMR_VOCAB_PATH."""
  return XlmrVocabulary()


def mt5_vocabulary() -> GinPathVocabulary:
  """The text-to-text tasks' vocabulary: mT5's model at gin MT5_VOCAB_PATH
  (default the public gs:// copy; its 100 extra ids are inside the model)."""
  return GinPathVocabulary(MT5_VOCAB_MACRO, MT5_DOWNLOAD,
                           default=MT5_DEFAULT_VOCAB_PATH)


def encode_tf_with_offsets(vocab: seqio.SentencePieceVocabulary, text):
  """(ids, byte starts, byte ends) of the pieces of a scalar string tensor.

  Offsets index the original (unnormalised) UTF-8 bytes, which is what lets
  span QA map token positions back to the exact characters of a context.
  """
  if not isinstance(vocab, seqio.SentencePieceVocabulary):
    raise errors.ConfigError(
        f"{type(vocab).__name__} cannot give token offsets",
        "span QA tasks need a SentencePiece vocabulary")
  ids, starts, ends = vocab.tf_tokenizer.tokenize_with_offsets(text)
  if isinstance(vocab, XlmrVocabulary):
    ids = vocab.from_spm_ids_tf(ids)
  return ids, starts, ends
