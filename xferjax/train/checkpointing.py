"""Orbax checkpoints of a train state, restorable whole or in parts.

Layout: one Orbax step directory per save, with one item per top-level
parameter collection (`params.encoder`, `params.head`), `train` (step and
optimizer state), `run_state` (JSON: data position, logging and
early-stopping state, the run's settings) and `xferjax_manifest.json`
(sizes and CRC32s of every file, see `checkpoint_manifest`). Separate items
are what make STILTs-style transfer cheap: the next phase restores only
`params.encoder`, straight into its own shardings, and never reads the old
head or optimizer state.

Safety rules:
- saves are asynchronous; a save is *confirmed* (Orbax finished, step
  committed, manifest written) before the next one starts or the run ends;
- old checkpoints are deleted only after a newer one is confirmed, keeping
  the last `max_to_keep` plus any step in `keep_steps` (the best one);
- on resume the newest checkpoint that verifies and restores is used; a
  damaged one is moved to `checkpoints_corrupt/` with a warning (never
  deleted), and a checkpoint of a different model is an error, not damage.
"""

from __future__ import annotations

import logging
import os
import shutil
from typing import Any, Callable, Mapping

import jax
import numpy as np
import orbax.checkpoint as ocp
from etils import epath
from jax.experimental import multihost_utils

from xferjax import errors
from xferjax.train import checkpoint_manifest, run_dir
from xferjax.train.steps import TrainState

log = logging.getLogger(__name__)

PARAMS_PREFIX = "params."
RUN_STATE_ITEM = "run_state"
CORRUPT_DIR = "checkpoints_corrupt"


def abstract_like(tree: Any, shardings: Any) -> Any:
  """ShapeDtypeStructs carrying the shardings to restore into."""
  return jax.tree.map(
      lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s),
      tree, shardings)


def _flat_shapes(tree: Any) -> dict[str, tuple[int, ...]]:
  flat = jax.tree_util.tree_flatten_with_path(tree)[0]
  return {"/".join(str(getattr(k, "key", k)) for k in path):
          tuple(leaf.shape) for path, leaf in flat}


def shape_differences(saved: Any, expected: Any, prefix: str) -> list[str]:
  """Human-readable differences between two trees of shaped leaves."""
  saved, expected = _flat_shapes(saved), _flat_shapes(expected)
  out = []
  for name in sorted(set(saved) | set(expected)):
    a, b = saved.get(name), expected.get(name)
    if a != b:
      out.append(f"{prefix}{name}: checkpoint "
                 f"{'missing' if a is None else a}, model "
                 f"{'missing' if b is None else b}")
  return out


# Orbax's StandardSave takes trees, not bare arrays: a collection that is one
# array (mT5's untied `lm_head`) is saved as {ARRAY_KEY: array}.
ARRAY_KEY = "array"


def _as_tree(collection: Any) -> Any:
  return collection if isinstance(collection, dict) else {
      ARRAY_KEY: collection}


def _from_tree(saved: Any, like: Any) -> Any:
  return saved if isinstance(like, dict) else saved[ARRAY_KEY]


def _primary() -> bool:
  return jax.process_index() == 0


def _all_agree(ok: bool) -> bool:
  if jax.process_count() == 1:
    return ok
  return bool(np.all(multihost_utils.process_allgather(np.asarray(ok))))


def _source_names(abstract_params: dict[str, Any],
                  sources: Mapping[str, str] | None) -> dict[str, str]:
  """{our collection: the saved collection it is restored from}."""
  return {k: (sources or {}).get(k, k) for k in abstract_params}


