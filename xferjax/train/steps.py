"""Loss functions and the jitted train/eval steps, one per head type.

The steps are pure functions of (state, batch, rng) so `jax.jit` with
NamedShardings distributes them; dropout keys are folded from the step
number, and jax's partitionable threefry makes the random bits independent
of how the batch is sharded (same losses on 1 or 8 devices).
"""

from __future__ import annotations

from typing import Any, Callable

import flax
import jax
import jax.numpy as jnp
import optax
from flax import linen as nn

Batch = dict[str, jax.Array]


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: Any
  opt_state: Any


def loss_and_metrics(head: str, logits: jax.Array,
                     batch: Batch) -> tuple[jax.Array, dict[str, jax.Array]]:
  """Mean loss plus summed counts (so metrics average correctly over steps)."""
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
                "num_targets": weights.sum()}


def make_train_step(model: nn.Module, optimizer: optax.GradientTransformation,
                    base_rng: jax.Array) -> Callable:
  """train_step(state, batch) -> (state, metrics)."""

  def train_step(state: TrainState, batch: Batch):
    dropout_rng = jax.random.fold_in(base_rng, state.step)

    def loss_fn(params):
      logits = model.apply({"params": params}, batch["input_ids"],
                           batch["attention_mask"], deterministic=False,
                           rngs={"dropout": dropout_rng})
      return loss_and_metrics(model.head, logits, batch)

    (_, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.params)
    updates, opt_state = optimizer.update(grads, state.opt_state,
                                          state.params)
    params = optax.apply_updates(state.params, updates)
    metrics["grad_norm"] = optax.tree.norm(grads)
    return TrainState(state.step + 1, params, opt_state), metrics

  return train_step


def make_predict_step(model: nn.Module) -> Callable:
  """predict_step(params, batch) -> logits (deterministic)."""

  def predict_step(params, batch: Batch):
    return model.apply({"params": params}, batch["input_ids"],
                       batch["attention_mask"], deterministic=True)

  return predict_step
