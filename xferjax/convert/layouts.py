"""How a Hugging Face (PyTorch) tensor is laid out as one of our parameters.

PyTorch's `nn.Linear` stores `[out, in]`; our kernels are `[in, out]`, and
attention kernels keep their head axes (`[embed, heads, kv]` in,
`[heads, kv, embed]` out) so they can be sharded by heads. Each layout is
a pair of pure functions between the two, plus the shape one implies for
the other. Vocabulary-indexed tensors additionally permute ids (XLM-R's
`<s>`/`<pad>` swap, see `xferjax.data.vocab.XlmrVocabulary`).

`block_axis` is the axis of *our* array that HF's axis 0 maps to, for the
layouts that may be converted a row block at a time (embeddings and output
projections, the only tensors large enough to need it); None: whole only.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

Shape = tuple[int, ...]


def swap_rows(x: np.ndarray, swap: tuple[int, int] | None,
              first_row: int = 0) -> np.ndarray:
  """`x` (rows first_row.. of a vocabulary-indexed tensor) with the rows of
  ids `swap` exchanged; the swap is its own inverse."""
  if swap is None:
    return x
  a, b = (i - first_row for i in swap)
  if not (0 <= a < len(x) and 0 <= b < len(x)):
    if 0 <= a < len(x) or 0 <= b < len(x):
      raise ValueError(f"row block at {first_row} splits the swap {swap}")
    return x
  x = np.array(x)
  x[[a, b]] = x[[b, a]]
  return x


@dataclasses.dataclass(frozen=True)
class Layout:
  name: str
  hf_shape: Callable[[Shape], Shape]  # from our shape
  to_ours: Callable[[np.ndarray, Shape], np.ndarray]  # (hf block, our shape)
  to_hf: Callable[[np.ndarray], np.ndarray]
  block_axis: int | None = None
  vocab: bool = False  # rows are token ids (permuted by the family's swap)


def _t(x: np.ndarray) -> np.ndarray:
  return np.ascontiguousarray(x.T)


LAYOUTS = {layout.name: layout for layout in (
    # Same shape both sides: norms, biases, position and type embeddings.
    Layout("same", lambda s: s, lambda x, s: x, lambda x: x, block_axis=0),
    # Token-id rows: embeddings, the MLM output bias.
    Layout("vocab", lambda s: s, lambda x, s: x, lambda x: x, block_axis=0,
           vocab=True),
    # nn.Linear [out, in] <-> [in, out]; relative-position tables
    # [buckets, heads] <-> [heads, buckets]; mT5's lm_head [vocab, d].
    Layout("transpose", lambda s: s[::-1], lambda x, s: _t(x), _t,
           block_axis=1),
    # q/k/v: [heads*kv, embed] <-> [embed, heads, kv].
    Layout("heads_in", lambda s: (s[1] * s[2], s[0]),
           lambda x, s: _t(x).reshape(s), lambda x: _t(x.reshape(x.shape[0],
                                                                 -1))),
    # attention output: [embed, heads*kv] <-> [heads, kv, embed].
    Layout("heads_out", lambda s: (s[2], s[0] * s[1]),
           lambda x, s: _t(x).reshape(s),
           lambda x: _t(x.reshape(-1, x.shape[-1]))),
    # q/k/v biases: [heads*kv] <-> [heads, kv].
    Layout("heads_bias", lambda s: (s[0] * s[1],),
           lambda x, s: x.reshape(s), lambda x: x.reshape(-1)),
)}