class Checkpointer:
  """Saves and restores `TrainState`s in `<model_dir>/checkpoints`."""

  def __init__(self, model_dir: str, max_to_keep: int | None = 2,
               async_save: bool = True, checksums: bool = True,
               read_only: bool = False):
    """`read_only` for another run's directory (init_from, eval): nothing
    in it is created, cleaned up or deleted."""
    self.model_dir = os.path.abspath(model_dir)
    directory = os.path.join(self.model_dir, "checkpoints")
    if not read_only:
      try:
        os.makedirs(directory, exist_ok=True)
      except OSError as e:
        raise errors.CheckpointError(
            f"cannot create checkpoint directory {directory}: {e.strerror}",
            "choose a MODEL_DIR you can write to") from None
    elif not os.path.isdir(directory):
      raise errors.CheckpointError(
          f"no checkpoint found in {directory} (the directory does not "
          "exist)", "train that phase first, or point at a run directory "
          "that has checkpoints/")
    self.directory = directory
    self.max_to_keep = max_to_keep
    self.checksums = checksums
    # Steps saved with keep=True (new bests): the newest confirmed one is
    # kept besides the last `max_to_keep`.
    self.keep_steps: set[int] = set()
    self._pending: int | None = None
    # Retention is ours (see `_collect_garbage`): Orbax would delete old
    # steps in its finalize thread even when the new save failed.
    self._manager = ocp.CheckpointManager(
        directory,
        options=ocp.CheckpointManagerOptions(
            max_to_keep=None, create=not read_only, read_only=read_only,
            cleanup_tmp_directories=not read_only,
            enable_async_checkpointing=async_save))

  # --- queries -------------------------------------------------------------

  def all_steps(self) -> list[int]:
    return sorted(self._manager.all_steps())

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def step_dir(self, step: int) -> str:
    return os.path.join(self.directory, str(step))

  def describe_last_good(self) -> str:
    """Where a user finds the last confirmed checkpoint (for messages)."""
    confirmed = [s for s in self.all_steps() if s != self._pending]
    if not confirmed:
      return "no checkpoint had been written yet"
    return (f"the last good checkpoint is step {confirmed[-1]} in "
            f"{self.directory}")

  # --- saving --------------------------------------------------------------

  def save(self, state: TrainState, run_state: dict[str, Any] | None = None,
           keep: bool = False) -> bool:
    """Starts an (async) save of `state`; False if that step exists.

    `keep`: retain this step besides the last `max_to_keep` until a newer
    `keep` step is confirmed (the best checkpoint)."""
    step = int(jax.device_get(state.step))
    self.confirm()
    if keep:
      self.keep_steps.add(step)
    if step in self._manager.all_steps():
      return False
    items = {PARAMS_PREFIX + k: ocp.args.StandardSave(_as_tree(v))
             for k, v in state.params.items()}
    items["train"] = ocp.args.StandardSave(
        {"step": state.step, "opt_state": state.opt_state})
    if run_state is not None:
      items[RUN_STATE_ITEM] = ocp.args.JsonSave(run_state)
    try:
      self._manager.save(step, args=ocp.args.Composite(**items), force=True)
    except Exception as e:  # pylint: disable=broad-except
      raise run_dir.write_error(f"checkpoint step {step}", e,
                                self.describe_last_good()) from None
    self._pending = step
    return True

  def confirm(self) -> None:
    """Waits for the pending save, checks it committed, writes its manifest,
    then deletes checkpoints the retention policy no longer needs."""
    if self._pending is None:
      return
    step, self._pending = self._pending, None
    try:
      self._manager.wait_until_finished()
      self._manager.check_for_errors()
    except Exception as e:  # pylint: disable=broad-except
      raise run_dir.write_error(f"checkpoint step {step}", e,
                                self.describe_last_good()) from None
    step_dir = self.step_dir(step)
    if not os.path.isdir(step_dir):
      raise errors.CheckpointError(
          f"checkpoint step {step} was not committed to {self.directory}",
          "check the storage and the log above; re-run the same command: "
          + self.describe_last_good())
    if _primary():
      with run_dir.explain_write_errors(f"the manifest of step {step}",
                                        self.describe_last_good):
        checkpoint_manifest.write(step_dir, self.checksums)
    self._collect_garbage()

  def wait_until_finished(self) -> None:
    self.confirm()

  def _collect_garbage(self) -> None:
    """Runs only right after a confirm: every listed step is complete."""
    if self.max_to_keep is None:
      return
    steps = self.all_steps()
    kept_best = [s for s in steps if s in self.keep_steps][-1:]
    self.keep_steps = set(kept_best)
    keep = set(steps[-self.max_to_keep:]) | self.keep_steps
    for step in steps:
      if step not in keep:
        self._manager.delete(step)

  # --- restoring -----------------------------------------------------------

  def restore(self, abstract_state: TrainState,
              step: int | None = None) -> TrainState:
    """Restores everything into the shardings carried by `abstract_state`."""
    step = self._require_step(step)
    items = {PARAMS_PREFIX + k: ocp.args.StandardRestore(_as_tree(v))
             for k, v in abstract_state.params.items()}
    items["train"] = ocp.args.StandardRestore(
        {"step": abstract_state.step, "opt_state": abstract_state.opt_state})
    out = self._manager.restore(step, args=ocp.args.Composite(**items))
    params = {k: _from_tree(out[PARAMS_PREFIX + k], v)
              for k, v in abstract_state.params.items()}
    return TrainState(out["train"]["step"], params, out["train"]["opt_state"])

  def restore_run_state(self, step: int) -> dict[str, Any] | None:
    """The JSON run state saved with `step` (None for older checkpoints)."""
    if not os.path.isdir(os.path.join(self.step_dir(step), RUN_STATE_ITEM)):
      return None
    out = self._manager.restore(step, args=ocp.args.Composite(
        **{RUN_STATE_ITEM: ocp.args.JsonRestore()}))
    return dict(out[RUN_STATE_ITEM])

  def collections(self, step: int | None = None) -> list[str]:
    """The parameter collections saved in `step` (default: the latest),
    e.g. ['encoder', 'head'] or, multi-task, ['encoder', 'head.mnli', ...]."""
    step_dir = self.step_dir(self._require_step(step))
    return sorted(name[len(PARAMS_PREFIX):] for name in os.listdir(step_dir)
                  if name.startswith(PARAMS_PREFIX))

  def check_shapes(self, abstract_params: dict[str, Any], step: int,
                   sources: Mapping[str, str] | None = None) -> None:
    """ShapeError (before any restore) if the saved parameters differ.

    `sources`: the saved collection each of ours comes from, where the
    names differ (a multi-task run's 'head.<task>' for an eval's 'head')."""
    step_dir = self.step_dir(step)
    sources = _source_names(abstract_params, sources)
    available = set(self.collections(step))
    missing = set(sources.values()) - available
    if missing:
      raise errors.CheckpointError(
          f"checkpoint {self.directory} step {step} has no parameter "
          f"collections {sorted(missing)} (it has {sorted(available)})",
          "initialise from a checkpoint of a compatible model")
    handler = ocp.StandardCheckpointHandler()
    diffs = []
    for name, abstract in abstract_params.items():
      saved = handler.metadata(
          epath.Path(step_dir) / (PARAMS_PREFIX + sources[name])).tree
      diffs += shape_differences(saved, _as_tree(abstract),
                                 f"{sources[name]}/")
    if diffs:
      shown = "; ".join(diffs[:4]) + (
          f"; and {len(diffs) - 4} more" if len(diffs) > 4 else "")
      raise errors.ShapeError(
          f"checkpoint {self.directory} step {step} holds a model of another "
          f"shape: {shown}",
          "use the model config the checkpoint was trained with, or a new "
          "MODEL_DIR (nothing was changed on disk)")

  def restore_params(self, abstract_params: dict[str, Any],
                     step: int | None = None,
                     sources: Mapping[str, str] | None = None
                     ) -> dict[str, Any]:
    """Restores only the named parameter collections (e.g. {'encoder': ...}).

    `sources` renames on the way in: {'head': 'head.mnli'} restores the
    saved 'head.mnli' as our 'head' (see `check_shapes`)."""
    step = self._require_step(step)
    step_dir = self.step_dir(step)
    if checkpoint_manifest.exists(step_dir):
      problem = checkpoint_manifest.problem(step_dir)
      if problem:
        raise errors.CheckpointError(
            f"checkpoint {self.directory} step {step} is damaged: {problem}",
            "restore the run directory from a copy, or re-train that phase "
            "(move its results.json away)")
    sources = _source_names(abstract_params, sources)
    self.check_shapes(abstract_params, step, sources)
    out = self._manager.restore(step, args=ocp.args.Composite(**{
        PARAMS_PREFIX + sources[k]: ocp.args.StandardRestore(_as_tree(v))
        for k, v in abstract_params.items()}))
    return {k: _from_tree(out[PARAMS_PREFIX + sources[k]], v)
            for k, v in abstract_params.items()}

  def restore_latest_valid(
      self, abstract_state: TrainState,
      check_run_state: Callable[[dict[str, Any] | None], None]
  ) -> tuple[TrainState, dict[str, Any] | None] | None:
    """The newest checkpoint that verifies and restores, and its run state.

    `check_run_state` raises if the checkpoint belongs to other settings;
    that, like a shape mismatch, is the user's error and stops the search
    (nothing is moved). Damage moves the step aside and tries the previous.
    """
    for step in reversed(self.all_steps()):
      problem, restored = self._try_restore(step, abstract_state,
                                            check_run_state)
      if _all_agree(problem is None):
        return restored
      moved = self._quarantine(step)
      log.warning("checkpoint step %d is damaged (%s); moved it to %s",
                  step, problem or "unreadable on another process", moved)
      print(f"[xferjax] warning: checkpoint step {step} in {self.directory} "
            f"is damaged ({problem or 'unreadable on another process'}); "
            f"moved it to {moved} and trying the previous one", flush=True)
    return None

  def _try_restore(self, step, abstract_state, check_run_state):
    step_dir = self.step_dir(step)
    if checkpoint_manifest.exists(step_dir):
      problem = checkpoint_manifest.problem(step_dir)
      if problem:
        return problem, None
    try:
      run_state = self.restore_run_state(step)
    except Exception as e:  # pylint: disable=broad-except
      return f"its run state cannot be read: {run_dir.first_line(e)}", None
    check_run_state(run_state)
    try:
      self.check_shapes(abstract_state.params, step)
    except errors.XferjaxError:
      raise
    except Exception as e:  # pylint: disable=broad-except
      return f"its metadata cannot be read: {run_dir.first_line(e)}", None
    try:
      state = self.restore(abstract_state, step)
    except Exception as e:  # pylint: disable=broad-except
      return f"it cannot be restored: {run_dir.first_line(e)}", None
    return None, (state, run_state)

  def _quarantine(self, step: int) -> str:
    """Moves a damaged step out of Orbax's sight; never deletes it."""
    target = os.path.join(self.model_dir, CORRUPT_DIR, str(step))
    suffix = 0
    while os.path.exists(target if not suffix else f"{target}.{suffix}"):
      suffix += 1
    target = target if not suffix else f"{target}.{suffix}"
    if _primary():
      os.makedirs(os.path.dirname(target), exist_ok=True)
      shutil.move(self.step_dir(step), target)
    if jax.process_count() > 1:
      multihost_utils.sync_global_devices(f"xferjax_quarantine_{step}")
    self._manager.reload()
    return target

  def _require_step(self, step: int | None) -> int:
    step = self.latest_step() if step is None else step
    if step is None:
      raise errors.CheckpointError(
          f"no checkpoint found in {self.directory}",
          "train that phase first, or point init_from at a run directory "
          "that has checkpoints/")
    return step

  def close(self) -> None:
    """Confirms the pending save (raising if it failed) and closes."""
    try:
      self.confirm()
    finally:
      self._manager.close()
