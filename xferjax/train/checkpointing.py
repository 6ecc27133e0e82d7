"""Orbax checkpoints of a train state, restorable whole or in parts.

Layout: one Orbax step directory per save, with one item per top-level
parameter collection (`params.encoder`, `params.head`) plus `train` (step and
optimizer state). Separate items are what make STILTs-style transfer cheap:
the next phase restores only `params.encoder`, straight into its own
shardings, and never reads the old head or optimizer state.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import orbax.checkpoint as ocp

from xferjax import errors
from xferjax.train.steps import TrainState

PARAMS_PREFIX = "params."


def abstract_like(tree: Any, shardings: Any) -> Any:
  """ShapeDtypeStructs carrying the shardings to restore into."""
  return jax.tree.map(
      lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s),
      tree, shardings)


class Checkpointer:
  """Saves and restores `TrainState`s in `<model_dir>/checkpoints`."""

  def __init__(self, model_dir: str, max_to_keep: int | None = 2,
               async_save: bool = True):
    directory = os.path.abspath(os.path.join(model_dir, "checkpoints"))
    try:
      os.makedirs(directory, exist_ok=True)
    except OSError as e:
      raise errors.CheckpointError(
          f"cannot create checkpoint directory {directory}: {e.strerror}",
          "choose a MODEL_DIR you can write to") from None
    self.directory = directory
    self._manager = ocp.CheckpointManager(
        directory,
        options=ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep, create=True,
            enable_async_checkpointing=async_save))

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, state: TrainState) -> None:
    step = int(jax.device_get(state.step))
    items = {PARAMS_PREFIX + k: ocp.args.StandardSave(v)
             for k, v in state.params.items()}
    items["train"] = ocp.args.StandardSave(
        {"step": state.step, "opt_state": state.opt_state})
    self._manager.save(step, args=ocp.args.Composite(**items), force=True)

  def wait_until_finished(self) -> None:
    self._manager.wait_until_finished()

  def restore(self, abstract_state: TrainState,
              step: int | None = None) -> TrainState:
    """Restores everything into the shardings carried by `abstract_state`."""
    step = self._require_step(step)
    items = {PARAMS_PREFIX + k: ocp.args.StandardRestore(v)
             for k, v in abstract_state.params.items()}
    items["train"] = ocp.args.StandardRestore(
        {"step": abstract_state.step, "opt_state": abstract_state.opt_state})
    out = self._manager.restore(step, args=ocp.args.Composite(**items))
    params = {k: out[PARAMS_PREFIX + k] for k in abstract_state.params}
    return TrainState(out["train"]["step"], params, out["train"]["opt_state"])

  def restore_params(self, abstract_params: dict[str, Any],
                     step: int | None = None) -> dict[str, Any]:
    """Restores only the named parameter collections (e.g. {'encoder': ...})."""
    step = self._require_step(step)
    step_dir = os.path.join(self.directory, str(step))
    available = {name[len(PARAMS_PREFIX):] for name in os.listdir(step_dir)
                 if name.startswith(PARAMS_PREFIX)}
    missing = set(abstract_params) - available
    if missing:
      raise errors.CheckpointError(
          f"checkpoint {self.directory} step {step} has no parameter "
          f"collections {sorted(missing)} (it has {sorted(available)})",
          "initialise from a checkpoint of a compatible model")
    out = self._manager.restore(step, args=ocp.args.Composite(**{
        PARAMS_PREFIX + k: ocp.args.StandardRestore(v)
        for k, v in abstract_params.items()}))
    return {k: out[PARAMS_PREFIX + k] for k in abstract_params}

  def _require_step(self, step: int | None) -> int:
    step = self.latest_step() if step is None else step
    if step is None:
      raise errors.CheckpointError(
          f"no checkpoint found in {self.directory}",
          "train that phase first, or point init_from at a run directory "
          "that has checkpoints/")
    return step

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()
