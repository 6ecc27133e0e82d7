"""SentencePiece vocabularies: loaded from a path, or trained on the fly.

Real runs load the XLM-R / mT5 SentencePiece model from a local or `gs://`
path set in gin. The synthetic world has no released vocabulary, so one is
trained from its corpus the first time it is needed and cached on disk under a
name derived from the corpus' fingerprint. Training is single-threaded with
unshuffled input, so the same corpus always gives the same model.

Special ids follow seqio: pad=0, eos=1, unk=2. Encoder inputs also need
`<cls>` (sequence start / classification token), `<sep>` (between the two
segments of a pair) and `<mask>` (MLM): they are user-defined pieces.
"""

from __future__ import annotations

import io
import os
import tempfile
from typing import Callable, Iterable

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
