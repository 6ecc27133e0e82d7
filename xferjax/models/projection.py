"""Vocabulary projections that may be applied later, chunk by chunk.

With a 250k vocabulary the logits dwarf every other activation: a batch of
256 x 512 tokens gives 128 GiB of float32 logits (and as much again for
their gradient). A model configured with `logits_chunk_size > 0` therefore
returns a `ProjectedHidden` (final hidden states plus the projection) instead
of logits, and `xferjax.models.losses` computes the cross-entropy over
`chunk_size` positions at a time, never holding the full logits
(`xferjax.models.fused_cross_entropy`).
"""

from __future__ import annotations

from typing import Any

import flax
import jax
import jax.numpy as jnp
from flax import linen as nn

Array = jax.Array


@flax.struct.dataclass
class ProjectedHidden:
  """`logits = hidden @ kernel + bias`, not yet computed.

  hidden: [batch, length, embed] in the compute dtype.
  kernel: [embed, vocab], or [vocab, embed] when `vocab_major` (a tied
          embedding is passed as it is: no transposed copy of a 250k-row
          table in the forward or the backward pass).
  bias:   [vocab] or None.
  """

  hidden: Array
  kernel: Array
  bias: Any = None
  chunk_size: int = flax.struct.field(pytree_node=False, default=0)
  vocab_major: bool = flax.struct.field(pytree_node=False, default=False)

  @property
  def vocab_size(self) -> int:
    return self.kernel.shape[0 if self.vocab_major else -1]

  @property
  def shape(self) -> tuple[int, ...]:
    """The shape the logits would have."""
    return (*self.hidden.shape[:-1], self.vocab_size)

  def logits_of(self, hidden: Array) -> Array:
    """Float32 logits of (a chunk of) hidden states `[batch, n, embed]`."""
    kernel = self.kernel.astype(hidden.dtype)
    logits = jnp.einsum("bld,vd->blv" if self.vocab_major else "bld,dv->blv",
                        hidden, kernel)
    if self.bias is not None:
      logits = logits + self.bias.astype(logits.dtype)
    logits = nn.with_logical_constraint(logits, ("batch", "length", "vocab"))
    return logits.astype(jnp.float32)

  def logits(self) -> Array:
    """All logits at once (prediction and tests; training uses chunks)."""
    return self.logits_of(self.hidden)

  def backprop(self, hidden: Array, dlogits: Array
               ) -> tuple[Array, Array, Array]:
    """(d hidden, d kernel, d bias) of `logits_of(hidden)` for `dlogits`.

    Written out (rather than left to autodiff) so that every product is a
    plain matmul in the kernel's own layout, accumulated in float32; the
    bias gradient is a matmul with ones, which XLA's CPU backend runs ~50x
    faster than the equivalent reduction over the batch axes.
    """
    dt = hidden.dtype
    kernel = self.kernel.astype(dt)
    g = dlogits.astype(dt)
    f32 = jnp.float32
    if self.vocab_major:
      dhidden = jnp.einsum("blv,vd->bld", g, kernel, preferred_element_type=f32)
      dkernel = jnp.einsum("blv,bld->vd", g, hidden, preferred_element_type=f32)
    else:
      dhidden = jnp.einsum("blv,dv->bld", g, kernel, preferred_element_type=f32)
      dkernel = jnp.einsum("bld,blv->dv", hidden, g, preferred_element_type=f32)
    ones = jnp.ones(g.shape[:-1], dt)
    dbias = jnp.einsum("bl,blv->v", ones, g, preferred_element_type=f32)
    return dhidden, dkernel, dbias
