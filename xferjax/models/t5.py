"""mT5-style encoder-decoder (the T5.1.1 recipe) in Flax linen.

mT5 (Xue et al. 2021) is T5.1.1 trained on 101 languages: RMS norm without
bias, pre-norm residual blocks, gated-GELU MLPs, no biases anywhere, relative
position buckets (one table per stack, shared by its layers), attention
logits left unscaled (the initialisation absorbs 1/sqrt(d_kv)), dropout after
embeddings, sublayers and the final norm, a token embedding shared by encoder
and decoder inputs and an *untied* output projection (`lm_head`).

Every task is text-to-text: `__call__` takes seqio's `EncDecFeatureConverter`
features and returns logits (or a `ProjectedHidden` when
`logits_chunk_size > 0`); `xferjax.models.decoding` generates with the decode
cache (`decode=True`); `encoder_hidden_states` gives `[L+1, B, T, d]` for
sentence retrieval, like the XLM-R family.

Parameters: {'token_embed', 'encoder', 'decoder', 'lm_head'}. The decode
cache ('cache' collection) holds per-layer keys/values `[B, max_len, H, K]`
(with a leading `layers` axis when scanned) and the decoder's position.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import gin
import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from xferjax import errors
from xferjax.models import layers, stacking
from xferjax.models.layers import EinsumDense, RmsNorm
from xferjax.models.projection import ProjectedHidden

Array = jax.Array

TEXT_TO_TEXT = "text_to_text"


@gin.configurable
@dataclasses.dataclass(frozen=True)
class T5Config:
  """Size and recipe of an mT5-style model. Presets: gin_configs/models/mt5_*."""

  vocab_size: int = 256
  d_model: int = 64
  num_heads: int = 4
  head_dim: int = 16
  d_ff: int = 128
  num_encoder_layers: int = 2
  num_decoder_layers: int = 2
  dropout_rate: float = 0.1
  layer_norm_eps: float = 1e-6
  relative_attention_num_buckets: int = 32
  relative_attention_max_distance: int = 128
  # Compute dtype; parameters stay float32 (master weights).
  dtype: str = "float32"
  scan_layers: bool = False
  remat_policy: str = "none"
  logits_chunk_size: int = 0
  # seqio conventions: pad = decoder start = 0, eos = 1.
  decoder_start_token_id: int = 0
  eos_id: int = 1

  def __post_init__(self):
    stacking.check_remat_policy(self.remat_policy)
    if self.relative_attention_num_buckets % 2:
      raise errors.ConfigError(
          "relative_attention_num_buckets must be even (half of the "
          "encoder's buckets are for each direction), got "
          f"{self.relative_attention_num_buckets}", "use 32, as T5 does")

  @property
  def compute_dtype(self):
    return jnp.dtype(self.dtype)


def relative_position_bucket(relative_position: Array, bidirectional: bool,
                             num_buckets: int, max_distance: int) -> Array:
  """T5's bucket of `key_position - query_position`.

  Half the buckets (of each direction, when bidirectional) hold exact
  distances 0 .. n/2-1; the rest grow logarithmically up to `max_distance`,
  beyond which everything shares the last bucket. A decoder only looks back,
  so it spends all buckets on the past. The float32 arithmetic follows the
  Hugging Face implementation (no epsilon inside the log), so bucket
  boundaries match released checkpoints' reference outputs exactly.
  """
  distance = -relative_position  # > 0: the key lies before the query.
  bucket = jnp.zeros_like(relative_position)
  if bidirectional:
    num_buckets //= 2
    bucket = bucket + (distance < 0).astype(jnp.int32) * num_buckets
    distance = jnp.abs(distance)
  else:
    distance = jnp.maximum(distance, 0)
  max_exact = num_buckets // 2
  is_small = distance < max_exact
  # The large branch is only used where distance >= max_exact (no log 0).
  far = jnp.maximum(distance, max_exact).astype(jnp.float32)
  log_ratio = (jnp.log(far / max_exact) /
               np.float32(math.log(max_distance / max_exact)))
  large = max_exact + (log_ratio * (num_buckets - max_exact)).astype(jnp.int32)
  large = jnp.minimum(large, num_buckets - 1)
  return bucket + jnp.where(is_small, distance, large)


class RelativePositionBias(nn.Module):
  """Learned per-head bias for each relative-position bucket."""

  cfg: T5Config
  bidirectional: bool

  @nn.compact
  def __call__(self, query_positions: Array, key_positions: Array) -> Array:
    """`[1, heads, queries, keys]` float32 bias."""
    cfg = self.cfg
    table = self.param(
        "rel_embedding",
        nn.with_logical_partitioning(
            nn.initializers.variance_scaling(1.0, "fan_avg", "uniform"),
            ("heads", "relpos_buckets")),
        (cfg.num_heads, cfg.relative_attention_num_buckets))
    buckets = relative_position_bucket(
        key_positions[None, :] - query_positions[:, None], self.bidirectional,
        cfg.relative_attention_num_buckets,
        cfg.relative_attention_max_distance)
    return jnp.take(table, buckets, axis=1)[None].astype(jnp.float32)


def _normal(stddev: float):
  return nn.initializers.normal(stddev)


class T5Attention(nn.Module):
  """Multi-head attention without biases; `decode=True` uses the cache.

  `bias` is additive, `[batch or 1, heads or 1, queries, keys]`, and carries
  both the mask and the relative-position bias.
  """

  cfg: T5Config

  @nn.compact
  def __call__(self, x: Array, memory: Array, bias: Array,
               deterministic: bool, decode: bool = False) -> Array:
    cfg = self.cfg
    dt = cfg.compute_dtype
    shape = (cfg.d_model, cfg.num_heads, cfg.head_dim)
    axes = ("embed", "heads", "kv")
    q = EinsumDense("bld,dhk->blhk", shape, axes, (), dt,
                    _normal((cfg.d_model * cfg.head_dim) ** -0.5),
                    name="query")(x)
    k, v = (EinsumDense("bld,dhk->blhk", shape, axes, (), dt,
                        _normal(cfg.d_model ** -0.5), name=name)(memory)
            for name in ("key", "value"))
    q, k, v = (nn.with_logical_constraint(
        t, ("batch", "length", "heads", "kv")) for t in (q, k, v))
    if decode:
      k, v = self._update_cache(k, v)
    out = layers.DotProductAttention(cfg.dropout_rate, 1.0, dt,
                                     name="attend")(q, k, v, bias,
                                                    deterministic)
    return EinsumDense("blhk,hkd->bld",
                       (cfg.num_heads, cfg.head_dim, cfg.d_model),
                       ("heads", "kv", "embed"), (), dt,
                       _normal((cfg.num_heads * cfg.head_dim) ** -0.5),
                       name="out")(out)

  def _update_cache(self, k: Array, v: Array) -> tuple[Array, Array]:
    """Writes this step's key/value at the cache index; returns the cache.

    The first call (when the cache is created, at full decode length) only
    allocates; later calls take one token each.
    """
    initialized = self.has_variable("cache", "cached_key")
    cached_k = self.variable("cache", "cached_key", jnp.zeros, k.shape,
                             k.dtype)
    cached_v = self.variable("cache", "cached_value", jnp.zeros, v.shape,
                             v.dtype)
    index = self.variable("cache", "cache_index",
                          lambda: jnp.zeros((), jnp.int32))
    if not initialized:
      return k, v
    i = index.value
    cached_k.value = jax.lax.dynamic_update_slice(cached_k.value, k,
                                                  (0, i, 0, 0))
    cached_v.value = jax.lax.dynamic_update_slice(cached_v.value, v,
                                                  (0, i, 0, 0))
    index.value = i + k.shape[1]
    return cached_k.value, cached_v.value


class GatedGeluMlp(nn.Module):
  """T5.1.1's MLP: gelu(x W0) * (x W1), then W_out."""

  cfg: T5Config

  @nn.compact
  def __call__(self, x: Array, deterministic: bool) -> Array:
    cfg = self.cfg
    dt = cfg.compute_dtype
    proj = lambda name: layers.dense(cfg.d_ff, ("embed", "mlp"), name, dt,
                                     use_bias=False,
                                     stddev=cfg.d_model ** -0.5)
    h = nn.gelu(proj("wi_0")(x), approximate=True) * proj("wi_1")(x)
    h = nn.with_logical_constraint(h, ("batch", "length", "mlp"))
    h = nn.Dropout(cfg.dropout_rate)(h, deterministic=deterministic)
    return layers.dense(cfg.d_model, ("mlp", "embed"), "wo", dt,
                        use_bias=False, stddev=cfg.d_ff ** -0.5)(h)


