"""Optimizers and learning-rate schedules, configured from gin."""

from __future__ import annotations

import gin
import optax

from xferjax import errors


@gin.configurable
def learning_rate_schedule(learning_rate: float, total_steps: int,
                           warmup_steps: int = 0,
                           decay: str = "linear") -> optax.Schedule:
  """Linear warmup to `learning_rate`, then linear/cosine/constant decay."""
  decays = {
      "linear": lambda n: optax.linear_schedule(learning_rate, 0.0, n),
      "cosine": lambda n: optax.cosine_decay_schedule(learning_rate, n),
      "constant": lambda n: optax.constant_schedule(learning_rate),
  }
  if decay not in decays:
    raise errors.ConfigError(f"unknown learning-rate decay {decay!r}",
                             f"use one of {sorted(decays)}")
  warmup_steps = min(warmup_steps, total_steps)
  after = decays[decay](max(total_steps - warmup_steps, 1))
  if not warmup_steps:
    return after
  return optax.join_schedules(
      [optax.linear_schedule(0.0, learning_rate, warmup_steps), after],
      [warmup_steps])


@gin.configurable
def make_optimizer(learning_rate: float, total_steps: int,
                   warmup_steps: int = 0, weight_decay: float = 0.01,
                   grad_clip_norm: float | None = 1.0, b1: float = 0.9,
                   b2: float = 0.98, eps: float = 1e-6,
                   decay: str = "linear") -> optax.GradientTransformation:
  """AdamW as RoBERTa/XLM-R fine-tuning uses it, with global-norm clipping."""
  schedule = learning_rate_schedule(learning_rate, total_steps, warmup_steps,
                                    decay)
  chain = []
  if grad_clip_norm:
    chain.append(optax.clip_by_global_norm(grad_clip_norm))
  chain.append(optax.adamw(schedule, b1=b1, b2=b2, eps=eps,
                           weight_decay=weight_decay))
  return optax.chain(*chain)
