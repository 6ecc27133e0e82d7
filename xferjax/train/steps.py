"""The jitted train step (any model family, any head) and the predict step.

The steps are pure functions of (state, batch) so `jax.jit` with
NamedShardings distributes them. The loss is the model family's own
(`xferjax.models.api.make_loss_fn` -> `models.losses`), so every head the
models know (mlm, classification, multiple_choice, span, tagging, embedding,
text_to_text) trains through this one step.

Dropout keys are folded from the step number (and the micro-batch index),
and jax's partitionable threefry makes the random bits independent of how the
batch is sharded: the same losses on 1 or 8 devices, and after a resume.

Gradient accumulation runs inside the jitted step (`lax.scan` over k
micro-batches), so one compiled program does a whole optimizer step. Each
micro-batch contributes its *summed* loss gradient (mean loss x its
`num_targets`) and the sum is divided by the whole batch's target count
once, so the update equals the one of a single batch k times the size, up
to float summation order, also when micro-batches hold different numbers of
targets (masked tokens, ignored tags). Dropout: micro-batch j draws its mask
from `fold_in(step_key, j)`, so with dropout on an accumulated step is a
deterministic function of (seed, step, k) with the same distribution as the
large batch's, but not bit-equal to it (masks of a [B/k, ...] and a [B, ...]
array are different random bits); with dropout off the two are equal.
The `embedding` head's in-batch ranking loss depends on which rows share a
batch, so it cannot be accumulated (`check_accumulation`).

A non-finite loss or gradient never reaches the parameters: the step keeps
the old parameters and optimizer state and reports `nonfinite = 1`, and the
trainer decides whether to stop or to count and continue.
"""

from __future__ import annotations

from typing import Any, Callable

import flax
import jax
import jax.numpy as jnp
import optax
from flax import linen as nn

from xferjax import errors
from xferjax.models import api

Batch = dict[str, jax.Array]

# The metric that counts targets; every other metric the loss returns is a
# mean weighted by it (so micro-batches and logging intervals combine
# exactly).
COUNT_METRIC = "num_targets"
# Heads whose loss couples the rows of a batch (in-batch negatives).
NOT_ACCUMULABLE = ("embedding",)


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: Any
  opt_state: Any


def check_accumulation(head: str, grad_accum_steps: int) -> None:
  if grad_accum_steps > 1 and head in NOT_ACCUMULABLE:
    raise errors.ConfigError(
        f"head {head!r} cannot accumulate gradients over micro-batches: its "
        "loss ranks each row against the other rows of the same batch, so "
        "k micro-batches are not one batch k times the size",
        "set TrainRun.grad_accum_steps = 1 (and a batch_size that fits)")


def split_micro_batches(batch: Batch, k: int) -> Batch:
  """[B, ...] -> [k, B/k, ...]; micro-batch j holds rows j, j+k, j+2k, ...

  Interleaving (rather than contiguous blocks) keeps every micro-batch spread
  over all data-parallel shards, and the composition of a micro-batch does
  not depend on the device count.
  """

  def split(x):
    x = x.reshape((x.shape[0] // k, k) + x.shape[1:])
    x = jnp.moveaxis(x, 1, 0)
    return nn.with_logical_constraint(
        x, (None, "batch") + (None,) * (x.ndim - 2))

  return jax.tree.map(split, batch)


def make_train_step(model: nn.Module, optimizer: optax.GradientTransformation,
                    base_rng: jax.Array | None, grad_accum_steps: int = 1,
                    **loss_options) -> Callable:
  """train_step(state, batch) -> (state, metrics).

  `base_rng=None` trains without dropout; `loss_options` go to the head's
  loss (e.g. `embedding_temperature`)."""
  check_accumulation(model.head, grad_accum_steps)
  loss_fn = api.make_loss_fn(model, **loss_options)

  def summed_loss(params, batch, rng):
    """Loss summed over targets (so micro-batch gradients add up)."""
    loss, metrics = loss_fn(params, batch, rng)
    count = jax.lax.stop_gradient(metrics[COUNT_METRIC])
    return loss * count, metrics

  grad_fn = jax.grad(summed_loss, has_aux=True)

  def to_sums(metrics):
    count = metrics[COUNT_METRIC]
    return {k: v if k == COUNT_METRIC else v * count
            for k, v in metrics.items()}

  def accumulate(params, batch, step_rng):
    if grad_accum_steps == 1:
      grads, metrics = grad_fn(params, batch, step_rng)
      return grads, to_sums(metrics)
    micro = split_micro_batches(batch, grad_accum_steps)

    def body(carry, xs):
      index, micro_batch = xs
      rng = None if step_rng is None else jax.random.fold_in(step_rng, index)
      grads, metrics = grad_fn(params, micro_batch, rng)
      return jax.tree.map(jnp.add, carry, (grads, to_sums(metrics))), None

    def one(micro_batch):
      grads, metrics = grad_fn(params, micro_batch, step_rng)
      return grads, to_sums(metrics)

    shapes = jax.eval_shape(one, jax.tree.map(lambda x: x[0], micro))
    zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
    (grads, sums), _ = jax.lax.scan(
        body, zeros, (jnp.arange(grad_accum_steps), micro))
    return grads, sums

  def train_step(state: TrainState, batch: Batch):
    step_rng = (None if base_rng is None else
                jax.random.fold_in(base_rng, state.step))
    grads, sums = accumulate(state.params, batch, step_rng)
    denom = jnp.maximum(sums[COUNT_METRIC], 1.0)
    grads = jax.tree.map(lambda g: g / denom, grads)
    metrics = {k: v if k == COUNT_METRIC else v / denom
               for k, v in sums.items()}
    grad_norm = optax.tree.norm(grads)
    finite = jnp.isfinite(metrics["loss"]) & jnp.isfinite(grad_norm)

    def update(params, opt_state):
      updates, opt_state = optimizer.update(grads, opt_state, params)
      return optax.apply_updates(params, updates), opt_state

    # A branch, not a select over every parameter and moment: `where` costs
    # three extra passes over the state (the 250k-row embedding included)
    # and copies that defeat donation; the skipped branch costs nothing.
    params, opt_state = jax.lax.cond(
        finite, update, lambda p, o: (p, o), state.params, state.opt_state)
    metrics["grad_norm"] = grad_norm
    metrics["nonfinite"] = 1.0 - finite.astype(jnp.float32)
    return TrainState(state.step + 1, params, opt_state), metrics

  return train_step


def make_predict_step(model: nn.Module) -> Callable:
  """predict_step(params, batch) -> the head's outputs (deterministic)."""

  def predict_step(params, batch: Batch):
    return api.forward(model, params, batch, deterministic=True)

  return predict_step
