"""Tiny random Hugging Face checkpoints made offline, built once per session.

(Not a conftest.py: `from conftest import ...` must keep meaning
tests/conftest.py.) Every builder is cached, so the torch import, the model
construction and each conversion happen once however many test modules
use them. Shapes are those of the shipped tiny presets (tiny_xlmr,
tiny_xlmr_xl, tiny_mt5), so a conversion picks those presets' knobs: the
XL-style model is stored scanned, as tiny_xlmr_xl trains it.
"""

import atexit
import functools
import io
import os
import shutil
import tempfile

import numpy as np
import pytest

ROOT = tempfile.mkdtemp(prefix="xferjax-convert-test-")
atexit.register(shutil.rmtree, ROOT, ignore_errors=True)
# Latin, Cyrillic, CJK, Arabic, Devanagari, Greek, Japanese, digits.
MIXED_TEXT = [
    "Hello world, this is a test of 42 things.",
    "Привет мир, это тест номер 7.",
    "你好世界，这是一个测试。",
    "مرحبا بالعالم، هذا اختبار",
    "नमस्ते दुनिया, यह एक परीक्षण है",
    "Γειά σου κόσμε, αυτό είναι ένα τεστ",
    "こんにちは世界、これはテストです",
]
# Text the models were not trained on: unknown characters and mixed lines.
PROBE_TEXT = ["Hello мир 你好 κόσμε ✓ 2024!", "tést Привет—こんにちは",
              "نص مع English و 123", "ok"]
SMALL = dict(vocab_size=256, hidden_size=32, num_hidden_layers=2,
             num_attention_heads=4, intermediate_size=64,
             max_position_embeddings=34, type_vocab_size=1,
             layer_norm_eps=1e-5)
XLMR_BLOCK_BYTES = 1024  # forces the row-block path on tiny embeddings


def require_convert_extra() -> None:
  """torch and transformers (the `convert` extra, which `make test`
  installs): skip without them on a developer's machine, fail in CI, where
  a missing extra must not pass as skipped tests."""
  for module in ("torch", "transformers"):
    if os.environ.get("CI"):
      __import__(module)
    else:
      pytest.importorskip(module)


def path(*parts) -> str:
  return os.path.join(ROOT, *parts)


@functools.lru_cache(None)
def xlmr_sentencepiece() -> str:
  """A SentencePiece model in XLM-R's own layout (<unk>=0, <s>=1, </s>=2, no
  pad, no <cls>): `XlmrVocabulary` turns it into fairseq ids, as it does
  the released sentencepiece.bpe.model. (`train_sentencepiece` makes our
  pad-0 layout instead, which the mT5 fixture uses.)"""
  import sentencepiece as spm
  proto = io.BytesIO()
  spm.SentencePieceTrainer.train(
      sentence_iterator=iter(MIXED_TEXT * 20), model_writer=proto,
      vocab_size=200, model_type="unigram", character_coverage=1.0,
      unk_id=0, bos_id=1, eos_id=2, pad_id=-1, hard_vocab_limit=False,
      num_threads=1, minloglevel=2, shuffle_input_sentence=False)
  out = path("xlmr_sentencepiece.model")
  with open(out, "wb") as f:
    f.write(proto.getvalue())
  return out


@functools.lru_cache(None)
def mt5_sentencepiece() -> str:
  from xferjax.data.vocab import train_sentencepiece
  return train_sentencepiece(MIXED_TEXT * 20, path("mt5_spiece.model"), 200)


def _randomise(model, seed: int) -> None:
  """Moves every parameter off its initial value (norm scales of 1 and zero
  biases would hide a mapping error)."""
  import torch
  gen = torch.Generator().manual_seed(seed)
  with torch.no_grad():
    for _, p in sorted(model.named_parameters()):
      p.add_(torch.randn(p.shape, generator=gen) * 0.1)


