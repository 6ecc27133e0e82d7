"""Layer stacks: unrolled or scanned, with an optional rematerialisation policy.

Why scan: an unrolled stack of N layers is N copies of the layer in the HLO,
so compile time grows with depth; `nn.scan` traces one layer and loops, so a
48-layer 10B model compiles as fast as a 2-layer one. Scanned parameters get
a leading `layers` logical axis (mapped to None by every shipped rule set).

Why remat: the backward pass needs the forward activations. Saving them all
is what runs out of HBM at 1B+; a remat policy trades recomputation for
memory:

  none           save everything (fastest, most memory)
  dots           save matmul outputs, recompute the element-wise work
  dots_no_batch  save only matmuls without batch dimensions (weights-like)
  full           save nothing but each layer's input; recompute the layer

Unrolled parameters are named `layer_0 .. layer_{N-1}`, scanned ones `layers`
with the layer index as axis 0; `stack_layer_params` / `unstack_layer_params`
convert between the two (checkpoints stay usable either way).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import linen as nn

from xferjax import errors

REMAT_POLICIES: dict[str, Callable | None] = {
    "none": None,
    "dots": jax.checkpoint_policies.checkpoint_dots,
    "dots_no_batch": jax.checkpoint_policies.dots_with_no_batch_dims_saveable,
    "full": jax.checkpoint_policies.nothing_saveable,
}

UNROLLED_PREFIX = "layer_"
SCANNED_NAME = "layers"


def check_remat_policy(name: str) -> None:
  if name not in REMAT_POLICIES:
    raise errors.ConfigError(f"unknown remat policy {name!r}",
                             f"use one of {sorted(REMAT_POLICIES)}")


def layer_class(layer_cls: type[nn.Module], *, num_layers: int, scan: bool,
                remat_policy: str, static_argnums: tuple[int, ...]) -> Any:
  """`layer_cls` wrapped in remat and/or scan as configured.

  `static_argnums` index the layer's Python-valued arguments (flags such as
  `deterministic`), counting `self` as 0. A scanned layer's `__call__` must
  return `(carry, per_layer_output_or_None)`; every argument but the carry
  is broadcast to all layers.
  """
  check_remat_policy(remat_policy)
  cls = layer_cls
  if remat_policy != "none":
    cls = nn.remat(cls, policy=REMAT_POLICIES[remat_policy],
                   static_argnums=static_argnums,
                   # Inside scan, CSE cannot undo the remat; outside it can.
                   prevent_cse=not scan)
  if scan:
    cls = nn.scan(cls,
                  variable_axes={"params": 0, "cache": 0},
                  split_rngs={"params": True, "dropout": True},
                  in_axes=nn.broadcast,
                  length=num_layers,
                  metadata_params={nn.PARTITION_NAME: "layers"})
  return cls


def build_stack(cfg: Any, layer_cls: type[nn.Module], num_layers: int,
                static_argnums: tuple[int, ...]) -> Any:
  """The layers of one stack, as `cfg.scan_layers` asks: one scanned module
  named `SCANNED_NAME`, or `num_layers` modules `UNROLLED_PREFIX<i>` (the
  names checkpoints and the converters rely on). `cfg` needs
  `scan_layers` and `remat_policy`; modules get `cfg` as their only field."""
  cls = layer_class(layer_cls, num_layers=num_layers, scan=cfg.scan_layers,
                    remat_policy=cfg.remat_policy,
                    static_argnums=static_argnums)
  if cfg.scan_layers:
    return cls(cfg, name=SCANNED_NAME)
  return [cls(cfg, name=f"{UNROLLED_PREFIX}{i}") for i in range(num_layers)]


def apply_stack(stack: Any, x: jax.Array, *args,
                collect: bool = False) -> tuple[jax.Array, Any]:
  """Runs a layer stack made by `layer_class`: a scanned module or a list.

  `args` are the layers' arguments after the carry. Returns the output and,
  when `collect`, the hidden states `[num_layers + 1, ...]` (the input, then
  each layer's output); a scanned layer must then return its output as the
  per-layer value (see `layer_class`).
  """
  if isinstance(stack, (list, tuple)):
    hidden = [x]
    for layer in stack:
      x, _ = layer(x, *args)
      hidden.append(x)
    return x, (jnp.stack(hidden) if collect else None)
  first = x
  x, per_layer = stack(x, *args)
  if not collect:
    return x, None
  return x, jnp.concatenate([first[None], per_layer.astype(first.dtype)])


def _convert(tree: Any, fn: Callable[[dict], dict]) -> Any:
  if not isinstance(tree, dict):
    return tree
  tree = fn(dict(tree))
  return {k: _convert(v, fn) for k, v in tree.items()}


def stack_layer_params(params: Any) -> Any:
  """Unrolled parameters (`layer_0 ..`) to scanned ones (`layers`)."""

  def fn(node: dict) -> dict:
    names = sorted((k for k in node if k.startswith(UNROLLED_PREFIX)),
                   key=lambda k: int(k[len(UNROLLED_PREFIX):]))
    if not names:
      return node
    layers = [node.pop(k) for k in names]
    node[SCANNED_NAME] = jax.tree.map(lambda *xs: jnp.stack(xs), *layers)
    return node

  return _convert(params, fn)


def unstack_layer_params(params: Any) -> Any:
  """Scanned parameters (`layers`) to unrolled ones (`layer_0 ..`)."""

  def fn(node: dict) -> dict:
    if SCANNED_NAME not in node:
      return node
    stacked = node.pop(SCANNED_NAME)
    n = jax.tree.leaves(stacked)[0].shape[0]
    for i in range(n):
      node[f"{UNROLLED_PREFIX}{i}"] = jax.tree.map(lambda x, i=i: x[i],
                                                   stacked)
    return node

  return _convert(params, fn)
