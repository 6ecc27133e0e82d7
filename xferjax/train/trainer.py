"""One training run: a task, a head, a number of steps, a run directory.

`xferjax train` runs one from gin; the study chains several (pretrain ->
intermediate -> target) by pointing each run's `init_from` at the previous
run's directory. A run directory holds:

  config.gin        the operative gin config (or the study's settings)
  metrics.jsonl     train/eval metrics, one JSON object per line
  tensorboard/      the same as TensorBoard events
  checkpoints/      Orbax checkpoints (`params.encoder`, `params.head`, `train`)
  predictions/      per-example predictions of the final evaluation
  results.json      written last, atomically: its presence means "finished"

Re-running a finished run does nothing and says so; re-running an
interrupted one resumes from its latest checkpoint (batches and dropout are
functions of the step, so it continues exactly).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from typing import Any

import gin
import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from xferjax import errors, partitioning
from xferjax.data import features as features_lib
from xferjax.data import masking, pipeline
from xferjax.data import vocab as vocab_lib
from xferjax.models.encoder import EncoderConfig, EncoderModel
from xferjax.train import checkpointing, optimizer as optimizer_lib
from xferjax.train import results_io
from xferjax.train.evaluator import evaluate_classification_tasks
from xferjax.train.metrics import MetricsLogger
from xferjax.train.steps import TrainState, make_train_step

log = logging.getLogger(__name__)


@gin.configurable
@dataclasses.dataclass(frozen=True)
class TrainRun:
  """What one training run does. Bound in gin (`TrainRun.task = ...`)."""

  model_dir: str | None = None
  task: str | None = None
  split: str = "train"
  head: str = "classification"
  # SeqIO task feature lengths, e.g. {"text_a": 24, "text_b": 12}.
  task_feature_lengths: dict[str, int] | None = None
  num_steps: int = 100
  batch_size: int = 32
  learning_rate: float = 1e-4
  warmup_steps: int = 0
  weight_decay: float = 0.01
  seed: int = 0
  # A run directory whose latest checkpoint's encoder initialises this run.
  init_from: str | None = None
  eval_tasks: tuple[str, ...] = ()
  eval_split: str = "validation"
  eval_batch_size: int = 128
  log_every: int = 50
  checkpoint_every: int = 0  # 0: only at the end

  def validate(self) -> None:
    for name in ("model_dir", "task", "task_feature_lengths"):
      if not getattr(self, name):
        raise errors.ConfigError(
            f"TrainRun.{name} is not set",
            f"bind it in gin, e.g. --gin.TrainRun.{name}=... (or set the "
            "REQUIRED macro your run file declares)")
    if self.num_steps <= 0 or self.batch_size <= 0:
      raise errors.ConfigError(
          f"num_steps ({self.num_steps}) and batch_size ({self.batch_size}) "
          "must be positive", "fix TrainRun.num_steps / TrainRun.batch_size")

  def fingerprint(self) -> dict[str, Any]:
    """What must match for an existing run dir to count as this run."""
    d = dataclasses.asdict(self)
    model_dir = d.pop("model_dir")
    d["eval_tasks"] = list(d["eval_tasks"])
    if d["init_from"]:
      # Relative to the run itself: the same study run from another working
      # directory, or moved as a whole, is still the same run.
      d["init_from"] = os.path.relpath(os.path.abspath(d["init_from"]),
                                       os.path.abspath(model_dir))
    return d


def classification_converter(task, special_ids: dict[str, int]):
  return features_lib.EncoderClassificationConverter(
      special_ids, pair="text_b" in task.output_features)


def _converter(task, head: str, special_ids: dict[str, int]):
  if head == "mlm":
    return features_lib.EncoderMlmConverter(special_ids)
  return classification_converter(task, special_ids)


def _text_vocabulary(task):
  for key in ("text", "text_a"):
    if key in task.output_features:
      return task.output_features[key].vocabulary
  raise errors.ConfigError(
      f"task {task.name!r} has no 'text' or 'text_a' output feature",
      "encoder tasks declare output_features 'text' (MLM) or 'text_a' "
      "[+ 'text_b'] and 'label' (classification)")


@dataclasses.dataclass
class PreparedModel:
  """A model with its shardings, built abstractly before any allocation."""

  model: EncoderModel
  partitioner: partitioning.Partitioner
  param_shardings: Any
  abstract_params: Any  # unboxed ShapeDtypeStructs carrying shardings
  boxed_params: Any  # abstract, with logical axis metadata

  def init_params(self, seed: int):
    init = jax.jit(lambda r: nn.meta.unbox(_init_boxed(self.model, r)),
                   out_shardings=self.param_shardings)
    with self.partitioner.context():
      return init(jax.random.PRNGKey(seed))


def _init_boxed(model: EncoderModel, rng):
  ids = jnp.ones((1, 8), jnp.int32)
  return model.init({"params": rng, "dropout": rng}, ids, ids)["params"]


def prepare_model(model: EncoderModel,
                  partitioner: partitioning.Partitioner) -> PreparedModel:
  with partitioner.context():
    boxed = jax.eval_shape(lambda r: _init_boxed(model, r),
                           jax.random.PRNGKey(0))
  partitioning.check_divisible(boxed, partitioner)
  shardings = partitioner.tree_shardings(boxed)
  abstract = checkpointing.abstract_like(nn.meta.unbox(boxed), shardings)
  return PreparedModel(model, partitioner, shardings, abstract, boxed)


def build_model_for_task(task_name: str, head: str, cfg: EncoderConfig):
  """Model + vocabulary facts for a task (head sized from its labels)."""
  task = pipeline.get_task_or_mixture(task_name)
  vocab = _text_vocabulary(task)
  special = vocab_lib.special_ids(vocab)
  if vocab.vocab_size > cfg.vocab_size:
    raise errors.ShapeError(
        f"task {task_name!r} uses a vocabulary of {vocab.vocab_size} pieces "
        f"but the model's embedding has vocab_size {cfg.vocab_size}",
        "raise EncoderConfig.vocab_size to at least the vocabulary size "
        "(a multiple of 128 shards best)")
  num_labels = (len(features_lib.label_names_of(task))
                if head != "mlm" else 0)
  model = EncoderModel(cfg, head=head, num_labels=max(num_labels, 1))
  return task, model, special


def run_training(run: TrainRun, model_cfg: EncoderConfig | None = None,
                 partitioner: partitioning.Partitioner | None = None,
                 config_text: str | None = None) -> dict[str, Any]:
  """Trains (or resumes, or skips if finished) and returns results.json."""
  run.validate()
  existing = results_io.read_results(run.model_dir)
  if existing is not None:
    results_io.check_same_run(run.model_dir, existing, run.fingerprint())
    log.info("%s already finished; skipping (delete results.json to redo)",
             run.model_dir)
    print(f"[xferjax] {run.model_dir}: already finished, skipped")
    return existing

  model_cfg = model_cfg or EncoderConfig()
  partitioner = partitioner or partitioning.create_partitioner()
  partitioning.check_batch_divisible(run.batch_size, partitioner)
  task, model, special = build_model_for_task(run.task, run.head, model_cfg)
  converter = _converter(task, run.head, special)
  vocab_size = _text_vocabulary(task).vocab_size
  arrays = pipeline.load_examples(run.task, run.split,
                                  run.task_feature_lengths, converter)
  batcher = pipeline.StepBatcher(arrays, run.batch_size, seed=run.seed)

  prepared = prepare_model(model, partitioner)
  optimizer = optimizer_lib.make_optimizer(
      learning_rate=run.learning_rate, total_steps=run.num_steps,
      warmup_steps=run.warmup_steps, weight_decay=run.weight_decay)
  state_shardings = _state_shardings(prepared, optimizer)

  os.makedirs(run.model_dir, exist_ok=True)
  if config_text is not None and jax.process_index() == 0:
    results_io.atomic_write_text(os.path.join(run.model_dir, "config.gin"),
                                 config_text)
  ckpt = checkpointing.Checkpointer(run.model_dir)
  state = _initial_state(run, prepared, optimizer, state_shardings, ckpt)
  start = int(jax.device_get(state.step))

  base_rng = jax.random.PRNGKey(run.seed + 1)
  train_step = jax.jit(make_train_step(model, optimizer, base_rng),
                       in_shardings=(state_shardings, None),
                       out_shardings=(state_shardings, None),
                       donate_argnums=0)
  logger = MetricsLogger(run.model_dir, run.num_steps, start,
                         description=os.path.basename(run.model_dir))
  pending: list[dict[str, jax.Array]] = []
  t0, tokens = time.time(), 0
  try:
    for step in range(start, run.num_steps):
      batch = batcher.batch(step)
      if run.head == "mlm":
        batch = masking.mask_tokens(
            batch, seed=run.seed, step=step, mask_id=special["mask"],
            vocab_size=vocab_size, special_ids=tuple(
                special[k] for k in ("pad", "eos", "cls", "sep", "mask")))
      tokens += int(batch["attention_mask"].sum()) * jax.process_count()
      with partitioner.context():
        state, metrics = train_step(
            state, partitioning.host_local_to_global(batch, partitioner))
      pending.append(metrics)
      logger.advance()
      done = step + 1
      if done % run.log_every == 0 or done == run.num_steps:
        summary = _summarise(pending, run.model_dir, done)
        elapsed = max(time.time() - t0, 1e-9)
        summary.update(steps_per_sec=len(pending) / elapsed,
                       tokens_per_sec=tokens / elapsed)
        logger.write(done, "train", summary)
        pending, t0, tokens = [], time.time(), 0
      if run.checkpoint_every and done % run.checkpoint_every == 0:
        ckpt.save(state)
    if start < run.num_steps or ckpt.latest_step() != run.num_steps:
      ckpt.save(state)
    ckpt.wait_until_finished()

    eval_results = {}
    if run.eval_tasks:
      eval_results = evaluate_classification_tasks(
          prepared, state.params, run.eval_tasks, run.eval_split,
          run.task_feature_lengths, lambda t: _converter(t, run.head, special),
          run.eval_batch_size, os.path.join(run.model_dir, "predictions"))
      for name, metrics in eval_results.items():
        logger.write(run.num_steps, f"eval/{name}", {
            k: v for k, v in metrics.items() if isinstance(v, (int, float))})
  finally:
    logger.close()
    ckpt.close()

  results = {
      "run": run.fingerprint(),
      "model": dataclasses.asdict(model_cfg),
      "num_devices": jax.device_count(),
      "final_step": run.num_steps,
      "eval": eval_results,
  }
  if jax.process_index() == 0:
    results_io.write_results(run.model_dir, results)
  return results


def _state_shardings(prepared: PreparedModel, optimizer) -> TrainState:
  # optax states mirror params, so initialising from the boxed abstract params
  # carries the logical axes over to every moment; counters get replicated.
  boxed_opt = jax.eval_shape(optimizer.init, prepared.boxed_params)
  opt_shardings = prepared.partitioner.tree_shardings(boxed_opt)
  return TrainState(step=prepared.partitioner.replicated(),
                    params=prepared.param_shardings, opt_state=opt_shardings)


def _initial_state(run: TrainRun, prepared: PreparedModel, optimizer,
                   state_shardings: TrainState,
                   ckpt: checkpointing.Checkpointer) -> TrainState:
  """Resumes from this run's checkpoint, or initialises (maybe from init_from)."""
  if ckpt.latest_step() is not None:
    abstract = checkpointing.abstract_like(
        jax.eval_shape(lambda p: TrainState(jnp.zeros((), jnp.int32), p,
                                            optimizer.init(p)),
                       prepared.abstract_params),
        state_shardings)
    print(f"[xferjax] {run.model_dir}: resuming from step {ckpt.latest_step()}")
    return ckpt.restore(abstract)

  params = prepared.init_params(run.seed)
  if run.init_from:
    source = checkpointing.Checkpointer(run.init_from)
    try:
      restored = source.restore_params(
          {"encoder": prepared.abstract_params["encoder"]})
    finally:
      source.close()
    params = {**params, **restored}
  init_opt = jax.jit(optimizer.init, out_shardings=state_shardings.opt_state)
  step = jax.device_put(jnp.zeros((), jnp.int32), state_shardings.step)
  return TrainState(step, params, init_opt(params))


def _summarise(pending: list[dict[str, jax.Array]], model_dir: str,
               step: int) -> dict[str, float]:
  """Means over the logging interval; stops on a non-finite loss."""
  fetched = jax.device_get(pending)
  losses = np.array([m["loss"] for m in fetched])
  if not np.all(np.isfinite(losses)):
    bad = step - len(losses) + int(np.argmin(np.isfinite(losses))) + 1
    raise errors.TrainingError(
        f"non-finite loss at step {bad} in {model_dir}",
        "lower the learning rate or check the data; the last good checkpoint "
        "(if any) is in checkpoints/")
  return {k: float(np.mean([m[k] for m in fetched])) for k in fetched[0]}