def _norm(cfg: T5Config, name: str) -> RmsNorm:
  return RmsNorm(cfg.layer_norm_eps, cfg.compute_dtype, name=name)


class T5EncoderLayer(nn.Module):
  cfg: T5Config

  @nn.compact
  def __call__(self, x: Array, bias: Array, deterministic: bool,
               collect: bool = False):
    cfg = self.cfg
    drop = nn.Dropout(cfg.dropout_rate)
    h = _norm(cfg, "attention_norm")(x)
    h = T5Attention(cfg, name="attention")(h, h, bias, deterministic)
    x = x + drop(h, deterministic=deterministic)
    h = GatedGeluMlp(cfg, name="mlp")(_norm(cfg, "mlp_norm")(x), deterministic)
    x = x + drop(h, deterministic=deterministic)
    x = nn.with_logical_constraint(x, ("batch", "length", "embed"))
    return x, (x if collect else None)


class T5DecoderLayer(nn.Module):
  cfg: T5Config

  @nn.compact
  def __call__(self, x: Array, encoded: Array, self_bias: Array,
               cross_bias: Array, deterministic: bool, decode: bool = False):
    cfg = self.cfg
    drop = nn.Dropout(cfg.dropout_rate)
    h = _norm(cfg, "self_attention_norm")(x)
    h = T5Attention(cfg, name="self_attention")(h, h, self_bias,
                                                deterministic, decode)
    x = x + drop(h, deterministic=deterministic)
    h = _norm(cfg, "cross_attention_norm")(x)
    h = T5Attention(cfg, name="cross_attention")(h, encoded, cross_bias,
                                                 deterministic)
    x = x + drop(h, deterministic=deterministic)
    h = GatedGeluMlp(cfg, name="mlp")(_norm(cfg, "mlp_norm")(x), deterministic)
    x = x + drop(h, deterministic=deterministic)
    x = nn.with_logical_constraint(x, ("batch", "length", "embed"))
    return x, None


