"""The chunked, fused cross-entropy equals the plain one: loss, accuracy and
the gradients of hidden states, kernel and bias, in fp32 to a tight
tolerance, for both kernel layouts, with padded rows, zero and fractional
weights, a length that is not a whole number of chunks, and no bias."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from xferjax.models import fused_cross_entropy, losses
from xferjax.models.projection import ProjectedHidden

B, L, D, V = 3, 11, 8, 37


def _inputs(seed, weights_kind):
  rng = np.random.default_rng(seed)
  hidden = rng.normal(size=(B, L, D)).astype(np.float32)
  kernel = rng.normal(size=(D, V)).astype(np.float32)
  bias = rng.normal(size=(V,)).astype(np.float32)
  targets = rng.integers(0, V, size=(B, L)).astype(np.int32)
  if weights_kind == "mlm":  # sparse, a padded tail, one row all zero
    weights = (rng.random((B, L)) < 0.3).astype(np.float32)
    weights[0, 2] = 1.0
    weights[1, 7:] = 0.0
    weights[2] = 0.0
  elif weights_kind == "fractional":
    weights = rng.random((B, L)).astype(np.float32)
    weights[:, -3:] = 0.0
  elif weights_kind == "all":
    weights = np.ones((B, L), np.float32)
  else:
    weights = np.zeros((B, L), np.float32)
  return hidden, kernel, bias, targets, weights


def _proj(hidden, kernel, bias, vocab_major, chunk):
  return ProjectedHidden(hidden=hidden, kernel=kernel.T if vocab_major
                         else kernel, bias=bias, chunk_size=chunk,
                         vocab_major=vocab_major)


def _plain(hidden, kernel, bias, targets, weights, vocab_major):
  proj = _proj(hidden, kernel, bias, vocab_major, 0)
  ce, correct = losses.token_cross_entropy(proj, targets)
  return jnp.sum(ce * weights), jnp.sum(correct * weights)


def _fused(hidden, kernel, bias, targets, weights, vocab_major, chunk):
  proj = _proj(hidden, kernel, bias, vocab_major, chunk)
  return fused_cross_entropy.weighted_sums(proj, targets, weights)


def _value_and_grads(fn, hidden, kernel, bias, targets, weights, *static):
  """One compilation: (loss sum, correct sum), d(loss sum)/d(h, k, b)."""
  sums = lambda h, k, b: fn(h, k, b, targets, weights, *static)
  (loss, correct), grads = jax.jit(jax.value_and_grad(
      sums, argnums=(0, 1, 2), has_aux=True))(hidden, kernel, bias)
  return (loss, correct), grads


@pytest.mark.parametrize("vocab_major,weights_kind,chunk", [
    (False, "mlm", 4), (True, "mlm", 4), (True, "mlm", 32),
    (False, "fractional", 3), (True, "fractional", 3),
    (False, "all", 4), (True, "none", 4)])
def test_fused_equals_plain(vocab_major, weights_kind, chunk):
  hidden, kernel, bias, targets, weights = _inputs(0, weights_kind)
  (loss, correct), grads = _value_and_grads(
      _plain, hidden, kernel, bias, targets, weights, vocab_major)
  (f_loss, f_correct), f_grads = _value_and_grads(
      _fused, hidden, kernel, bias, targets, weights, vocab_major, chunk)
  np.testing.assert_allclose(f_loss, loss, rtol=1e-6, atol=1e-6)
  assert float(f_correct) == float(correct)
  for name, got, want in zip(("hidden", "kernel", "bias"), f_grads, grads):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6,
                               err_msg=name)
  if weights_kind == "none":
    assert float(f_loss) == 0.0
    assert not np.any(np.asarray(f_grads[0]))


def test_no_bias_and_gradient_of_a_scaled_loss():
  hidden, kernel, _, targets, weights = _inputs(1, "mlm")
  scale = 0.37  # the cotangent of the loss sum is not 1 in a mean loss

  def plain(h, k):
    return scale * _plain(h, k, None, targets, weights, True)[0]

  def fused(h, k):
    return scale * _fused(h, k, None, targets, weights, True, 4)[0]

  want = jax.jit(jax.grad(plain, argnums=(0, 1)))(hidden, kernel)
  got = jax.jit(jax.grad(fused, argnums=(0, 1)))(hidden, kernel)
  for g, w in zip(got, want):
    np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_mlm_loss_and_metrics_take_the_fused_path(monkeypatch):
  """`loss_and_metrics` on a chunked projection equals it on the logits,
  and really goes through the fused sums."""
  hidden, kernel, bias, targets, weights = _inputs(2, "mlm")
  batch = {"targets": targets, "loss_weights": weights}
  chunked = _proj(hidden, kernel, bias, True, 4)
  want_loss, want = losses.loss_and_metrics("mlm", chunked.logits(), batch)
  calls = []
  real = fused_cross_entropy.weighted_sums
  monkeypatch.setattr(fused_cross_entropy, "weighted_sums",
                      lambda *a: calls.append(1) or real(*a))
  got_loss, got = losses.loss_and_metrics("mlm", chunked, batch)
  assert calls
  np.testing.assert_allclose(got_loss, want_loss, rtol=1e-6)
  for key in ("accuracy", "num_targets"):
    np.testing.assert_allclose(got[key], want[key], rtol=1e-6)
