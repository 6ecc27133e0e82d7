"""Random batches that follow the batch contract of `xferjax.models.api`
(the shapes of `api.batch_shapes`), with padding, for any head.

Deterministic in `seed`, so a subprocess on 8 devices and the test on 1
device build the same batch.
"""

import numpy as np

from xferjax.models import api
from xferjax.models.t5 import TEXT_TO_TEXT

XLMR_PAD, T5_PAD, T5_EOS = 1, 0, 1


def random_batch(model, batch_size, length, seed=0, target_length=None):
  rng = np.random.default_rng(seed)
  shapes = api.batch_shapes(model, batch_size, length, target_length)
  vocab = model.cfg.vocab_size
  if model.head == TEXT_TO_TEXT:
    return _text_to_text(rng, shapes, vocab)
  ids_shape = shapes["input_ids"].shape
  lengths = rng.integers(max(2, length // 2), length + 1, size=ids_shape[:-1])
  lengths.reshape(-1)[0] = length  # one full row
  mask = (np.arange(length) < lengths[..., None]).astype(np.int32)
  ids = np.where(mask > 0, rng.integers(3, vocab, size=ids_shape),
                 XLMR_PAD).astype(np.int32)
  batch = {"input_ids": ids, "attention_mask": mask}
  b = batch_size
  if model.head == "mlm":
    weights = (rng.random(ids_shape) < 0.3) & (mask > 0)
    weights[:, 1] = True
    batch["targets"] = rng.integers(3, vocab, size=ids_shape).astype(np.int32)
    batch["loss_weights"] = weights.astype(np.float32)
  elif model.head in ("classification", "multiple_choice"):
    batch["label"] = rng.integers(0, model.num_labels, size=b).astype(np.int32)
  elif model.head == "span":
    starts = rng.integers(1, lengths // 2 + 1)
    ends = np.minimum(starts + rng.integers(0, 3, size=b), lengths - 1)
    batch["start_position"] = starts.astype(np.int32)
    batch["end_position"] = ends.astype(np.int32)
  elif model.head == "tagging":
    labels = rng.integers(0, model.num_labels, size=ids_shape)
    labels[:, 0] = -1  # <s>
    batch["labels"] = np.where(mask > 0, labels, -1).astype(np.int32)
  elif model.head == "embedding":
    # Rows 2i and 2i+1 are translations of each other; the last has none
    # when the batch is odd.
    match = np.arange(b) ^ 1
    match[match >= b] = -1
    batch["match"] = match.astype(np.int32)
  return batch


def _text_to_text(rng, shapes, vocab):
  b, l = shapes["encoder_input_tokens"].shape
  t = shapes["decoder_target_tokens"].shape[1]
  enc_len = rng.integers(max(2, l // 2), l + 1, size=b)
  enc = np.where(np.arange(l) < enc_len[:, None],
                 rng.integers(2, vocab, size=(b, l)), T5_PAD)
  tgt_len = rng.integers(max(1, t // 2), t, size=b)
  targets = np.where(np.arange(t) < tgt_len[:, None],
                     rng.integers(2, vocab, size=(b, t)), T5_PAD)
  targets[np.arange(b), tgt_len] = T5_EOS
  inputs = np.concatenate([np.zeros((b, 1), targets.dtype), targets[:, :-1]],
                          axis=1)
  return {"encoder_input_tokens": enc.astype(np.int32),
          "decoder_input_tokens": inputs.astype(np.int32),
          "decoder_target_tokens": targets.astype(np.int32),
          "decoder_loss_weights": (targets > 0).astype(np.float32)}