def _key_mask_bias(tokens: Array) -> Array:
  """`[batch, 1, 1, keys]`: attend only to non-padding keys."""
  return layers.attention_bias(tokens[:, None, None, :] > 0, jnp.float32)


class T5Encoder(nn.Module):
  cfg: T5Config

  def setup(self):
    cfg = self.cfg
    self.relpos = RelativePositionBias(cfg, bidirectional=True,
                                       name="relpos_bias")
    self.layers = stacking.build_stack(
        cfg, T5EncoderLayer, cfg.num_encoder_layers, static_argnums=(3, 4))
    self.final_norm = _norm(cfg, "final_norm")
    self.dropout = nn.Dropout(cfg.dropout_rate)

  def __call__(self, embedded: Array, tokens: Array, deterministic: bool,
               return_all_layers: bool = False):
    positions = jnp.arange(tokens.shape[1])
    bias = _key_mask_bias(tokens) + self.relpos(positions, positions)
    x = self.dropout(embedded, deterministic=deterministic)
    x = nn.with_logical_constraint(x, ("batch", "length", "embed"))
    x, all_layers = stacking.apply_stack(
        self.layers, x, bias, deterministic, return_all_layers,
        collect=return_all_layers)
    x = self.final_norm(x)
    if return_all_layers:
      all_layers = all_layers.at[-1].set(x)
    x = self.dropout(x, deterministic=deterministic)
    if return_all_layers:
      return x, all_layers
    return x


class DecodePosition(nn.Module):
  """The decoder's place in the decode cache (for relative positions).

  The call that allocates the cache (at the full decode length) records that
  length (as the shape of a placeholder) and returns None; each later call
  returns this step's query position `[1]` and every key position
  `[max_len]`, then advances.
  """

  @nn.compact
  def __call__(self, length: int) -> tuple[Array, Array] | None:
    initialized = self.has_variable("cache", "position")
    position = self.variable("cache", "position",
                             lambda: jnp.zeros((), jnp.int32))
    slots = self.variable("cache", "slots",
                          lambda: jnp.zeros((length,), jnp.int32))
    if not initialized:
      return None
    query = position.value[None]
    position.value = position.value + 1
    return query, jnp.arange(slots.value.shape[0], dtype=jnp.int32)


