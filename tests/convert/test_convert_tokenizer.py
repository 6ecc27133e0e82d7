"""The converted SentencePiece model tokenises as the HF tokenizer does.

XLM-R: `XlmrVocabulary` (fairseq ids, pad and <s> swapped) on the copied
model vs `XLMRobertaTokenizer`; mT5: seqio's vocabulary vs `T5Tokenizer`.
Mixed scripts, unseen characters, Python and TF paths.
"""

import os

import numpy as np
import pytest

import hf_models

hf_models.require_convert_extra()

TEXT = hf_models.MIXED_TEXT + hf_models.PROBE_TEXT


def _tf_ids(vocab, text):
  import tensorflow as tf
  return [list(map(int, vocab.encode_tf(tf.constant(t)).numpy()))
          for t in text]


def test_xlmr_ids_match_the_hf_tokenizer():
  import transformers
  from xferjax.data.vocab import XlmrVocabulary, special_ids
  converted = hf_models.converted("xlmr")
  vocab = XlmrVocabulary(default=os.path.join(converted,
                                              "sentencepiece.bpe.model"))
  assert vocab.is_fairseq_layout
  hf = transformers.XLMRobertaTokenizer.from_pretrained(
      hf_models.hf_dir("xlmr"))
  want = [hf(t, add_special_tokens=False)["input_ids"] for t in TEXT]
  assert any(hf.unk_token_id in ids for ids in want)  # unseen characters
  assert [vocab.encode(t) for t in TEXT] == want
  assert _tf_ids(vocab, TEXT) == want
  # Special ids: ours -> HF's through hf_ids (the swapped embedding rows).
  ours = special_ids(vocab)
  assert vocab.hf_ids(ours["pad"]) == hf.pad_token_id
  assert vocab.hf_ids(ours["cls"]) == hf.cls_token_id == hf.bos_token_id
  assert vocab.hf_ids(ours["eos"]) == hf.eos_token_id == hf.sep_token_id
  assert vocab.hf_ids(ours["mask"]) == hf.mask_token_id
  assert vocab.hf_ids(vocab.unk_id) == hf.unk_token_id
  assert vocab.vocab_size == len(hf)
  # A full HF encoding maps onto ours: <s> text </s> -> cls text eos.
  full = hf(TEXT[2])["input_ids"]
  assert list(vocab.hf_ids(np.array(full))) == (
      [ours["cls"]] + vocab.encode(TEXT[2]) + [ours["eos"]])


def test_mt5_ids_match_the_hf_tokenizer():
  import seqio
  import transformers
  converted = hf_models.converted("mt5")
  vocab = seqio.SentencePieceVocabulary(os.path.join(converted,
                                                     "spiece.model"))
  hf = transformers.T5Tokenizer.from_pretrained(hf_models.hf_dir("mt5"),
                                                extra_ids=0)
  want = [hf(t, add_special_tokens=False)["input_ids"] for t in TEXT]
  assert any(hf.unk_token_id in ids for ids in want)
  assert [vocab.encode(t) for t in TEXT] == want
  assert _tf_ids(vocab, TEXT) == want
  assert (vocab.pad_id, vocab.eos_id, vocab.unk_id) == (
      hf.pad_token_id, hf.eos_token_id, hf.unk_token_id)


@pytest.mark.parametrize("kind", ["xlmr", "mt5"])
def test_exported_tokenizer_matches_the_original(kind):
  import transformers
  load = (lambda d: transformers.XLMRobertaTokenizer.from_pretrained(d)
          ) if kind == "xlmr" else (
              lambda d: transformers.T5Tokenizer.from_pretrained(
                  d, extra_ids=0))
  a = load(hf_models.hf_dir(kind))
  b = transformers.AutoTokenizer.from_pretrained(hf_models.exported(kind))
  assert [a(t)["input_ids"] for t in TEXT] == [b(t)["input_ids"]
                                              for t in TEXT]
