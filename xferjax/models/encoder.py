"""XLM-R-style Transformer encoder in Flax linen, with logical axis names.

XLM-R (Conneau et al. 2020) is RoBERTa trained on 100 languages: learned
absolute position embeddings in fairseq's layout (positions start at 2), one
token-type embedding, post-LN layers with an embedding LayerNorm (pre-LN with
a final LayerNorm and no embedding LayerNorm for the XL/XXL models of Goyal
et al. 2021), GELU MLPs and an MLM head tied to the input embedding. The
layout mirrors the released (Hugging Face) checkpoints parameter for
parameter, so they can be imported with logit parity.
Every parameter is created with `nn.with_logical_partitioning` and every large
activation passes `nn.with_logical_constraint`, so `xferjax.partitioning`
rules decide sharding. `EncoderConfig.scan_layers` / `.remat_policy` select a
scanned, rematerialised layer stack (`xferjax.models.stacking`), which the
1B+ presets use.

`EncoderModel(cfg, head, num_labels)` puts one task head on the encoder; the
heads and the inputs each expects are listed in `HEAD_TYPES` and
`xferjax.models.heads`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import gin
import jax
import jax.numpy as jnp
from flax import linen as nn

from xferjax import errors
from xferjax.models import heads as heads_lib
from xferjax.models import layers, stacking
from xferjax.models.heads import ClassificationHead, MlmHead  # noqa: F401
from xferjax.models.layers import EinsumDense  # noqa: F401  (public name)

Array = jax.Array


# fairseq/XLM-R position layout: padding_idx (1) + 1. Real tokens take
# position rows 2, 3, ...; padding takes row 1; row 0 is never used. HF's
# `max_position_embeddings` (514) is `max_len + POSITION_OFFSET`.
PADDING_POSITION = 1
POSITION_OFFSET = PADDING_POSITION + 1


@gin.configurable
@dataclasses.dataclass(frozen=True)
class EncoderConfig:
  """Size and recipe of an encoder. Presets live in gin_configs/models/."""

  vocab_size: int = 512
  d_model: int = 64
  num_layers: int = 2
  num_heads: int = 4
  d_ff: int = 128
  # Longest sequence; the position table has max_len + POSITION_OFFSET rows.
  max_len: int = 64
  dropout_rate: float = 0.1
  # Post-LN (XLM-R base/large) or pre-LN with a final LayerNorm (XL/XXL).
  pre_layer_norm: bool = False
  # LayerNorm after the embeddings (XLM-R base/large; XL/XXL have none).
  embedding_layer_norm: bool = True
  layer_norm_eps: float = 1e-5
  # Segment embeddings; XLM-R has one type (a learned bias, kept for parity
  # with released checkpoints).
  type_vocab_size: int = 1
  # Compute dtype; parameters stay float32 (master weights).
  dtype: str = "float32"
  # Scan over layers (compile time independent of depth) and the remat
  # policy of each layer (see xferjax.models.stacking.REMAT_POLICIES).
  scan_layers: bool = False
  remat_policy: str = "none"
  # > 0: the MLM head returns a ProjectedHidden and the loss computes logits
  # this many positions at a time (for 250k vocabularies).
  logits_chunk_size: int = 0

  def __post_init__(self):
    if self.d_model % self.num_heads:
      raise errors.ShapeError(
          f"d_model {self.d_model} is not divisible by num_heads "
          f"{self.num_heads}", "pick num_heads that divides d_model")
    for name in ("vocab_size", "d_model", "num_layers", "d_ff", "max_len",
                 "type_vocab_size"):
      if getattr(self, name) < 1:
        raise errors.ConfigError(f"EncoderConfig.{name} must be >= 1, got "
                                 f"{getattr(self, name)}",
                                 f"fix EncoderConfig.{name} in the preset")
    stacking.check_remat_policy(self.remat_policy)

  @property
  def head_dim(self) -> int:
    return self.d_model // self.num_heads

  @property
  def compute_dtype(self):
    return jnp.dtype(self.dtype)


def position_ids(attention_mask: Array) -> Array:
  """XLM-R's positions: 2, 3, ... over real tokens, 1 on padding."""
  mask = (attention_mask > 0).astype(jnp.int32)
  return jnp.cumsum(mask, axis=-1) * mask + PADDING_POSITION


