"""BERT-style masking for MLM, as a pure function of (seed, step).

Masking on the host with a generator keyed by the step (rather than inside
the tf.data graph) makes it independent of the device count and of where a
resumed run restarts: the batch of step s is always masked the same way.
"""

from __future__ import annotations

import numpy as np


def mask_tokens(batch: dict[str, np.ndarray], *, seed: int, step: int,
                mask_id: int, vocab_size: int, special_ids: tuple[int, ...],
                mask_rate: float = 0.15) -> dict[str, np.ndarray]:
  """Selects `mask_rate` of real tokens; of those 80% -> <mask>, 10% random,
  10% unchanged. Returns inputs, targets and per-token loss weights."""
  rng = np.random.default_rng([seed, step])
  ids = batch["input_ids"]
  maskable = (batch["attention_mask"] > 0) & ~np.isin(ids, special_ids)
  chosen = maskable & (rng.random(ids.shape) < mask_rate)
  action = rng.random(ids.shape)
  random_ids = rng.integers(0, vocab_size, ids.shape)
  inputs = np.where(chosen & (action < 0.8), mask_id, ids)
  inputs = np.where(chosen & (action >= 0.8) & (action < 0.9), random_ids,
                    inputs)
  return {
      "input_ids": inputs.astype(np.int32),
      "attention_mask": batch["attention_mask"],
      "targets": ids,
      "loss_weights": chosen.astype(np.float32),
  }
