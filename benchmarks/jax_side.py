"""The xferjax side of a benchmark: the trainer's own jitted steps.

The train step is `xferjax.train.steps.make_train_step` with the optimizer
of `xferjax.train.optimizer.make_optimizer`, jitted as the trainer jits it
(state and batch shardings of a 1-device mesh, the state donated), and fed
as the train loop feeds it: a host (numpy) batch made global with
`partitioning.host_local_to_global` inside the timed call, so the
host->device transfer is counted.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from xferjax import partitioning
from xferjax.models import api
from xferjax.train import optimizer as optimizer_lib
from xferjax.train import steps, trainer


class JaxSteps:
  """Jitted train and eval steps of one model, with its state."""

  def __init__(self, model: nn.Module, *, learning_rate: float,
               weight_decay: float, grad_clip_norm: float | None,
               dropout: bool, seed: int = 0):
    self.model = model
    self.partitioner = partitioning.create_partitioner(
        devices=jax.devices()[:1])
    prepared = trainer.prepare_model(model, self.partitioner)
    self.optimizer = optimizer_lib.make_optimizer(
        learning_rate=learning_rate, total_steps=1, warmup_steps=0,
        weight_decay=weight_decay, grad_clip_norm=grad_clip_norm,
        decay="constant", name="adamw")
    shardings = trainer.state_shardings_of(prepared, self.optimizer)  # noqa
    params = prepared.init_params(seed)
    opt_init = jax.jit(self.optimizer.init,
                       out_shardings=shardings.opt_state)
    self.state = steps.TrainState(
        jax.device_put(jnp.zeros((), jnp.int32), shardings.step), params,
        opt_init(params))
    base_rng = jax.random.PRNGKey(seed + 1) if dropout else None
    self._train = jax.jit(
        steps.make_train_step(model, self.optimizer, base_rng),
        in_shardings=(shardings, None), out_shardings=(shardings, None),
        donate_argnums=0)
    loss_fn = api.make_loss_fn(model)
    predict = steps.make_predict_step(model)
    if model.head == "classification":
      evaluate = predict  # logits, as the evaluator predicts
    else:
      evaluate = lambda p, b: loss_fn(p, b)[0]  # the loss on held-out data
    self._eval = jax.jit(evaluate, in_shardings=(shardings.params, None))
    self.shardings = shardings

  def device_batch(self, batch: dict[str, np.ndarray]):
    return partitioning.host_local_to_global(batch, self.partitioner)

  def train_step(self, batch: dict[str, np.ndarray]) -> float:
    with self.partitioner.context():
      self.state, metrics = self._train(self.state, self.device_batch(batch))
    return float(metrics["loss"])  # waits for the step, as a log line does

  def eval_step(self, batch: dict[str, np.ndarray]) -> float:
    with self.partitioner.context():
      out = self._eval(self.state.params, self.device_batch(batch))
    return float(jnp.sum(out))

  def compiled_train(self, batch: dict[str, np.ndarray]):
    """The AOT-compiled train step (memory analysis, cost analysis)."""
    with self.partitioner.context():
      return self._train.lower(self.state, self.device_batch(batch)).compile()
