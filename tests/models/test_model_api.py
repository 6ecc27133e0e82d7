"""The one model interface: building, batch contract and its errors."""

import dataclasses

import jax
import numpy as np
import pytest
from flax import linen as nn

from batches import random_batch
from xferjax import errors
from xferjax.models import api, losses


def test_batch_contract_lists_every_target_a_loss_reads(tiny_xlmr, tiny_mt5):
  for head in (*api.HEAD_TYPES, api.TEXT_TO_TEXT):
    family = "encoder_decoder" if head == api.TEXT_TO_TEXT else "encoder"
    cfg = tiny_mt5 if head == api.TEXT_TO_TEXT else tiny_xlmr
    model = api.build_model(head, 3, family=family, config=cfg)
    shapes = api.batch_shapes(model, 4, 8)
    assert set(losses.TARGET_FEATURES[head]) <= set(shapes), head
    batch = random_batch(model, 4, 8)
    assert {k: (v.shape, v.dtype) for k, v in batch.items()} == {
        k: (s.shape, s.dtype) for k, s in shapes.items()}, head


def test_wrong_family_head_or_config_is_explained(tiny_xlmr, tiny_mt5):
  with pytest.raises(errors.ConfigError, match="unknown head type"):
    api.build_model("regression", family="encoder", config=tiny_xlmr)
  with pytest.raises(errors.ConfigError, match="takes a T5Config"):
    api.build_model(family="encoder_decoder", config=tiny_xlmr)
  with pytest.raises(errors.ConfigError, match="text-to-text"):
    model = api.build_model("span", family="encoder_decoder",
                            config=tiny_mt5)
    api.abstract_params(model)
  with pytest.raises(errors.ConfigError, match="unknown model family"):
    api.model_family("decoder_only")


def test_inputs_of_the_wrong_shape_are_explained(tiny_xlmr):
  model = api.build_model("multiple_choice", 4, family="encoder",
                          config=tiny_xlmr)
  params = nn.meta.unbox(api.init_boxed(model, jax.random.PRNGKey(0)))
  three_choices = random_batch(
      api.build_model("multiple_choice", 3, family="encoder",
                      config=tiny_xlmr), 2, 8)
  with pytest.raises(errors.ShapeError, match=r"\[batch, 4, length\]"):
    api.forward(model, params, three_choices)
  long = api.build_model("classification", 2, family="encoder",
                         config=tiny_xlmr)
  with pytest.raises(errors.ShapeError, match="exceeds the model's max_len"):
    api.forward(long, nn.meta.unbox(api.init_boxed(long, jax.random.PRNGKey(0))),
                random_batch(long, 2, tiny_xlmr.max_len + 1))
  with pytest.raises(errors.ShapeError, match=r"needs batch features \['label'\]"):
    losses.loss_and_metrics("classification", np.zeros((2, 2)), {})


def test_mismatched_vocab_sizes_are_named(tiny_xlmr):
  api.check_vocab_size(tiny_xlmr, tiny_xlmr.vocab_size)
  with pytest.raises(errors.ShapeError, match="300 ids .* vocab_size 256") as e:
    api.check_vocab_size(tiny_xlmr, 300)
  assert "EncoderConfig.vocab_size >= 300" in e.value.fix
  model = api.build_model("mlm", family="encoder", config=tiny_xlmr)
  other = api.build_model("mlm", family="encoder", config=dataclasses.replace(
      tiny_xlmr, vocab_size=512))
  params = nn.meta.unbox(api.abstract_params(other))
  with pytest.raises(errors.ShapeError,
                     match=r"token_embed.*\(512, 32\).*expects \(256, 32\)"):
    api.check_params_match(model, params)
  api.check_params_match(model, nn.meta.unbox(api.abstract_params(model)))
