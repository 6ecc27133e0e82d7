"""Loss functions and the jitted train/eval steps, one per head type.

The steps are pure functions of (state, batch) so `jax.jit` with
NamedShardings distributes them. Dropout keys are folded from the step
number (and the micro-batch index), and jax's partitionable threefry makes
the random bits independent of how the batch is sharded: the same losses on
1 or 8 devices, and after a resume.

Gradient accumulation runs inside the jitted step (`lax.scan` over k
micro-batches), so one compiled program does a whole optimizer step and the
accumulated gradient is exactly the large batch's gradient, up to float
summation order: each micro-batch contributes its *summed* loss gradient and
the sum is divided by the whole batch's target count once.

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

Batch = dict[str, jax.Array]

# The metric that counts targets; every other metric loss_and_metrics
# returns is a mean weighted by it (so micro-batches and logging intervals
# combine exactly).
COUNT_METRIC = "num_targets"


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: Any
  opt_state: Any


def loss_and_metrics(head: str, logits: jax.Array,
                     batch: Batch) -> tuple[jax.Array, dict[str, jax.Array]]:
  """Mean loss, and metrics that are means weighted by `num_targets`."""
  if head == "mlm":
    weights = batch["loss_weights"]
    losses = optax.softmax_cross_entropy_with_integer_labels(
        logits, batch["targets"])
    correct = (jnp.argmax(logits, -1) == batch["targets"]) * weights
  else:
    weights = jnp.ones(logits.shape[:1], jnp.float32)
    losses = optax.softmax_cross_entropy_with_integer_labels(
        logits, batch["label"])
    correct = (jnp.argmax(logits, -1) == batch["label"]).astype(jnp.float32)
  denom = jnp.maximum(weights.sum(), 1.0)
  loss = (losses * weights).sum() / denom
  return loss, {"loss": loss, "accuracy": correct.sum() / denom,
                COUNT_METRIC: weights.sum()}


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
                    base_rng: jax.Array, grad_accum_steps: int = 1
                    ) -> Callable:
  """train_step(state, batch) -> (state, metrics)."""

  def summed_loss(params, batch, rng):
    """Loss summed over targets (so micro-batch gradients add up)."""
    logits = model.apply({"params": params}, batch["input_ids"],
                         batch["attention_mask"], deterministic=False,
                         rngs={"dropout": rng})
    loss, metrics = loss_and_metrics(model.head, logits, batch)
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
      grads, metrics = grad_fn(params, micro_batch,
                               jax.random.fold_in(step_rng, index))
      return jax.tree.map(jnp.add, carry, (grads, to_sums(metrics))), None

    zeros = jax.eval_shape(lambda: grad_fn(params, jax.tree.map(
        lambda x: x[0], micro), step_rng))
    zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype),
                         (zeros[0], to_sums(zeros[1])))
    (grads, sums), _ = jax.lax.scan(
        body, zeros, (jnp.arange(grad_accum_steps), micro))
    return grads, sums

  def train_step(state: TrainState, batch: Batch):
    step_rng = jax.random.fold_in(base_rng, state.step)
    grads, sums = accumulate(state.params, batch, step_rng)
    denom = jnp.maximum(sums[COUNT_METRIC], 1.0)
    grads = jax.tree.map(lambda g: g / denom, grads)
    metrics = {k: v if k == COUNT_METRIC else v / denom
               for k, v in sums.items()}
    grad_norm = optax.tree.norm(grads)
    updates, opt_state = optimizer.update(grads, state.opt_state,
                                          state.params)
    params = optax.apply_updates(state.params, updates)
    finite = jnp.isfinite(metrics["loss"]) & jnp.isfinite(grad_norm)
    keep = lambda new, old: jax.tree.map(
        lambda n, o: jnp.where(finite, n, o), new, old)
    metrics["grad_norm"] = grad_norm
    metrics["nonfinite"] = 1.0 - finite.astype(jnp.float32)
    return TrainState(state.step + 1, keep(params, state.params),
                      keep(opt_state, state.opt_state)), metrics

  return train_step


def make_predict_step(model: nn.Module) -> Callable:
  """predict_step(params, batch) -> logits (deterministic)."""

  def predict_step(params, batch: Batch):
    return model.apply({"params": params}, batch["input_ids"],
                       batch["attention_mask"], deterministic=True)

  return predict_step
