"""XLM-R-style Transformer encoder in Flax linen, with logical axis names.

XLM-R (Conneau et al. 2020) is RoBERTa trained on 100 languages: learned
absolute position embeddings, post-LN layers (pre-LN for the XL/XXL models),
GELU MLPs and an MLM head tied to the input embedding. Every parameter is
created with `nn.with_logical_partitioning` and every large activation passes
`nn.with_logical_constraint`, so `xferjax.partitioning` rules decide sharding.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import gin
import jax
import jax.numpy as jnp
from flax import linen as nn

from xferjax import errors

Array = jax.Array


@gin.configurable
@dataclasses.dataclass(frozen=True)
class EncoderConfig:
  """Size and recipe of an encoder. Presets live in gin_configs/models/."""

  vocab_size: int = 512
  d_model: int = 64
  num_layers: int = 2
  num_heads: int = 4
  d_ff: int = 128
  max_len: int = 64
  dropout_rate: float = 0.1
  pre_layer_norm: bool = False
  layer_norm_eps: float = 1e-5
  # Compute dtype; parameters stay float32 (master weights).
  dtype: str = "float32"

  def __post_init__(self):
    if self.d_model % self.num_heads:
      raise errors.ShapeError(
          f"d_model {self.d_model} is not divisible by num_heads "
          f"{self.num_heads}", "pick num_heads that divides d_model")

  @property
  def head_dim(self) -> int:
    return self.d_model // self.num_heads

  @property
  def compute_dtype(self):
    return jnp.dtype(self.dtype)


def _dense(features, axes, name, dtype, use_bias=True):
  return nn.DenseGeneral(
      features=features,
      axis=-1,
      dtype=dtype,
      kernel_init=nn.with_logical_partitioning(
          nn.initializers.normal(0.02), axes),
      bias_init=nn.with_logical_partitioning(
          nn.initializers.zeros_init(), axes[-1:]),
      use_bias=use_bias,
      name=name)


def _layer_norm(cfg: EncoderConfig, name: str):
  return nn.LayerNorm(
      epsilon=cfg.layer_norm_eps,
      dtype=cfg.compute_dtype,
      scale_init=nn.with_logical_partitioning(nn.initializers.ones_init(),
                                              ("embed",)),
      bias_init=nn.with_logical_partitioning(nn.initializers.zeros_init(),
                                             ("embed",)),
      name=name)


class EinsumDense(nn.Module):
  """A projection whose kernel keeps its multi-dimensional logical shape.

  flax's DenseGeneral initialises a flattened 2-D kernel and reshapes it,
  which breaks logical partitioning of 3-D (`embed, heads, kv`) kernels.
  """

  equation: str
  kernel_shape: tuple[int, ...]
  kernel_axes: tuple[str, ...]
  bias_axes: tuple[str, ...]
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    kernel = self.param(
        "kernel", nn.with_logical_partitioning(nn.initializers.normal(0.02),
                                               self.kernel_axes),
        self.kernel_shape)
    bias_shape = self.kernel_shape[-len(self.bias_axes):]
    bias = self.param(
        "bias", nn.with_logical_partitioning(nn.initializers.zeros_init(),
                                             self.bias_axes), bias_shape)
    y = jnp.einsum(self.equation, x.astype(self.dtype),
                   kernel.astype(self.dtype))
    return y + bias.astype(self.dtype)


class SelfAttention(nn.Module):
  """Multi-head self-attention over padded sequences.

  Uses `jax.nn.dot_product_attention` (fused where the backend has a kernel).
  That API has no attention-probability dropout, so dropout is applied to the
  attention output instead; inference is unaffected.
  """

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
    bias = jnp.where(mask[:, None, None, :] > 0, 0.0,
                     jnp.finfo(dt).min).astype(dt)
    out = jax.nn.dot_product_attention(q, k, v, bias=bias)
    if not deterministic and cfg.dropout_rate > 0:
      out = nn.Dropout(cfg.dropout_rate)(out, deterministic=False)
    out = nn.with_logical_constraint(out, ("batch", "length", "heads", "kv"))
    return EinsumDense("blhk,hkd->bld",
                       (cfg.num_heads, cfg.head_dim, cfg.d_model),
                       ("heads", "kv", "embed"), ("embed",), dt,
                       name="out")(out)


class Mlp(nn.Module):
  cfg: EncoderConfig

  @nn.compact
  def __call__(self, x: Array, deterministic: bool) -> Array:
    cfg = self.cfg
    h = _dense(cfg.d_ff, ("embed", "mlp"), "wi", cfg.compute_dtype)(x)
    h = nn.gelu(h, approximate=False)
    h = nn.with_logical_constraint(h, ("batch", "length", "mlp"))
    h = nn.Dropout(cfg.dropout_rate)(h, deterministic=deterministic)
    return _dense(cfg.d_model, ("mlp", "embed"), "wo", cfg.compute_dtype)(h)


class EncoderLayer(nn.Module):
  """One Transformer layer; post-LN (XLM-R base/large) or pre-LN (XL/XXL)."""

  cfg: EncoderConfig

  @nn.compact
  def __call__(self, x: Array, mask: Array, deterministic: bool) -> Array:
    cfg = self.cfg
    drop = nn.Dropout(cfg.dropout_rate)
    if cfg.pre_layer_norm:
      h = SelfAttention(cfg, name="attention")(
          _layer_norm(cfg, "attention_norm")(x), mask, deterministic)
      x = x + drop(h, deterministic=deterministic)
      h = Mlp(cfg, name="mlp")(_layer_norm(cfg, "mlp_norm")(x), deterministic)
      x = x + drop(h, deterministic=deterministic)
    else:
      h = SelfAttention(cfg, name="attention")(x, mask, deterministic)
      x = _layer_norm(cfg, "attention_norm")(
          x + drop(h, deterministic=deterministic))
      h = Mlp(cfg, name="mlp")(x, deterministic)
      x = _layer_norm(cfg, "mlp_norm")(x + drop(h, deterministic=deterministic))
    return nn.with_logical_constraint(x, ("batch", "length", "embed"))


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
        (cfg.max_len, cfg.d_model))
    self.embed_norm = _layer_norm(cfg, "embed_norm")
    self.embed_dropout = nn.Dropout(cfg.dropout_rate)
    self.layers = [EncoderLayer(cfg, name=f"layer_{i}")
                   for i in range(cfg.num_layers)]
    if cfg.pre_layer_norm:
      self.final_norm = _layer_norm(cfg, "final_norm")

  def __call__(self, input_ids: Array, attention_mask: Array,
               deterministic: bool = True, return_all_layers: bool = False):
    cfg = self.cfg
    length = input_ids.shape[1]
    if length > cfg.max_len:
      raise errors.ShapeError(
          f"sequence length {length} exceeds the model's max_len "
          f"{cfg.max_len}", "shorten the feature length or raise "
          "EncoderConfig.max_len")
    x = self.token_embed(input_ids)
    x = x + self.position_embed[None, :length].astype(x.dtype)
    x = self.embed_norm(x)
    x = self.embed_dropout(x, deterministic=deterministic)
    x = nn.with_logical_constraint(x, ("batch", "length", "embed"))
    all_layers = [x]
    for layer in self.layers:
      x = layer(x, attention_mask, deterministic)
      all_layers.append(x)
    if cfg.pre_layer_norm:
      x = self.final_norm(x)
      all_layers[-1] = x
    if return_all_layers:
      return x, jnp.stack(all_layers)
    return x

  def attend(self, x: Array) -> Array:
    """Logits against the (tied) token embedding: the MLM decoder."""
    return self.token_embed.attend(x)


class MlmHead(nn.Module):
  """RoBERTa LM head: dense + GELU + LN, decoder tied to token embeddings."""

  cfg: EncoderConfig

  @nn.compact
  def __call__(self, hidden: Array, encoder: Encoder) -> Array:
    cfg = self.cfg
    h = _dense(cfg.d_model, ("embed", "mlp"), "dense", cfg.compute_dtype)(hidden)
    h = nn.gelu(h, approximate=False)
    h = _layer_norm(cfg, "norm")(h)
    logits = encoder.attend(h)
    bias = self.param("bias", nn.with_logical_partitioning(
        nn.initializers.zeros_init(), ("vocab",)), (cfg.vocab_size,))
    logits = logits + bias.astype(logits.dtype)
    return nn.with_logical_constraint(logits, ("batch", "length", "vocab"))


class ClassificationHead(nn.Module):
  """RoBERTa sequence classifier: first token -> dense+tanh -> labels."""

  cfg: EncoderConfig
  num_labels: int

  @nn.compact
  def __call__(self, hidden: Array, deterministic: bool) -> Array:
    cfg = self.cfg
    x = hidden[:, 0]
    x = nn.Dropout(cfg.dropout_rate)(x, deterministic=deterministic)
    x = _dense(cfg.d_model, ("embed", "mlp"), "dense", cfg.compute_dtype)(x)
    x = jnp.tanh(x)
    x = nn.Dropout(cfg.dropout_rate)(x, deterministic=deterministic)
    return _dense(self.num_labels, ("mlp", "classes"), "out_proj",
                  cfg.compute_dtype)(x)


HEAD_TYPES = ("mlm", "classification")


class EncoderModel(nn.Module):
  """An encoder with one task head. Parameters: {'encoder': ..., 'head': ...}.

  Keeping the encoder under its own key is what makes STILTs-style transfer a
  one-liner: a new phase keeps `params['encoder']` and re-initialises `head`.
  """

  cfg: EncoderConfig
  head: str = "classification"
  num_labels: int = 2

  def setup(self):
    if self.head not in HEAD_TYPES:
      raise errors.ConfigError(f"unknown head type {self.head!r}",
                               f"use one of {HEAD_TYPES}")
    self.encoder = Encoder(self.cfg, name="encoder")
    if self.head == "mlm":
      self.task_head = MlmHead(self.cfg, name="head")
    else:
      self.task_head = ClassificationHead(self.cfg, self.num_labels,
                                          name="head")

  def __call__(self, input_ids: Array, attention_mask: Array,
               deterministic: bool = True) -> Array:
    hidden = self.encoder(input_ids, attention_mask, deterministic)
    if self.head == "mlm":
      logits = self.task_head(hidden, self.encoder)
    else:
      logits = self.task_head(hidden, deterministic)
    return logits.astype(jnp.float32)

  def hidden_states(self, input_ids: Array, attention_mask: Array) -> Any:
    """All layers' hidden states `[L+1, b, l, d]`, for retrieval/probing."""
    _, layers = self.encoder(input_ids, attention_mask, True,
                             return_all_layers=True)
    return layers
