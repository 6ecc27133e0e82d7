"""Greedy and beam decoding: the decode cache changes nothing but speed.

The reference recomputes the whole decoder over the prefix at every step
(`use_cache=False`); the cached decoder sees one token per step. Same
tokens (and scores), scanned or unrolled decoder.
"""

import dataclasses
import functools

import jax
import numpy as np
import pytest
from flax import linen as nn

from batches import random_batch
from xferjax import errors
from xferjax.models import api, decoding

MAX_LEN = 7


@pytest.fixture(scope="module", params=[False, True], ids=["unrolled",
                                                           "scanned"])
def mt5(request, tiny_mt5):
  cfg = dataclasses.replace(tiny_mt5, scan_layers=request.param,
                            vocab_size=64)
  model = api.build_model(family="encoder_decoder", config=cfg)
  params = jax.jit(lambda r: nn.meta.unbox(api.init_boxed(model, r)))(
      jax.random.PRNGKey(3))
  tokens = random_batch(model, 3, 9, seed=4)["encoder_input_tokens"]
  return model, params, tokens


def _run(fn, model, params, tokens, **kw):
  return jax.jit(functools.partial(fn, model, **kw))(params, tokens)


def test_greedy_with_cache_equals_recompute(mt5):
  model, params, tokens = mt5
  cached = _run(decoding.greedy_decode, model, params, tokens,
                max_decode_len=MAX_LEN)
  recomputed = _run(decoding.greedy_decode, model, params, tokens,
                    max_decode_len=MAX_LEN, use_cache=False)
  np.testing.assert_array_equal(cached, recomputed)
  assert cached.shape == (3, MAX_LEN) and len(np.unique(cached)) > 2


def test_beam_with_cache_equals_recompute(mt5):
  model, params, tokens = mt5
  seqs, scores = _run(decoding.beam_search, model, params, tokens,
                      beam_size=3, max_decode_len=MAX_LEN)
  ref_seqs, ref_scores = _run(decoding.beam_search, model, params, tokens,
                              beam_size=3, max_decode_len=MAX_LEN,
                              use_cache=False)
  np.testing.assert_array_equal(seqs, ref_seqs)
  np.testing.assert_allclose(scores, ref_scores, atol=1e-5)
  assert seqs.shape == (3, 3, MAX_LEN)
  assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first


def test_decode_arguments_are_checked(mt5):
  model, params, tokens = mt5
  with pytest.raises(errors.ConfigError, match="max_decode_len"):
    decoding.greedy_decode(model, params, tokens, 0)
  with pytest.raises(errors.ConfigError, match="beam_size"):
    decoding.beam_search(model, params, tokens, 0, 4)
