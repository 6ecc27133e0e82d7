"""Multi-task training: one encoder, one head per task, one task per step.

A `MultiTaskMixture` (e.g. `intermediate_mixture`) mixes encoder tasks of
different heads. Its run has one parameter collection for the shared
encoder and one per task head:

  params = {"encoder": ..., "head.<task>": ..., "head.<other task>": ...}

so checkpoints keep one item per collection (`params.head.mnli`, ...) and
`init_from` (which carries every collection but the heads) and the study
pass on only the encoder. Each task has its own model (`EncoderModel` with
its head) and its own jitted train step, all sharing one `TrainState`: the
step sees the task's view `{"encoder", "head"}` of the params, so the
gradient reaches the encoder and that task's head only. Heads of the other
tasks are frozen in that step: their parameters and optimizer moments are
carried over unchanged (as PyTorch leaves parameters without a gradient,
jiant's multi-task setting), so weight decay does not shrink them; the
optimizer's step count (bias correction, learning-rate schedule) is the
run's global step.

Which task a step trains is `mixing.MultiTaskBatcher`'s draw, a pure
function of (seed, step), and that task's k-th draw is its own
`StepBatcher`'s batch k, so a resumed run sees the same tasks and batches.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import jax
from flax import linen as nn

from xferjax.models import api
from xferjax.train.steps import TrainState

# TrainRun.head of a multi-task run: each task's head from its features.
MULTI_TASK = "multi_task"
HEAD_PREFIX = "head."


def head_key(task: str) -> str:
  return HEAD_PREFIX + task


def is_head(collection: str) -> bool:
  return collection == "head" or collection.startswith(HEAD_PREFIX)


class HeadView:
  """A task's model over the shared params: `apply` picks the encoder and
  that task's head (what `api.forward` and the train step call)."""

  def __init__(self, model: nn.Module, task: str):
    self.model = model
    self.key = head_key(task)
    self.head = model.head
    self.cfg = model.cfg

  def select(self, params: Mapping[str, Any]) -> dict[str, Any]:
    view = {"encoder": params["encoder"]}
    if self.key in params:
      view["head"] = params[self.key]
    return view

  def apply(self, variables, *args, **kwargs):
    return self.model.apply({**variables,
                             "params": self.select(variables["params"])},
                            *args, **kwargs)


def combine(boxed_by_task: Mapping[str, Any]) -> dict[str, Any]:
  """{"encoder", "head.<task>"...} from each task's {"encoder", "head"};
  the encoder is the first task's."""
  first = next(iter(boxed_by_task.values()))
  out = {"encoder": first["encoder"]}
  for task, params in boxed_by_task.items():
    if "head" in params:
      out[head_key(task)] = params["head"]
  return out


def abstract_params(models: Mapping[str, nn.Module]) -> dict[str, Any]:
  """Boxed abstract params; every model has the same encoder config, so the
  first task's encoder stands for all."""
  return combine({task: api.abstract_params(m) for task, m in models.items()})


def init_fn(models: Mapping[str, nn.Module]) -> Callable:
  """rng -> boxed params of every task's head and one shared encoder."""

  def init(rng):
    return combine({task: api.init_boxed(m, rng)
                    for task, m in models.items()})

  return init


def freeze_other_heads(train_step: Callable, task: str) -> Callable:
  """The step with every head but `task`'s carried over unchanged
  (parameters and optimizer moments)."""
  active = head_key(task)

  def frozen(path) -> bool:
    return any(isinstance(k, jax.tree_util.DictKey) and isinstance(
        k.key, str) and k.key.startswith(HEAD_PREFIX) and k.key != active
               for k in path)

  def keep(new, old):
    return jax.tree_util.tree_map_with_path(
        lambda path, n, o: o if frozen(path) else n, new, old)

  def step(state: TrainState, batch):
    new, metrics = train_step(state, batch)
    return TrainState(new.step, keep(new.params, state.params),
                      keep(new.opt_state, state.opt_state)), metrics

  return step


@dataclasses.dataclass(frozen=True)
class Member:
  """One task of a multi-task run: its head type and model."""

  task: str
  head: str
  model: nn.Module

  @property
  def view(self) -> HeadView:
    return HeadView(self.model, self.task)