class SelfAttention(nn.Module):
  """Multi-head self-attention over padded sequences (logits scaled by
  1/sqrt(head_dim), dropout on the attention probabilities, as BERT)."""

  cfg: EncoderConfig

  @nn.compact
  def __call__(self, x: Array, mask: Array, deterministic: bool) -> Array:
    cfg = self.cfg
    dt = cfg.compute_dtype
    q, k, v = (
        EinsumDense("bld,dhk->blhk",
                    (cfg.d_model, cfg.num_heads, cfg.head_dim),
                    ("embed", "heads", "kv"), ("heads", "kv"), dt,
                    name=name)(x)
        for name in ("query", "key", "value"))
    q, k, v = (nn.with_logical_constraint(
        t, ("batch", "length", "heads", "kv")) for t in (q, k, v))
    # mask: [batch, length] (1 = token); broadcast to [b, 1, q, k].
    bias = layers.attention_bias(mask[:, None, None, :] > 0, jnp.float32)
    out = layers.DotProductAttention(cfg.dropout_rate, cfg.head_dim ** -0.5,
                                     dt, name="attend")(q, k, v, bias,
                                                        deterministic)
    return EinsumDense("blhk,hkd->bld",
                       (cfg.num_heads, cfg.head_dim, cfg.d_model),
                       ("heads", "kv", "embed"), ("embed",), dt,
                       name="out")(out)


class Mlp(nn.Module):
  """dense -> exact GELU -> dense (RoBERTa has no dropout between them)."""

  cfg: EncoderConfig

  @nn.compact
  def __call__(self, x: Array) -> Array:
    cfg = self.cfg
    h = layers.dense(cfg.d_ff, ("embed", "mlp"), "wi", cfg.compute_dtype)(x)
    h = nn.gelu(h, approximate=False)
    h = nn.with_logical_constraint(h, ("batch", "length", "mlp"))
    return layers.dense(cfg.d_model, ("mlp", "embed"), "wo",
                        cfg.compute_dtype)(h)


class EncoderLayer(nn.Module):
  """One Transformer layer; post-LN (XLM-R base/large) or pre-LN (XL/XXL).

  Returns `(output, output if collect else None)`: the shape a scanned
  stack needs (carry, per-layer output).
  """

  cfg: EncoderConfig

  @nn.compact
  def __call__(self, x: Array, mask: Array, deterministic: bool,
               collect: bool = False):
    cfg = self.cfg
    drop = nn.Dropout(cfg.dropout_rate)
    norm = lambda name: layers.layer_norm(cfg.layer_norm_eps,
                                          cfg.compute_dtype, name)
    if cfg.pre_layer_norm:
      h = SelfAttention(cfg, name="attention")(
          norm("attention_norm")(x), mask, deterministic)
      x = x + drop(h, deterministic=deterministic)
      h = Mlp(cfg, name="mlp")(norm("mlp_norm")(x))
      x = x + drop(h, deterministic=deterministic)
    else:
      h = SelfAttention(cfg, name="attention")(x, mask, deterministic)
      x = norm("attention_norm")(x + drop(h, deterministic=deterministic))
      h = Mlp(cfg, name="mlp")(x)
      x = norm("mlp_norm")(x + drop(h, deterministic=deterministic))
    x = nn.with_logical_constraint(x, ("batch", "length", "embed"))
    return x, (x if collect else None)


class Encoder(nn.Module):
  """Token + position embeddings and a stack of layers.

  Returns the final hidden states and, when asked, the hidden states after the
  embeddings and after every layer stacked as `[num_layers + 1, b, l, d]`
  (what sentence-retrieval evaluation pools from).
  """

  cfg: EncoderConfig

  def setup(self):
    cfg = self.cfg
    self.token_embed = nn.Embed(
        cfg.vocab_size, cfg.d_model, dtype=cfg.compute_dtype,
        embedding_init=nn.with_logical_partitioning(
            nn.initializers.normal(0.02), ("vocab", "embed")),
        name="token_embed")
    self.position_embed = self.param(
        "position_embed",
        nn.with_logical_partitioning(nn.initializers.normal(0.02),
                                     ("max_len", "embed")),
        (cfg.max_len + POSITION_OFFSET, cfg.d_model))
    self.token_type_embed = self.param(
        "token_type_embed",
        nn.with_logical_partitioning(nn.initializers.normal(0.02),
                                     ("token_types", "embed")),
        (cfg.type_vocab_size, cfg.d_model))
    if cfg.embedding_layer_norm:
      self.embed_norm = layers.layer_norm(cfg.layer_norm_eps,
                                          cfg.compute_dtype, "embed_norm")
    self.embed_dropout = nn.Dropout(cfg.dropout_rate)
    self.layers = stacking.build_stack(cfg, EncoderLayer, cfg.num_layers,
                                       static_argnums=(3, 4))
    if cfg.pre_layer_norm:
      self.final_norm = layers.layer_norm(cfg.layer_norm_eps,
                                          cfg.compute_dtype, "final_norm")

  def __call__(self, input_ids: Array, attention_mask: Array,
               deterministic: bool = True, return_all_layers: bool = False):
    cfg = self.cfg
    length = input_ids.shape[1]
    if length > cfg.max_len:
      raise errors.ShapeError(
          f"sequence length {length} exceeds the model's max_len "
          f"{cfg.max_len}", "shorten the feature length or raise "
          "EncoderConfig.max_len")
    x = layers.embedding_lookup(self.token_embed.embedding, input_ids,
                                cfg.compute_dtype)
    # Segment type 0 for every token (XLM-R has no segment ids).
    x = x + layers.embedding_lookup(self.token_type_embed,
                                    jnp.zeros_like(input_ids), x.dtype,
                                    "token_types")
    x = x + layers.embedding_lookup(self.position_embed,
                                    position_ids(attention_mask), x.dtype,
                                    "max_len")
    if cfg.embedding_layer_norm:
      x = self.embed_norm(x)
    x = self.embed_dropout(x, deterministic=deterministic)
    x = nn.with_logical_constraint(x, ("batch", "length", "embed"))
    x, all_layers = stacking.apply_stack(
        self.layers, x, attention_mask, deterministic, return_all_layers,
        collect=return_all_layers)
    if cfg.pre_layer_norm:
      x = self.final_norm(x)
      if return_all_layers:
        all_layers = all_layers.at[-1].set(x)
    if return_all_layers:
      return x, all_layers
    return x

  def embedding_matrix(self) -> Array:
    """The token embedding `[vocab, embed]` (tied MLM decoder weights)."""
    return self.token_embed.embedding


