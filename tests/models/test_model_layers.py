"""Layer stacks, positions and relative-position buckets."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn

from batches import random_batch
from xferjax.models import api, encoder, stacking, t5


def _params(model, seed=0):
  return jax.jit(lambda r: nn.meta.unbox(api.init_boxed(model, r)))(
      jax.random.PRNGKey(seed))


@pytest.mark.parametrize("preset,head", [("tiny_xlmr", "embedding"),
                                         ("tiny_xlmr_xl", "embedding"),
                                         ("tiny_mt5", "text_to_text")])
def test_scan_and_unrolled_layers_agree(request, preset, head):
  cfg = request.getfixturevalue(preset)
  cfgs = {scan: dataclasses.replace(cfg, scan_layers=scan,
                                    remat_policy="full" if scan else "none")
          for scan in (False, True)}
  family = "encoder_decoder" if head == "text_to_text" else "encoder"
  models = {scan: api.build_model(head, family=family, config=c)
            for scan, c in cfgs.items()}
  unrolled = _params(models[False])
  scanned = stacking.stack_layer_params(unrolled)
  # The converted tree is exactly the scanned model's tree.
  assert (jax.tree.structure(scanned) ==
          jax.tree.structure(_params(models[True])))
  back = stacking.unstack_layer_params(scanned)
  jax.tree.map(np.testing.assert_array_equal, back, unrolled)
  batch = random_batch(models[False], 3, 12, seed=2, target_length=5)
  out = {scan: jax.jit(lambda p, b, m=models[scan]: api.forward(m, p, b))(
      p, batch) for scan, p in ((False, unrolled), (True, scanned))}
  if head == "text_to_text":
    np.testing.assert_allclose(out[True], out[False], atol=1e-5)
    hidden = {scan: jax.jit(lambda p, t, m=models[scan]: m.apply(
        {"params": p}, t, method=m.encoder_hidden_states))(
            p, batch["encoder_input_tokens"])
        for scan, p in ((False, unrolled), (True, scanned))}
    np.testing.assert_allclose(hidden[True], hidden[False], atol=1e-5)
  else:  # every layer's hidden states
    assert out[False].shape[0] == cfg.num_layers + 1
    np.testing.assert_allclose(out[True], out[False], atol=1e-5)
  # Gradients agree too (remat recomputes, it must not change anything).
  loss = {scan: api.make_loss_fn(models[scan]) for scan in (False, True)}
  if head == "embedding":
    batch = random_batch(models[False], 4, 12, seed=2)
  grad = lambda scan, p: jax.jit(jax.grad(
      lambda p: loss[scan](p, batch)[0]))(p)
  g_unrolled, g_scanned = grad(False, unrolled), grad(True, scanned)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5),
               stacking.stack_layer_params(g_unrolled), g_scanned)


def test_xlmr_positions_follow_fairseq():
  mask = jnp.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
  np.testing.assert_array_equal(encoder.position_ids(mask),
                                [[2, 3, 4, 1, 1], [2, 3, 4, 5, 6]])


def test_padding_does_not_change_real_tokens(tiny_xlmr):
  """Same tokens, more padding: identical hidden states where it counts."""
  model = api.build_model("embedding", family="encoder", config=tiny_xlmr)
  params = _params(model)
  ids = jnp.array([[0, 17, 25, 99, 2]])
  padded = jnp.concatenate([ids, jnp.ones((1, 4), ids.dtype)], axis=1)
  apply = jax.jit(lambda i, m: model.apply({"params": params}, i, m))
  short = apply(ids, jnp.ones_like(ids))
  long = apply(padded, (jnp.arange(9) < 5)[None].astype(jnp.int32))
  np.testing.assert_allclose(long[:, :, :5], short, atol=1e-5)


def _hf_bucket(rel, bidirectional, num_buckets=32, max_distance=128):
  """Hugging Face's T5 bucket, re-derived in float32 numpy."""
  ret = 0
  if bidirectional:
    num_buckets //= 2
    ret += int(rel > 0) * num_buckets
    n = abs(rel)
  else:
    n = -min(rel, 0)
  max_exact = num_buckets // 2
  if n < max_exact:
    return ret + n
  large = max_exact + int(
      np.log(np.float32(n) / np.float32(max_exact)) /
      np.float32(np.log(max_distance / max_exact)) *
      np.float32(num_buckets - max_exact))
  return ret + min(large, num_buckets - 1)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_relative_position_buckets(bidirectional):
  rel = np.arange(-300, 301)
  got = np.asarray(t5.relative_position_bucket(
      jnp.asarray(rel, jnp.int32), bidirectional, 32, 128))
  want = [_hf_bucket(int(r), bidirectional) for r in rel]
  np.testing.assert_array_equal(got, want)
  # Known values: exact near 0, log-spaced further, capped past 128.
  at = lambda r: int(got[r + 300])
  if bidirectional:
    assert (at(0), at(-1), at(1), at(-8), at(-20), at(-128), at(-300)) == (
        0, 1, 17, 8, 10, 15, 15)
  else:
    assert (at(0), at(5), at(-1), at(-20), at(-300)) == (0, 0, 1, 17, 31)
