"""Optimizers and learning-rate schedules, configured from gin.

`TrainRun` picks the optimizer (`adamw`, `adafactor`), the decay after the
linear warmup (`linear`, `cosine`, `rsqrt`, `constant`) and global-norm
clipping; the remaining hyperparameters are gin bindings on `adamw.*` and
`adafactor.*`, e.g. `--gin.adamw.b2=0.999`.
"""

from __future__ import annotations

import gin
import jax.numpy as jnp
import optax

from xferjax import errors

DECAYS = ("linear", "cosine", "rsqrt", "constant")


def _rsqrt_decay(learning_rate: float, offset: int) -> optax.Schedule:
  """`learning_rate * sqrt(offset / (n + offset))`: T5's inverse square root,
  scaled so that it starts at the peak the warmup reached."""
  offset = max(offset, 1)
  # join_schedules also evaluates it before its start (n < 0): clamp.
  return lambda n: learning_rate * jnp.sqrt(
      offset / (jnp.maximum(n, 0) + offset))


@gin.configurable
def learning_rate_schedule(learning_rate: float, total_steps: int,
                           warmup_steps: int = 0,
                           decay: str = "linear") -> optax.Schedule:
  """Linear warmup to `learning_rate`, then linear/cosine/rsqrt/constant."""
  warmup_steps = min(warmup_steps, total_steps)
  decay_steps = max(total_steps - warmup_steps, 1)
  decays = {
      "linear": lambda: optax.linear_schedule(learning_rate, 0.0, decay_steps),
      "cosine": lambda: optax.cosine_decay_schedule(learning_rate,
                                                    decay_steps),
      "rsqrt": lambda: _rsqrt_decay(learning_rate, warmup_steps),
      "constant": lambda: optax.constant_schedule(learning_rate),
  }
  if decay not in decays:
    raise errors.ConfigError(f"unknown learning-rate decay {decay!r}",
                             f"use one of {list(DECAYS)}")
  after = decays[decay]()
  if not warmup_steps:
    return after
  return optax.join_schedules(
      [optax.linear_schedule(0.0, learning_rate, warmup_steps), after],
      [warmup_steps])


@gin.configurable
def adamw(schedule: optax.Schedule, weight_decay: float, b1: float = 0.9,
          b2: float = 0.98, eps: float = 1e-6) -> optax.GradientTransformation:
  """AdamW as RoBERTa/XLM-R fine-tuning uses it."""
  return optax.adamw(schedule, b1=b1, b2=b2, eps=eps,
                     weight_decay=weight_decay)


@gin.configurable
def adafactor(schedule: optax.Schedule, weight_decay: float,
              decay_rate: float = 0.8, clipping_threshold: float | None = 1.0,
              multiply_by_parameter_scale: bool = False,
              momentum: float | None = None,
              min_dim_size_to_factor: int = 128
              ) -> optax.GradientTransformation:
  """Adafactor (T5/mT5): factored second moments, far less optimizer memory.

  `multiply_by_parameter_scale` is off by default so that `learning_rate`
  means the same step size as for AdamW; T5's recipe turns it on.
  """
  return optax.adafactor(
      schedule, min_dim_size_to_factor=min_dim_size_to_factor,
      decay_rate=decay_rate, clipping_threshold=clipping_threshold,
      multiply_by_parameter_scale=multiply_by_parameter_scale,
      momentum=momentum, weight_decay_rate=weight_decay or None)


OPTIMIZERS = {"adamw": adamw, "adafactor": adafactor}


@gin.configurable
def make_optimizer(learning_rate: float, total_steps: int,
                   warmup_steps: int = 0, weight_decay: float = 0.01,
                   grad_clip_norm: float | None = 1.0,
                   decay: str = "linear",
                   name: str = "adamw") -> optax.GradientTransformation:
  """Global-norm clipping (if set), then the named optimizer on a schedule."""
  if name not in OPTIMIZERS:
    raise errors.ConfigError(f"unknown optimizer {name!r}",
                             f"use one of {sorted(OPTIMIZERS)}")
  schedule = learning_rate_schedule(learning_rate, total_steps, warmup_steps,
                                    decay)
  chain = []
  if grad_clip_norm:
    chain.append(optax.clip_by_global_norm(grad_clip_norm))
  chain.append(OPTIMIZERS[name](schedule, weight_decay))
  return optax.chain(*chain)
