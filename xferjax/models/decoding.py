"""Greedy and beam-search generation for the mT5 family, with the decode cache.

Both run as one `lax.while_loop` (jit-able, fixed shapes): the encoder runs
once, then each step feeds one token per sequence through the decoder, whose
attention layers append that token's keys/values to the cache instead of
recomputing the prefix. Output sequences hold the generated tokens (the
decoder start token is not included); everything after EOS is 0 (padding).

Beam search keeps `beam_size` live hypotheses and the `beam_size` best
finished ones per example, scoring finished hypotheses by
log-probability / ((5 + length) / 6) ** alpha (Wu et al. 2016, as T5 uses
it), and stops early once no live hypothesis can beat the worst finished one.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from xferjax import errors
from xferjax.models.t5 import EncoderDecoderModel

Array = jax.Array
NEG_INF = -1e9


def _check_length(max_decode_len: int) -> None:
  if max_decode_len < 1:
    raise errors.ConfigError(f"max_decode_len must be >= 1, got "
                             f"{max_decode_len}", "decode at least one token")


def init_cache(model: EncoderDecoderModel, params: Any, encoded: Array,
               encoder_tokens: Array, max_decode_len: int) -> Any:
  """A zeroed decode cache for `encoded.shape[0]` sequences."""
  batch = encoded.shape[0]

  def allocate():
    _, variables = model.apply(
        {"params": params}, encoded, encoder_tokens,
        jnp.zeros((batch, max_decode_len), jnp.int32), decode=True,
        mutable=["cache"], method=model.decode)
    return variables["cache"]

  return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype),
                      jax.eval_shape(allocate))


class _Stepper:
  """Next-token log-probabilities, with the decode cache or by recomputing.

  `step(state, current, seqs, i)`: `current` `[n]` is the last token of each
  sequence, `seqs` `[n, max_len]` the tokens generated so far (positions
  `< i` set). With the cache, the decoder sees one token and appends its
  keys/values; without it (`use_cache=False`, the reference the cache is
  tested against) it re-runs the whole prefix every step.
  """

  def __init__(self, model, params, encoded, encoder_tokens, max_decode_len,
               use_cache):
    self.model, self.params = model, params
    self.encoded, self.encoder_tokens = encoded, encoder_tokens
    self.use_cache = use_cache
    self.initial = (init_cache(model, params, encoded, encoder_tokens,
                               max_decode_len) if use_cache else ())

  def step(self, cache, current, seqs, i):
    model = self.model
    if self.use_cache:
      logits, variables = model.apply(
          {"params": self.params, "cache": cache}, self.encoded,
          self.encoder_tokens, current[:, None], decode=True,
          mutable=["cache"], method=model.decode)
      return _log_probs(logits[:, 0]), variables["cache"]
    start = jnp.full((seqs.shape[0], 1), model.cfg.decoder_start_token_id,
                     jnp.int32)
    inputs = jnp.concatenate([start, seqs[:, :-1]], axis=1)
    logits = model.apply({"params": self.params}, self.encoded,
                         self.encoder_tokens, inputs, method=model.decode)
    if not isinstance(logits, jax.Array):  # a chunked ProjectedHidden
      logits = logits.logits()
    return _log_probs(jnp.take(logits, i, axis=1)), cache

  def reorder(self, cache, flat_indices):
    return _reorder_cache(cache, flat_indices) if self.use_cache else cache


def _log_probs(logits: Array) -> Array:
  return jax.nn.log_softmax(logits.astype(jnp.float32))


def greedy_decode(model: EncoderDecoderModel, params: Any,
                  encoder_input_tokens: Array, max_decode_len: int,
                  use_cache: bool = True) -> Array:
  """`[batch, max_decode_len]` argmax continuations."""
  _check_length(max_decode_len)
  cfg = model.cfg
  encoded = model.apply({"params": params}, encoder_input_tokens,
                        method=model.encode)
  batch = encoder_input_tokens.shape[0]
  stepper = _Stepper(model, params, encoded, encoder_input_tokens,
                     max_decode_len, use_cache)

  def cond(state):
    i, _, _, _, done = state
    return (i < max_decode_len) & ~jnp.all(done)

  def body(state):
    i, out, current, cache, done = state
    logp, cache = stepper.step(cache, current, out, i)
    token = jnp.where(done, 0, jnp.argmax(logp, -1).astype(jnp.int32))
    out = out.at[:, i].set(token)
    return i + 1, out, token, cache, done | (token == cfg.eos_id)

  state = (jnp.zeros((), jnp.int32),
           jnp.zeros((batch, max_decode_len), jnp.int32),
           jnp.full((batch,), cfg.decoder_start_token_id, jnp.int32),
           stepper.initial, jnp.zeros((batch,), bool))
  return jax.lax.while_loop(cond, body, state)[1]


def length_penalty(length: Array, alpha: float) -> Array:
  return ((5.0 + length) / 6.0) ** alpha


def _reorder_cache(cache: Any, flat_indices: Array) -> Any:
  """Gathers cached keys/values along the sequence (batch) axis.

  Key/value leaves are `[B, L, H, K]`, or `[layers, B, L, H, K]` when
  scanned; counters and positions are shared by all sequences.
  """
  def gather(leaf):
    if leaf.ndim < 4:
      return leaf
    return jnp.take(leaf, flat_indices, axis=leaf.ndim - 4)
  return jax.tree.map(gather, cache)


def beam_search(model: EncoderDecoderModel, params: Any,
                encoder_input_tokens: Array, beam_size: int,
                max_decode_len: int, alpha: float = 0.6,
                use_cache: bool = True) -> tuple[Array, Array]:
  """Best `beam_size` sequences `[batch, beam, max_decode_len]`, best first,
  and their length-normalised scores `[batch, beam]`."""
  _check_length(max_decode_len)
  if beam_size < 1:
    raise errors.ConfigError(f"beam_size must be >= 1, got {beam_size}",
                             "use 1 (greedy-like) or more beams")
  cfg = model.cfg
  batch = encoder_input_tokens.shape[0]
  k = beam_size
  tokens_rep = jnp.repeat(encoder_input_tokens, k, axis=0)
  encoded = model.apply({"params": params}, tokens_rep, method=model.encode)
  stepper = _Stepper(model, params, encoded, tokens_rep, max_decode_len,
                     use_cache)
  row_base = (jnp.arange(batch) * k)[:, None]

  def cond(state):
    i, alive_logp, _, finished_scores, _, _, _ = state
    best_possible = alive_logp[:, 0] / length_penalty(max_decode_len, alpha)
    can_improve = best_possible > finished_scores[:, -1]
    return (i < max_decode_len) & jnp.any(can_improve)

  def body(state):
    i, alive_logp, alive_seqs, fin_scores, fin_seqs, current, cache = state
    logp, cache = stepper.step(cache, current.reshape(-1),
                               alive_seqs.reshape(batch * k, -1), i)
    vocab = logp.shape[-1]
    candidates = (alive_logp[:, :, None] + logp.reshape(batch, k, vocab)
                  ).reshape(batch, k * vocab)
    scores, flat = jax.lax.top_k(candidates, 2 * k)
    beam, token = flat // vocab, (flat % vocab).astype(jnp.int32)
    seqs = jnp.take_along_axis(alive_seqs, beam[:, :, None], axis=1)
    seqs = seqs.at[:, :, i].set(token)
    is_eos = token == cfg.eos_id

    # Live hypotheses: the best k candidates that did not just end.
    live_scores, pick = jax.lax.top_k(jnp.where(is_eos, NEG_INF, scores), k)
    alive_seqs = jnp.take_along_axis(seqs, pick[:, :, None], axis=1)
    current = jnp.take_along_axis(token, pick, axis=1)
    cache = stepper.reorder(
        cache, (row_base + jnp.take_along_axis(beam, pick, axis=1)
                ).reshape(-1))

    # Finished: merge the candidates that just ended (length-normalised).
    ended = jnp.where(is_eos, scores / length_penalty(i + 1.0, alpha),
                      NEG_INF)
    all_scores = jnp.concatenate([fin_scores, ended], axis=1)
    all_seqs = jnp.concatenate([fin_seqs, seqs], axis=1)
    fin_scores, keep = jax.lax.top_k(all_scores, k)
    fin_seqs = jnp.take_along_axis(all_seqs, keep[:, :, None], axis=1)
    return i + 1, live_scores, alive_seqs, fin_scores, fin_seqs, current, cache

  alive_logp = jnp.tile(jnp.array([0.0] + [NEG_INF] * (k - 1)), (batch, 1))
  empty = jnp.zeros((batch, k, max_decode_len), jnp.int32)
  state = (jnp.zeros((), jnp.int32), alive_logp, empty,
           jnp.full((batch, k), NEG_INF), empty,
           jnp.full((batch, k), cfg.decoder_start_token_id, jnp.int32),
           stepper.initial)
  i, alive_logp, alive_seqs, fin_scores, fin_seqs, _, _ = (
      jax.lax.while_loop(cond, body, state))
  # Hypotheses that never emitted EOS compete at their full length.
  unfinished = alive_logp / length_penalty(i.astype(jnp.float32), alpha)
  all_scores = jnp.concatenate([fin_scores, unfinished], axis=1)
  all_seqs = jnp.concatenate([fin_seqs, alive_seqs], axis=1)
  scores, keep = jax.lax.top_k(all_scores, k)
  return jnp.take_along_axis(all_seqs, keep[:, :, None], axis=1), scores
