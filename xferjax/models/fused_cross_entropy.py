"""Weighted cross-entropy over a large vocabulary, chunked and fused.

`weighted_sums(proj, targets, weights)` returns `sum(w * ce)` and
`sum(w * [argmax == target])` for a `ProjectedHidden`, without ever holding
the `[batch, length, vocab]` logits, and without computing logits where the
weight is 0:

- each row's weighted positions are moved to its front (a stable per-row
  sort, so batch sharding is untouched), and only the first
  `ceil(max_row_count / chunk)` length-chunks are projected. MLM weights 15%
  of the tokens, so at length 128 and chunk 32 one chunk in four is
  computed; the count is dynamic, so the result is exact for any mask
  (a text-to-text batch, weighted everywhere, computes every chunk);
- the backward pass is fused into the forward one (a `custom_vjp`): each
  chunk's softmax gives `dlogits` at once, which is multiplied back into
  the hidden-state, kernel and bias gradients and dropped. Autodiff of a
  rematerialised chunk would compute every chunk's logits twice.

Weights are data, not parameters: no gradient flows to them.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from xferjax.models.projection import ProjectedHidden

Array = jax.Array


def weighted_sums(proj: ProjectedHidden, targets: Array,
                  weights: Array) -> tuple[Array, Array]:
  """(sum of weighted losses, sum of weighted correct predictions)."""
  bias = proj.bias
  if bias is None:  # a zero bias costs one cheap matmul; its grad is dropped
    bias = jax.lax.stop_gradient(jnp.zeros((proj.vocab_size,), jnp.float32))
  # The gradients' dtypes (static): each cotangent takes its primal's.
  dtypes = tuple(jnp.dtype(x.dtype).name for x in (proj.hidden, proj.kernel,
                                                   bias))
  return _sums(proj.chunk_size, proj.vocab_major, dtypes, proj.hidden,
               proj.kernel, bias, targets, jax.lax.stop_gradient(weights))


def _project(chunk, vocab_major, kernel, bias) -> ProjectedHidden:
  return ProjectedHidden(hidden=None, kernel=kernel, bias=bias,
                         chunk_size=chunk, vocab_major=vocab_major)


def _sorted_chunks(chunk, hidden, targets, weights):
  """Inputs with each row's weighted positions first, padded to whole
  chunks; the permutation; and how many chunks hold any weight."""
  length = hidden.shape[1]
  size = min(chunk, length)
  n = -(-length // size)
  weights = weights.astype(jnp.float32)
  order = jnp.argsort(weights == 0, axis=1, stable=True)
  take = lambda x: jnp.take_along_axis(
      x, order.reshape(order.shape + (1,) * (x.ndim - 2)), axis=1)
  pad = lambda x: jnp.pad(x, ((0, 0), (0, n * size - length)) +
                          ((0, 0),) * (x.ndim - 2))
  hidden, targets, weights = (pad(take(x)) for x in (hidden, targets,
                                                      weights))
  count = jnp.max(jnp.sum(weights != 0, axis=1))
  needed = (count + size - 1) // size
  return hidden, targets, weights, order, size, needed


def _chunk_stats(proj, h, t, w, with_grads):
  """Loss/correct sums of one chunk, and its dlogits when asked."""
  logits = proj.logits_of(h)
  target_logit = jnp.take_along_axis(logits, t[..., None], -1)[..., 0]
  lse = jax.nn.logsumexp(logits, -1)
  correct = (jnp.argmax(logits, -1) == t).astype(jnp.float32)
  sums = (jnp.sum(w * (lse - target_logit)), jnp.sum(w * correct))
  if not with_grads:
    return sums, None
  onehot = jnp.arange(logits.shape[-1]) == t[..., None]
  dlogits = w[..., None] * (jnp.exp(logits - lse[..., None]) - onehot)
  return sums, dlogits


def _loop(chunk, vocab_major, hidden, kernel, bias, targets, weights,
          with_grads):
  proj = _project(chunk, vocab_major, kernel, bias)
  hs, ts, ws, order, size, needed = _sorted_chunks(chunk, hidden, targets,
                                                   weights)
  zero = jnp.zeros((), jnp.float32)
  carry = {"i": jnp.zeros((), jnp.int32), "loss": zero, "correct": zero}
  if with_grads:
    carry.update(dh=jnp.zeros(hs.shape, jnp.float32),
                 dk=jnp.zeros(kernel.shape, jnp.float32),
                 db=jnp.zeros(bias.shape, jnp.float32))

  def body(c):
    start = c["i"] * size
    cut = lambda x: jax.lax.dynamic_slice_in_dim(x, start, size, axis=1)
    h = cut(hs)
    (loss, correct), dlogits = _chunk_stats(proj, h, cut(ts), cut(ws),
                                            with_grads)
    out = dict(c, i=c["i"] + 1, loss=c["loss"] + loss,
               correct=c["correct"] + correct)
    if with_grads:
      dh, dk, db = proj.backprop(h, dlogits)
      out.update(dh=jax.lax.dynamic_update_slice_in_dim(c["dh"], dh, start,
                                                        axis=1),
                 dk=c["dk"] + dk, db=c["db"] + db)
    return out

  carry = jax.lax.while_loop(lambda c: c["i"] < needed, body, carry)
  sums = (carry["loss"], carry["correct"])
  if not with_grads:
    return sums, None
  # Undo the sort: position order[b, j] received row b's j-th gradient.
  inverse = jnp.argsort(order, axis=1)
  dh = jnp.take_along_axis(carry["dh"][:, :hidden.shape[1]],
                           inverse[..., None], axis=1)
  return sums, (dh, carry["dk"], carry["db"])


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1, 2))
def _sums(chunk, vocab_major, dtypes, hidden, kernel, bias, targets,
          weights):
  del dtypes
  return _loop(chunk, vocab_major, hidden, kernel, bias, targets, weights,
               with_grads=False)[0]


def _sums_fwd(chunk, vocab_major, dtypes, hidden, kernel, bias, targets,
              weights):
  del dtypes
  return _loop(chunk, vocab_major, hidden, kernel, bias, targets, weights,
               with_grads=True)


def _sums_bwd(chunk, vocab_major, dtypes, grads, cotangents):
  del chunk, vocab_major
  g = cotangents[0]  # the correct-count is piecewise constant: no gradient
  grads = tuple((g * d).astype(dt) for d, dt in zip(grads, dtypes))
  return grads + (None, None)


_sums.defvjp(_sums_fwd, _sums_bwd)
