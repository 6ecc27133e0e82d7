"""Logit parity: converted tiny random HF models vs PyTorch, fp32.

Each model is converted with `from_hf.convert` (embeddings in row blocks),
restored the way `TrainRun.init_from` restores it, and fed the same
batches as the PyTorch model, padding included: MLM logits and the hidden
states after the embeddings and every layer (XLM-R, XLM-R XL), and
encoder-decoder logits and every encoder layer's hidden states (mT5).
"""

import jax.numpy as jnp
import numpy as np
import pytest

import hf_models

hf_models.require_convert_extra()

TOL = 1e-4


def _xlmr_batches(tokenizer):
  """HF ids and masks: tokenised mixed-script text (padded to the longest
  row) and random ids with ragged padding."""
  enc = tokenizer(hf_models.PROBE_TEXT + hf_models.MIXED_TEXT[:2],
                  padding=True, truncation=True, max_length=32,
                  return_tensors="np")
  rng = np.random.default_rng(0)
  ids = rng.integers(4, 200, (3, 20))
  mask = np.ones_like(ids)
  mask[1, 13:] = 0
  mask[2, 4:] = 0
  ids[:, 0] = tokenizer.bos_token_id
  ids = np.where(mask > 0, ids, tokenizer.pad_token_id)
  return [(enc["input_ids"], enc["attention_mask"]), (ids, mask)]


@pytest.mark.parametrize("kind", ["xlmr", "xlmr_xl"])
def test_xlmr_mlm_logits_and_all_hidden_states(kind):
  import torch
  import transformers
  from xferjax.data.vocab import XlmrVocabulary
  from xferjax.models import api
  from xferjax.models.projection import ProjectedHidden

  hf = transformers.AutoModelForMaskedLM.from_pretrained(
      hf_models.hf_dir(kind)).eval()
  tokenizer = transformers.XLMRobertaTokenizer.from_pretrained(
      hf_models.hf_dir(kind))
  out = hf_models.converted(kind)
  model, params = hf_models.restore_converted(out, "mlm")
  embedding = api.build_model("embedding", 1, "encoder", model.cfg)
  vocab = XlmrVocabulary(default=hf_models.xlmr_sentencepiece())
  for hf_ids, mask in _xlmr_batches(tokenizer):
    ours_ids = vocab.hf_ids(hf_ids)  # the swap is its own inverse
    assert (ours_ids[mask == 0] == 0).all()  # we pad with 0
    with torch.no_grad():
      ref = hf(input_ids=torch.tensor(hf_ids),
               attention_mask=torch.tensor(mask), output_hidden_states=True)
    batch = {"input_ids": jnp.asarray(ours_ids, jnp.int32),
             "attention_mask": jnp.asarray(mask, jnp.int32)}
    logits = api.forward(model, params, batch)
    if isinstance(logits, ProjectedHidden):  # chunked logits (the XL preset)
      logits = logits.logits()
    logits = np.asarray(logits)
    # Our vocabulary axis is in our ids: reorder HF's columns the same way.
    ref_logits = ref.logits.numpy()[..., vocab.hf_ids(
        np.arange(model.cfg.vocab_size))]
    assert np.abs(logits - ref_logits).max() < TOL
    hidden = np.asarray(api.forward(embedding, {"encoder": params["encoder"]},
                                    batch))
    assert hidden.shape[0] == len(ref.hidden_states) == model.cfg.num_layers + 1
    for ours, theirs in zip(hidden, ref.hidden_states):
      assert np.abs(ours - theirs.numpy()).max() < TOL


def test_xl_is_stored_scanned_like_its_preset():
  model, params = hf_models.restore_converted(
      hf_models.converted("xlmr_xl"), "mlm")
  assert model.cfg.scan_layers and model.cfg.pre_layer_norm
  kernel = params["encoder"]["layers"]["attention"]["query"]["kernel"]
  assert kernel.shape == (2, 32, 4, 8)


def test_mt5_encoder_decoder_logits_and_encoder_hidden_states():
  import torch
  import transformers
  from xferjax.models import api

  hf = transformers.MT5ForConditionalGeneration.from_pretrained(
      hf_models.hf_dir("mt5")).eval()
  assert not torch.equal(hf.lm_head.weight, hf.shared.weight)  # untied
  tokenizer = transformers.T5Tokenizer.from_pretrained(
      hf_models.hf_dir("mt5"), extra_ids=0)
  model, params = hf_models.restore_converted(hf_models.converted("mt5"),
                                              None)
  enc = tokenizer(hf_models.PROBE_TEXT, padding=True, return_tensors="np")
  dec = tokenizer(hf_models.MIXED_TEXT[:4], padding=True,
                  return_tensors="np")["input_ids"][:, :9]
  # seqio's decoder inputs: targets shifted right behind start id 0.
  dec_in = np.concatenate([np.zeros_like(dec[:, :1]), dec[:, :-1]], axis=1)
  rng = np.random.default_rng(1)
  rand = rng.integers(3, 200, (4, 11))
  rand_mask = (np.arange(11) < np.array([[11], [7], [2], [5]])).astype(int)
  for ids, mask in ((enc["input_ids"], enc["attention_mask"]),
                    (rand * rand_mask, rand_mask)):
    with torch.no_grad():
      ref = hf(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
               decoder_input_ids=torch.tensor(dec_in),
               output_hidden_states=True)
    batch = {"encoder_input_tokens": jnp.asarray(ids, jnp.int32),
             "decoder_input_tokens": jnp.asarray(dec_in, jnp.int32)}
    logits = np.asarray(api.forward(model, params, batch))
    assert np.abs(logits - ref.logits.numpy()).max() < TOL
    hidden = np.asarray(model.apply({"params": params},
                                    batch["encoder_input_tokens"],
                                    method=model.encoder_hidden_states))
    assert hidden.shape[0] == len(ref.encoder_hidden_states) == 3
    for ours, theirs in zip(hidden, ref.encoder_hidden_states):
      assert np.abs(ours - theirs.numpy()).max() < TOL