class T5Decoder(nn.Module):
  cfg: T5Config

  def setup(self):
    cfg = self.cfg
    self.relpos = RelativePositionBias(cfg, bidirectional=False,
                                       name="relpos_bias")
    self.layers = stacking.build_stack(
        cfg, T5DecoderLayer, cfg.num_decoder_layers, static_argnums=(5, 6))
    self.final_norm = _norm(cfg, "final_norm")
    self.dropout = nn.Dropout(cfg.dropout_rate)
    self.decode_position = DecodePosition(name="decode_position")

  def _self_bias(self, length: int, decode: bool) -> Array:
    """Causal mask + relative positions; in decode mode, for one position."""
    if decode:
      step = self.decode_position(length)
      if step is not None:
        query, keys = step
        visible = keys[None, :] <= query[:, None]
        return (layers.attention_bias(visible, jnp.float32)[None, None] +
                self.relpos(query, keys))
    positions = jnp.arange(length)
    causal = positions[None, :] <= positions[:, None]
    return (layers.attention_bias(causal, jnp.float32)[None, None] +
            self.relpos(positions, positions))

  def __call__(self, embedded: Array, encoded: Array, encoder_tokens: Array,
               deterministic: bool, decode: bool = False) -> Array:
    self_bias = self._self_bias(embedded.shape[1], decode)
    cross_bias = _key_mask_bias(encoder_tokens)
    x = self.dropout(embedded, deterministic=deterministic)
    x = nn.with_logical_constraint(x, ("batch", "length", "embed"))
    x, _ = stacking.apply_stack(self.layers, x, encoded, self_bias,
                                cross_bias, deterministic, decode)
    x = self.final_norm(x)
    return self.dropout(x, deterministic=deterministic)


class EncoderDecoderModel(nn.Module):
  """mT5-style model; every task is text-to-text."""

  cfg: T5Config
  head: str = TEXT_TO_TEXT

  def setup(self):
    cfg = self.cfg
    if self.head != TEXT_TO_TEXT:
      raise errors.ConfigError(
          f"the mT5 family does every task text-to-text; head {self.head!r} "
          "is for the XLM-R family", f"use head={TEXT_TO_TEXT!r}, or an "
          "EncoderModel preset (models/xlmr_*.gin) for encoder heads")
    self.token_embed = nn.Embed(
        cfg.vocab_size, cfg.d_model, dtype=cfg.compute_dtype,
        embedding_init=nn.with_logical_partitioning(
            nn.initializers.normal(1.0), ("vocab", "embed")),
        name="token_embed")
    self.encoder = T5Encoder(cfg, name="encoder")
    self.decoder = T5Decoder(cfg, name="decoder")
    self.lm_head = self.param(
        "lm_head", nn.with_logical_partitioning(
            nn.initializers.variance_scaling(1.0, "fan_in",
                                             "truncated_normal"),
            ("embed", "vocab")), (cfg.d_model, cfg.vocab_size))

  def _embed(self, tokens: Array) -> Array:
    return layers.embedding_lookup(self.token_embed.embedding, tokens,
                                   self.cfg.compute_dtype)

  def encode(self, encoder_input_tokens: Array,
             deterministic: bool = True) -> Array:
    """Encoder outputs `[batch, length, embed]`."""
    return self.encoder(self._embed(encoder_input_tokens),
                        encoder_input_tokens, deterministic)

  def decode(self, encoded: Array, encoder_input_tokens: Array,
             decoder_input_tokens: Array, deterministic: bool = True,
             decode: bool = False) -> Any:
    """Decoder logits; a `ProjectedHidden` when chunked (never when decoding,
    where the logits are one position long)."""
    hidden = self.decoder(self._embed(decoder_input_tokens), encoded,
                          encoder_input_tokens, deterministic, decode)
    projected = ProjectedHidden(hidden=hidden, kernel=self.lm_head,
                                chunk_size=self.cfg.logits_chunk_size)
    if self.cfg.logits_chunk_size and not decode:
      return projected
    return projected.logits()

  def __call__(self, encoder_input_tokens: Array, decoder_input_tokens: Array,
               deterministic: bool = True) -> Any:
    if decoder_input_tokens.ndim != 2 or encoder_input_tokens.ndim != 2:
      raise errors.ShapeError(
          "text-to-text inputs must be [batch, length]; got encoder "
          f"{encoder_input_tokens.shape}, decoder {decoder_input_tokens.shape}",
          "use seqio's EncDecFeatureConverter features (pack=False)")
    encoded = self.encode(encoder_input_tokens, deterministic)
    return self.decode(encoded, encoder_input_tokens, decoder_input_tokens,
                       deterministic)

  def encoder_hidden_states(self, encoder_input_tokens: Array,
                            deterministic: bool = True) -> Array:
    """`[num_encoder_layers + 1, batch, length, embed]` float32 (index 0:
    embeddings, last: after the final norm), for sentence retrieval."""
    _, all_layers = self.encoder(self._embed(encoder_input_tokens),
                                 encoder_input_tokens, deterministic,
                                 return_all_layers=True)
    return all_layers.astype(jnp.float32)