# head -> the batch features its forward pass reads (see losses.py for the
# targets). Multiple-choice inputs are [batch, choices, length].
HEAD_TYPES = ("mlm", "classification", "multiple_choice", "span", "tagging",
              "embedding")
HEADS_WITH_LABELS = ("classification", "tagging")


class EncoderModel(nn.Module):
  """An encoder with one task head. Parameters: {'encoder': ..., 'head': ...}.

  Keeping the encoder under its own key is what makes STILTs-style transfer a
  one-liner: a new phase keeps `params['encoder']` and re-initialises `head`.
  The `embedding` head has no parameters and returns the hidden states of
  every layer, `[num_layers + 1, batch, length, embed]`.

  `num_labels` sizes the classification and tagging heads; for
  `multiple_choice` it is the number of choices C (inputs `[B, C, L]`).
  """

  cfg: EncoderConfig
  head: str = "classification"
  num_labels: int = 2

  def setup(self):
    if self.head not in HEAD_TYPES:
      raise errors.ConfigError(f"unknown head type {self.head!r}",
                               f"use one of {HEAD_TYPES}")
    if self.head in HEADS_WITH_LABELS + ("multiple_choice",) and (
        self.num_labels < 1):
      raise errors.ConfigError(
          f"head {self.head!r} needs num_labels >= 1, got {self.num_labels}",
          "size the head from the task's label names (or number of choices)")
    self.encoder = Encoder(self.cfg, name="encoder")
    cfg = self.cfg
    if self.head == "mlm":
      self.task_head = MlmHead(cfg, name="head")
    elif self.head == "classification":
      self.task_head = ClassificationHead(cfg, self.num_labels, name="head")
    elif self.head == "multiple_choice":
      self.task_head = heads_lib.MultipleChoiceHead(cfg, self.num_labels,
                                                    name="head")
    elif self.head == "span":
      self.task_head = heads_lib.SpanHead(cfg, name="head")
    elif self.head == "tagging":
      self.task_head = heads_lib.TaggingHead(cfg, self.num_labels, name="head")

  def __call__(self, input_ids: Array, attention_mask: Array,
               deterministic: bool = True) -> Any:
    if self.head == "embedding":
      return self.hidden_states(input_ids, attention_mask, deterministic)
    if self.head == "multiple_choice":
      if input_ids.ndim != 3 or input_ids.shape[1] != self.num_labels:
        raise errors.ShapeError(
            f"multiple_choice inputs must be [batch, {self.num_labels}, "
            f"length], got {input_ids.shape}",
            "lay out every example as its C (context, choice) rows, or build "
            "the model with num_labels = the number of choices")
      input_ids = input_ids.reshape(-1, input_ids.shape[-1])
      attention_mask = attention_mask.reshape(-1, attention_mask.shape[-1])
    hidden = self.encoder(input_ids, attention_mask, deterministic)
    if self.head == "mlm":
      out = self.task_head(hidden, self.encoder)
      return out if self.cfg.logits_chunk_size else out.astype(jnp.float32)
    if self.head in ("multiple_choice", "span"):
      args = (hidden, attention_mask)
      if self.head == "multiple_choice":
        args += (deterministic,)
      return self.task_head(*args).astype(jnp.float32)
    return self.task_head(hidden, deterministic).astype(jnp.float32)

  def hidden_states(self, input_ids: Array, attention_mask: Array,
                    deterministic: bool = True) -> Any:
    """All layers' hidden states `[L+1, b, l, d]`, for retrieval/probing."""
    _, layers_out = self.encoder(input_ids, attention_mask, deterministic,
                                 return_all_layers=True)
    return layers_out.astype(jnp.float32)
