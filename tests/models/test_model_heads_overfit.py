"""Every head learns a handful of examples by heart on a tiny model.

A wiring error (labels read from the wrong feature, a head cut off from the
encoder, a mask applied the wrong way round) keeps the loss up; each head
must bring its loss below `BOUND` within `STEPS` Adam steps. Dropout is off
so that memorising is possible at all in so few steps.
"""

import dataclasses

import jax
import numpy as np
import optax
import pytest
from flax import linen as nn

from batches import random_batch
from xferjax.models import api

STEPS = 150
BOUND = 0.05

ENCODER_HEADS = [("mlm", 1), ("classification", 3), ("multiple_choice", 3),
                 ("span", 1), ("tagging", 5), ("embedding", 1)]


def _overfit(model, batch, learning_rate=1e-2):
  params = nn.meta.unbox(api.init_boxed(model, jax.random.PRNGKey(0)))
  loss_fn = api.make_loss_fn(model)
  opt = optax.adam(learning_rate)

  @jax.jit
  def step(params, opt_state):
    (loss, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        params, batch)
    updates, opt_state = opt.update(grads, opt_state)
    return optax.apply_updates(params, updates), opt_state, metrics

  opt_state = opt.init(params)
  first = None
  for _ in range(STEPS):
    params, opt_state, metrics = step(params, opt_state)
    first = float(metrics["loss"]) if first is None else first
  return first, float(metrics["loss"]), float(metrics["accuracy"])


@pytest.mark.parametrize("head,num_labels", ENCODER_HEADS)
def test_encoder_head_overfits(tiny_xlmr, head, num_labels):
  cfg = dataclasses.replace(tiny_xlmr, dropout_rate=0.0)
  model = api.build_model(head, num_labels, family="encoder", config=cfg)
  batch = random_batch(model, 8, 16, seed=1)
  first, last, accuracy = _overfit(model, batch)
  assert last < BOUND, (head, first, last)
  assert last < first / 10
  assert accuracy == 1.0


def test_text_to_text_overfits(tiny_mt5):
  cfg = dataclasses.replace(tiny_mt5, dropout_rate=0.0)
  model = api.build_model(family="encoder_decoder", config=cfg)
  batch = random_batch(model, 8, 12, seed=1, target_length=6)
  first, last, accuracy = _overfit(model, batch)
  assert last < BOUND, (first, last)
  assert accuracy == 1.0


def test_chunked_mlm_head_overfits(tiny_xlmr_xl):
  """The 1B+ recipe: scanned, rematerialised, chunked-logits MLM."""
  cfg = dataclasses.replace(tiny_xlmr_xl, dropout_rate=0.0)
  model = api.build_model("mlm", family="encoder", config=cfg)
  first, last, _ = _overfit(model, random_batch(model, 8, 16, seed=1))
  assert last < BOUND, (first, last)
