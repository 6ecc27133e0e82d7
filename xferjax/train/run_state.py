"""The host-side state saved (as JSON) with every checkpoint.

The device state (params, optimizer state, step) is not all a run needs to
continue exactly: the data position, the train metrics not yet logged, the
early-stopping record and the count of skipped non-finite steps live on the
host. They are saved with each checkpoint, together with the settings and
model config they belong to, so that a resume with *different* settings is
refused instead of silently mixing two runs in one directory.

The batch of step s is a pure function of (examples, seed, s)
(`pipeline.StepBatcher`) and dropout keys are folded from s, so the data
position and RNG are recorded for checking and for people, not replayed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from xferjax import errors
from xferjax.train import results_io

VERSION = 1

# TrainRun fields that may change when an interrupted run is resumed: they
# change how often things are logged or saved, never what is computed.
RESUMABLE_FIELDS = ("log_every", "checkpoint_every", "keep_checkpoints",
                    "eval_batch_size", "async_checkpoints",
                    "checksum_checkpoints")
# Model fields that trade memory for compute without changing the math.
RESUMABLE_MODEL_FIELDS = ("remat_policy",)


@dataclasses.dataclass
class Progress:
  """What the training loop carries from step to step besides TrainState."""

  # Per-step train metrics since the last `train` line of metrics.jsonl.
  pending: list[dict[str, float]] = dataclasses.field(default_factory=list)
  skipped_steps: int = 0
  eval_history: list[dict[str, Any]] = dataclasses.field(
      default_factory=list)
  early_stopping: dict[str, Any] | None = None
  stopped_early: bool = False

  @classmethod
  def from_run_state(cls, run_state: dict[str, Any] | None) -> "Progress":
    saved = (run_state or {}).get("progress", {})
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in saved.items() if k in names})


def data_position(step: int, batch_size: int, num_examples: int,
                  seed: int) -> dict[str, int]:
  seen = step * batch_size
  return {"step": step, "examples_seen": seen,
          "epoch": seen // num_examples, "offset": seen % num_examples,
          "num_examples": num_examples, "batch_size": batch_size,
          "seed": seed}


def field_defaults(cls) -> dict[str, Any]:
  """A dataclass's default field values (what an older run state lacks)."""
  out = {}
  for field in dataclasses.fields(cls):
    if field.default is not dataclasses.MISSING:
      out[field.name] = field.default
    elif field.default_factory is not dataclasses.MISSING:
      out[field.name] = field.default_factory()
  return out


def _comparable_run(fingerprint: dict[str, Any]) -> dict[str, Any]:
  return {k: v for k, v in fingerprint.items() if k not in RESUMABLE_FIELDS}


def _comparable_model(model: dict[str, Any]) -> dict[str, Any]:
  return {k: v for k, v in model.items() if k not in RESUMABLE_MODEL_FIELDS}


def build(step: int, fingerprint: dict[str, Any], model: dict[str, Any],
          position: dict[str, int], progress: Progress) -> dict[str, Any]:
  return {"version": VERSION, "step": step, "run": fingerprint,
          "model": model, "data_position": position,
          "dropout_rng": {"seed": fingerprint.get("seed"),
                          "key": "fold_in(PRNGKey(seed + 1), step)"},
          "progress": dataclasses.asdict(progress)}


def check_compatible(saved: dict[str, Any] | None, model_dir: str,
                     fingerprint: dict[str, Any],
                     defaults: dict[str, Any], model: dict[str, Any],
                     model_defaults: dict[str, Any],
                     num_examples: int) -> None:
  """Raises if a checkpoint's run state belongs to other settings or data.

  Checkpoints written before run states existed (None) are accepted; their
  shapes are still checked against the model before restoring.
  """
  if saved is None:
    return
  changed = results_io.differences(_comparable_run(saved.get("run", {})),
                                   _comparable_run(fingerprint),
                                   defaults)
  if changed:
    raise errors.ConfigError(
        f"{model_dir} holds an interrupted run with different settings "
        f"(differs in: {', '.join(changed)})",
        "resume with the settings it was started with, or use a new "
        "model_dir (nothing was changed on disk)")
  changed = results_io.differences(_comparable_model(saved.get("model", {})),
                                   _comparable_model(model), model_defaults)
  if changed:
    raise errors.ConfigError(
        f"{model_dir} holds an interrupted run of a different model "
        f"(differs in: {', '.join(changed)})",
        "resume with the model config it was started with, or use a new "
        "model_dir (nothing was changed on disk)")
  then = saved.get("data_position", {}).get("num_examples")
  if then is not None and then != num_examples:
    raise errors.DataError(
        f"the training data changed since {model_dir} was checkpointed "
        f"({then} examples then, {num_examples} now), so resuming would not "
        "see the same batches",
        "restore the original data, or start a new model_dir")
