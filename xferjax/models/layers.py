"""Building blocks shared by the model families, all with logical axis names.

Every parameter is created through `nn.with_logical_partitioning`, so the
rules in `xferjax.partitioning` decide how it is sharded; the model code never
names a mesh axis.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import linen as nn

Array = jax.Array
Initializer = Callable[..., Array]


def dense(features: int, axes: tuple[str, str], name: str, dtype: Any,
          use_bias: bool = True, stddev: float = 0.02) -> nn.Module:
  """A 2-D projection whose kernel is `axes` and bias `axes[-1:]`."""
  return nn.DenseGeneral(
      features=features,
      axis=-1,
      dtype=dtype,
      kernel_init=nn.with_logical_partitioning(
          nn.initializers.normal(stddev), axes),
      bias_init=nn.with_logical_partitioning(
          nn.initializers.zeros_init(), axes[-1:]),
      use_bias=use_bias,
      name=name)


def layer_norm(eps: float, dtype: Any, name: str) -> nn.Module:
  """LayerNorm over `embed` (XLM-R's norm, with scale and bias)."""
  return nn.LayerNorm(
      epsilon=eps,
      dtype=dtype,
      scale_init=nn.with_logical_partitioning(nn.initializers.ones_init(),
                                              ("embed",)),
      bias_init=nn.with_logical_partitioning(nn.initializers.zeros_init(),
                                             ("embed",)),
      name=name)


def embedding_lookup(table: Array, ids: Array, dtype: Any,
                     rows: str = "vocab") -> Array:
  """Rows of a `[rows, embed]` table for `ids`, as `[batch, length, embed]`.

  The table is first gathered whole along `embed` (what FSDP does for every
  weight before use) but stays split along `vocab`: XLA then looks up the
  local rows on each tensor shard and sums over shards, and the result comes
  out split by batch. Gathering straight from an (fsdp, tensor)-split table
  makes XLA replicate the whole output instead ("involuntary full
  rematerialization").
  """
  table = nn.with_logical_constraint(table, (rows, None))
  out = jnp.take(table, ids, axis=0).astype(dtype)
  return nn.with_logical_constraint(out, ("batch",) + (None,) * (
      ids.ndim - 1) + ("embed",))


class EinsumDense(nn.Module):
  """A projection whose kernel keeps its multi-dimensional logical shape.

  flax's DenseGeneral initialises a flattened 2-D kernel and reshapes it,
  which breaks logical partitioning of 3-D (`embed, heads, kv`) kernels.
  `bias_axes=()` means no bias (T5 has none).
  """

  equation: str
  kernel_shape: tuple[int, ...]
  kernel_axes: tuple[str, ...]
  bias_axes: tuple[str, ...]
  dtype: Any = jnp.float32
  kernel_init: Initializer = nn.initializers.normal(0.02)

  @nn.compact
  def __call__(self, x: Array) -> Array:
    kernel = self.param(
        "kernel", nn.with_logical_partitioning(self.kernel_init,
                                               self.kernel_axes),
        self.kernel_shape)
    y = jnp.einsum(self.equation, x.astype(self.dtype),
                   kernel.astype(self.dtype))
    if not self.bias_axes:
      return y
    bias_shape = self.kernel_shape[-len(self.bias_axes):]
    bias = self.param(
        "bias", nn.with_logical_partitioning(nn.initializers.zeros_init(),
                                             self.bias_axes), bias_shape)
    return y + bias.astype(self.dtype)


class RmsNorm(nn.Module):
  """T5's layer norm: scale only, no mean subtraction, no bias."""

  eps: float = 1e-6
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    scale = self.param(
        "scale", nn.with_logical_partitioning(nn.initializers.ones_init(),
                                              ("embed",)), (x.shape[-1],))
    x32 = x.astype(jnp.float32)
    y = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, -1, keepdims=True) + self.eps)
    return (y * scale).astype(self.dtype)


def attention_bias(keep: Array, dtype: Any) -> Array:
  """0 where `keep`, the dtype's most negative value elsewhere."""
  return jnp.where(keep, 0.0, jnp.finfo(dtype).min).astype(dtype)


class DotProductAttention(nn.Module):
  """softmax(q k^T * scale + bias) v, with dropout on the probabilities.

  Both families attend this way (as the reference implementations do):
  XLM-R scales the logits by 1/sqrt(head_dim), T5 does not scale at all (its
  initialisation absorbs the factor). Logits and softmax are float32 whatever
  the compute dtype. `bias` is additive and broadcasts to
  `[batch, heads, queries, keys]` (mask, relative positions or both).
  """

  dropout_rate: float
  scale: float = 1.0
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, q: Array, k: Array, v: Array, bias: Array,
               deterministic: bool) -> Array:
    logits = jnp.einsum("bqhk,bthk->bhqt", q, k,
                        preferred_element_type=jnp.float32)
    if self.scale != 1.0:
      logits = logits * self.scale
    weights = jax.nn.softmax(logits + bias.astype(jnp.float32), axis=-1)
    weights = nn.Dropout(self.dropout_rate)(
        weights.astype(self.dtype), deterministic=deterministic)
    out = jnp.einsum("bhqt,bthk->bqhk", weights, v.astype(self.dtype))
    return nn.with_logical_constraint(out, ("batch", "length", "heads", "kv"))
