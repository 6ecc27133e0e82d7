"""Vocabulary projections that may be applied later, chunk by chunk.

With a 250k vocabulary the logits dwarf every other activation: a batch of
256 x 512 tokens gives 128 GiB of float32 logits (and as much again for
their gradient). A model configured with `logits_chunk_size > 0` therefore
returns a `ProjectedHidden` (final hidden states plus the projection) instead
of logits, and `xferjax.models.losses` computes the cross-entropy over
`chunk_size` positions at a time, never holding the full logits.
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
  kernel: [embed, vocab] (a tied embedding passes its transpose).
  bias:   [vocab] or None.
  """

  hidden: Array
  kernel: Array
  bias: Any = None
  chunk_size: int = flax.struct.field(pytree_node=False, default=0)

  @property
  def shape(self) -> tuple[int, ...]:
    """The shape the logits would have."""
    return (*self.hidden.shape[:-1], self.kernel.shape[-1])

  def logits_of(self, hidden: Array) -> Array:
    """Float32 logits of (a chunk of) hidden states `[batch, n, embed]`."""
    logits = jnp.einsum("bld,dv->blv", hidden,
                        self.kernel.astype(hidden.dtype))
    if self.bias is not None:
      logits = logits + self.bias.astype(logits.dtype)
    logits = nn.with_logical_constraint(logits, ("batch", "length", "vocab"))
    return logits.astype(jnp.float32)

  def logits(self) -> Array:
    """All logits at once (prediction and tests; training uses chunks)."""
    return self.logits_of(self.hidden)