def _save(model, name: str, vocab: str, vocab_file: str) -> str:
  import shutil
  out = path("hf", name)
  model.save_pretrained(out)
  shutil.copyfile(vocab, os.path.join(out, vocab_file))
  return out


@functools.lru_cache(None)
def hf_dir(kind: str) -> str:
  """A saved tiny HF model: 'xlmr' (post-LN MLM), 'xlmr_xl' (pre-LN MLM),
  'mt5' (untied lm_head, as the released mT5), 'xlmr_base_model'
  (XLMRobertaModel: pooler, no MLM head)."""
  import torch
  import transformers as tf
  torch.manual_seed(0)
  if kind in ("xlmr", "xlmr_base_model"):
    cls = (tf.XLMRobertaForMaskedLM if kind == "xlmr" else
           tf.XLMRobertaModel)
    model = cls(tf.XLMRobertaConfig(**SMALL))
  elif kind == "xlmr_xl":
    model = tf.XLMRobertaXLForMaskedLM(tf.XLMRobertaXLConfig(**SMALL))
  elif kind == "mt5":
    model = tf.MT5ForConditionalGeneration(tf.MT5Config(
        vocab_size=256, d_model=32, d_kv=8, d_ff=64, num_layers=2,
        num_decoder_layers=2, num_heads=4))
  else:
    raise ValueError(kind)
  _randomise(model, seed=len(kind))
  if kind == "mt5":
    out = _save(model, kind, mt5_sentencepiece(), "spiece.model")
    untie_lm_head(out)
    return out
  return _save(model, kind, xlmr_sentencepiece(), "sentencepiece.bpe.model")


def untie_lm_head(model_dir: str) -> None:
  """Gives the mT5 checkpoint its own lm_head.weight (released mT5 is
  untied; transformers 5 saves a tied one only as shared.weight)."""
  from safetensors.numpy import load_file, save_file
  file = os.path.join(model_dir, "model.safetensors")
  weights = load_file(file)
  rng = np.random.default_rng(1)
  weights["lm_head.weight"] = rng.standard_normal(
      weights["shared.weight"].shape).astype(np.float32)
  save_file(weights, file, metadata={"format": "pt"})


@functools.lru_cache(None)
def converted(kind: str) -> str:
  from xferjax.convert import from_hf
  out = path("converted", kind)
  from_hf.convert(hf_dir(kind), out, block_bytes=XLMR_BLOCK_BYTES)
  return out


@functools.lru_cache(None)
def exported(kind: str) -> str:
  from xferjax.convert import to_hf
  out = path("exported", kind)
  # Small shards: the export is sharded, with an index.
  to_hf.export(converted(kind), out, block_bytes=XLMR_BLOCK_BYTES,
               max_shard_bytes=40_000)
  return out


def hf_tensors(model_dir: str) -> dict[str, np.ndarray]:
  """Every tensor of a model directory (sharded or not), via the official
  safetensors library."""
  from safetensors.numpy import load_file
  out = {}
  for name in sorted(os.listdir(model_dir)):
    if name.endswith(".safetensors"):
      out.update(load_file(os.path.join(model_dir, name)))
  return out


def restore_converted(out: str, head: str | None, transferable=False):
  """(model, params) restored from a converted directory as
  `TrainRun.init_from` does (read-only Checkpointer, abstract targets with
  shardings; `transferable`: only what init_from carries over), with the
  preset gin file the conversion wrote."""
  import glob
  from xferjax import partitioning
  from xferjax.models import api, presets
  from xferjax.train import checkpointing, trainer
  (preset,) = glob.glob(os.path.join(out, "*.gin"))
  family, cfg = presets.load(preset)
  model = api.build_model(head, 1, family, cfg)
  prepared = trainer.prepare_model(model, partitioning.create_partitioner())
  ckpt = checkpointing.Checkpointer(out, read_only=True)
  try:
    abstract = prepared.abstract_params
    if transferable:
      abstract = trainer.transferable_params(abstract)
    return model, ckpt.restore_params(abstract)
  finally:
    ckpt.close()
