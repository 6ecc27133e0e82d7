"""One training run: a task, a head, a number of steps, a run directory.

`xferjax train` runs one from gin; the study chains several (pretrain ->
intermediate -> target) by pointing each run's `init_from` at the previous
run's directory. A run directory holds:

  config.gin        the operative gin config (or the study's settings)
  metrics.jsonl     train/eval metrics, one JSON object per line
  tensorboard/      the same as TensorBoard events
  checkpoints/      Orbax checkpoints (see `checkpointing`): the last
                    `keep_checkpoints`, plus the best one when a metric is
                    tracked
  checkpoints_corrupt/  damaged checkpoints found on resume (moved, not
                    deleted)
  predictions/      per-example predictions of the final evaluation
  results.json      written last, atomically: its presence means "finished"

Re-running a finished run does nothing and says so; re-running an
interrupted one resumes from its newest intact checkpoint and continues
exactly (same batches, dropout and losses as an uninterrupted run). SIGTERM
saves at the next step boundary and exits with
`preemption.PREEMPTED_EXIT_CODE` (75).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any

import gin
import jax
import jax.numpy as jnp
import seqio
from flax import linen as nn

from xferjax import errors, partitioning
from xferjax.data import features as features_lib
from xferjax.data import masking, mixing, pipeline
from xferjax.data import vocab as vocab_lib
from xferjax.models import api
from xferjax.models.encoder import HEADS_WITH_LABELS
from xferjax.models.t5 import TEXT_TO_TEXT
from xferjax.train import checkpointing, optimizer as optimizer_lib
from xferjax.train import results_io, run_dir, run_state as run_state_lib
from xferjax.train.early_stopping import EarlyStopping, MODES
from xferjax.train import multitask
from xferjax.train.evaluator import Evaluator, EvaluatorGroup, check_head
from xferjax.train.loop import NONFINITE_POLICIES, TrainLoop, numeric
from xferjax.train.metrics import MetricsLogger
from xferjax.train.preemption import PreemptionWatcher
from xferjax.train.steps import (TrainState, check_accumulation,
                                 make_train_step)

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
  # Global batch per optimizer step (all micro-batches together).
  batch_size: int = 32
  learning_rate: float = 1e-4
  warmup_steps: int = 0
  weight_decay: float = 0.01
  seed: int = 0
  # A run directory whose latest checkpoint initialises this run (all
  # parameters but the task head, see `transferable_params`).
  init_from: str | None = None
  eval_tasks: tuple[str, ...] = ()
  eval_split: str = "validation"
  eval_batch_size: int = 128
  log_every: int = 50
  checkpoint_every: int = 0  # 0: only at the end (and on preemption)
  # Optimizer (`adamw`, `adafactor`; more settings: gin `adamw.*` etc.),
  # decay after the linear warmup, global-norm clipping (None: off).
  optimizer: str = "adamw"
  lr_decay: str = "linear"
  grad_clip_norm: float | None = 1.0
  # Micro-batches per step, accumulated inside the jitted step.
  grad_accum_steps: int = 1
  # Evaluate eval_tasks every N steps (0: only at the end).
  eval_every: int = 0
  # Track the best checkpoint by this metric (`accuracy`: mean over
  # eval_tasks; `task/accuracy`: one task) and evaluate the best at the end;
  # patience > 0 also stops after that many evaluations without improvement.
  early_stopping_metric: str | None = None
  early_stopping_mode: str = "max"
  early_stopping_patience: int = 0
  keep_checkpoints: int = 2  # the last N (plus the best)
  # A non-finite loss/gradient is never applied; `stop` ends the run,
  # `skip` counts it and goes on (up to max_skipped_steps).
  nonfinite_policy: str = "stop"
  max_skipped_steps: int = 10
  async_checkpoints: bool = True
  checksum_checkpoints: bool = True
  # Feature-converter options per head, for training and evaluation, e.g.
  # {'span': {'max_length': 384, 'doc_stride': 128}} (see
  # xferjax.data.features.converter_for).
  converter_options: dict[str, dict[str, Any]] | None = None

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
    for name in ("log_every", "grad_accum_steps", "keep_checkpoints"):
      if getattr(self, name) < 1:
        raise errors.ConfigError(f"TrainRun.{name} must be at least 1",
                                 f"fix TrainRun.{name}")
    if self.batch_size % self.grad_accum_steps:
      raise errors.ConfigError(
          f"batch_size {self.batch_size} is not divisible by "
          f"grad_accum_steps {self.grad_accum_steps}",
          "batch_size is the whole step's batch: make it a multiple of "
          "grad_accum_steps")
    check_accumulation(self.head, self.grad_accum_steps)
    choices = {"optimizer": optimizer_lib.OPTIMIZERS,
               "lr_decay": optimizer_lib.DECAYS,
               "nonfinite_policy": NONFINITE_POLICIES,
               "early_stopping_mode": MODES}
    for name, allowed in choices.items():
      if getattr(self, name) not in allowed:
        raise errors.ConfigError(
            f"TrainRun.{name} = {getattr(self, name)!r} is unknown",
            f"use one of {sorted(allowed)}")
    if self.eval_tasks and self.head != multitask.MULTI_TASK:
      check_head(self.head, "TrainRun.eval_tasks")
    unknown = sorted(set(self.converter_options or {}) -
                     set(features_lib.CONVERTERS))
    if unknown or not all(isinstance(v, dict) for v in
                          (self.converter_options or {}).values()):
      raise errors.ConfigError(
          f"TrainRun.converter_options must map head names to option dicts "
          f"(unknown heads: {unknown})", "e.g. {'span': {'max_length': 384, "
          f"'doc_stride': 128}}; heads: {sorted(features_lib.CONVERTERS)}")
    if self.early_stopping_metric:
      if not self.eval_tasks or self.eval_every <= 0:
        raise errors.ConfigError(
            "early_stopping_metric needs eval_tasks and eval_every > 0",
            "set TrainRun.eval_tasks and TrainRun.eval_every (e.g. 100)")
      task = self.early_stopping_metric.rpartition("/")[0]
      if task and task not in self.eval_tasks:
        raise errors.ConfigError(
            f"early_stopping_metric {self.early_stopping_metric!r} names "
            f"task {task!r}, which is not in eval_tasks",
            f"use one of {list(self.eval_tasks)}, or a bare metric name "
            "(the mean over eval_tasks)")

  def fingerprint(self) -> dict[str, Any]:
    """What must match for an existing run dir to count as this run."""
    d = dataclasses.asdict(self)
    d.pop("model_dir")
    d["eval_tasks"] = list(d["eval_tasks"])
    return d

  @classmethod
  def default_fingerprint(cls) -> dict[str, Any]:
    """Field defaults: the value a run saved before a field existed had."""
    d = run_state_lib.field_defaults(cls)
    d.pop("model_dir")
    d["eval_tasks"] = list(d["eval_tasks"])
    return d


def converter(task, head: str, special_ids: dict[str, int],
              options: dict[str, dict[str, Any]] | None = None):
  """The feature converter of `head` for `task` (`features.converter_for`),
  with the run's options for that head (`TrainRun.converter_options`)."""
  return features_lib.converter_for(task, head, special_ids,
                                    **(options or {}).get(head, {}))


# The output feature whose vocabulary sizes the embedding, in this order.
TEXT_FEATURES = ("text", "text_a", "tokens", "question", "inputs", "targets")


def _text_vocabulary(task):
  for key in TEXT_FEATURES:
    if key in task.output_features:
      return task.output_features[key].vocabulary
  raise errors.ConfigError(
      f"task {task.name!r} has none of the text output features "
      f"{list(TEXT_FEATURES)}",
      "encoder tasks declare output_features 'text' (MLM) or 'text_a' "
      "[+ 'text_b'] and 'label' (classification); text-to-text tasks "
      "'inputs' and 'targets'")


def _special_ids(vocab, head: str, family: str = "encoder"
                 ) -> dict[str, int]:
  """Encoder heads need <cls>/<sep>/<mask>; the mT5 family (text-to-text,
  and its encoder's sentence embeddings) only pad and eos."""
  if head == TEXT_TO_TEXT or family == "encoder_decoder":
    return {"pad": 0, "eos": vocab.eos_id}
  return vocab_lib.special_ids(vocab)


def resolve_model_config(model_cfg: Any = None) -> tuple[str, Any]:
  """(family, config): the family of `model_cfg`'s type, or, without one,
  gin's `model_family.family` and its gin-bound config."""
  if model_cfg is None:
    family = api.model_family()
    return family, api.FAMILIES[family][0]()
  for family, (config_cls, _) in api.FAMILIES.items():
    if isinstance(model_cfg, config_cls):
      return family, model_cfg
  raise errors.ConfigError(
      f"{type(model_cfg).__name__} is not a model config",
      "pass an EncoderConfig or a T5Config (or bind a preset in gin)")


@dataclasses.dataclass
class PreparedModel:
  """A model with its shardings, built abstractly before any allocation."""

  model: nn.Module
  partitioner: partitioning.Partitioner
  param_shardings: Any
  abstract_params: Any  # unboxed ShapeDtypeStructs carrying shardings
  boxed_params: Any  # abstract, with logical axis metadata
  # rng -> boxed params; None: the model's own (a multi-task run has one
  # encoder and every task's head, `multitask.init_fn`).
  init: Any = None

  def init_params(self, seed: int):
    boxed = self.init or (lambda r: api.init_boxed(self.model, r))
    init = jax.jit(lambda r: nn.meta.unbox(boxed(r)),
                   out_shardings=self.param_shardings)
    with self.partitioner.context():
      return init(jax.random.PRNGKey(seed))


def prepare_model(model: nn.Module,
                  partitioner: partitioning.Partitioner,
                  members: dict[str, nn.Module] | None = None
                  ) -> PreparedModel:
  """`members`: a multi-task run's model per task (`model` is the first)."""
  with partitioner.context():
    boxed = (multitask.abstract_params(members) if members else
             api.abstract_params(model))
  partitioning.check_divisible(boxed, partitioner)
  shardings = partitioner.tree_shardings(boxed)
  abstract = checkpointing.abstract_like(nn.meta.unbox(boxed), shardings)
  return PreparedModel(model, partitioner, shardings, abstract, boxed,
                       multitask.init_fn(members) if members else None)


def num_labels_of(task, head: str) -> int:
  """Head size: the task's label names (for multiple_choice, its choices)."""
  if head in HEADS_WITH_LABELS + ("multiple_choice",):
    return len(features_lib.label_names_of(
        task, "tags" if head == "tagging" else "label"))
  return 1  # unused by the other heads


def build_model_for_task(task_name: str, head: str, cfg: Any,
                         family: str | None = None):
  """Model + vocabulary facts for a task (head sized from its labels)."""
  family, cfg = resolve_model_config(cfg) if family is None else (family,
                                                                    cfg)
  task = pipeline.get_task_or_mixture(task_name)
  if isinstance(task, seqio.Mixture):
    task = task.tasks[0]  # one layout: the tasks share features
  vocab = _text_vocabulary(task)
  special = _special_ids(vocab, head, family)
  if vocab.vocab_size > cfg.vocab_size:
    raise errors.ShapeError(
        f"task {task_name!r} uses a vocabulary of {vocab.vocab_size} pieces "
        f"but the model's embedding has vocab_size {cfg.vocab_size}",
        f"raise {type(cfg).__name__}.vocab_size to at least the vocabulary "
        "size (a multiple of 128 shards best)")
  model = api.build_model(head, num_labels_of(task, head), family, cfg)
  return task, model, special


def _check_batch(run: TrainRun, partitioner: partitioning.Partitioner):
  partitioning.check_batch_divisible(run.batch_size, partitioner)
  micro = run.batch_size // run.grad_accum_steps
  shards = partitioner.data_parallel_size
  if run.grad_accum_steps > 1 and micro % shards:
    raise errors.ShapeError(
        f"micro-batch size {micro} (batch_size {run.batch_size} / "
        f"grad_accum_steps {run.grad_accum_steps}) is not divisible by the "
        f"{shards} data-parallel shards",
        f"make batch_size a multiple of grad_accum_steps x {shards}")


def _batch_fn(run: TrainRun, batcher, head: str, special: dict[str, int],
              vocab_size: int):
  """step -> this process' rows of the global batch (masked for MLM)."""
  if head != "mlm":
    return batcher.batch
  specials = tuple(special[k] for k in ("pad", "eos", "cls", "sep", "mask"))
  return lambda step: masking.mask_tokens(
      batcher.batch(step), seed=run.seed, step=step, mask_id=special["mask"],
      vocab_size=vocab_size, special_ids=specials)


def _member_seed(seed: int, index: int) -> int:
  """Each mixture task shuffles with its own seed (a function of the
  run's)."""
  return seed * 1009 + index + 1


@dataclasses.dataclass
class TrainingSetup:
  """What a run trains on: the model(s), the batches and their steps.

  `members` (multi-task mixtures) holds one `multitask.Member` per task;
  `batch_fn(step)` then returns (task, batch) and `make_steps` a step per
  task."""

  prepared: PreparedModel
  batch_fn: Any
  num_examples: int
  special: dict[str, int]
  head: str
  members: dict[str, multitask.Member] | None = None

  def make_steps(self, run: TrainRun, optimizer, state_shardings):
    def jitted(model, freeze_for=None):
      step = make_train_step(model, optimizer,
                             jax.random.PRNGKey(run.seed + 1),
                             run.grad_accum_steps)
      if freeze_for is not None:
        step = multitask.freeze_other_heads(step, freeze_for)
      return jax.jit(step, in_shardings=(state_shardings, None),
                     out_shardings=(state_shardings, None), donate_argnums=0)

    if self.members is None:
      return jitted(self.prepared.model)
    return {t: jitted(m.view, t) for t, m in self.members.items()}

  def make_evaluator(self, run: TrainRun):
    if not run.eval_tasks:
      return None

    def evaluator(model, tasks, head, select=None):
      return Evaluator(
          dataclasses.replace(self.prepared, model=model), tasks,
          run.eval_split, run.task_feature_lengths,
          lambda t: converter(t, head, self.special, run.converter_options),
          run.eval_batch_size, head=head, select_params=select)

    if self.members is None:
      return evaluator(self.prepared.model, run.eval_tasks, self.head)
    unknown = [t for t in run.eval_tasks if t not in self.members]
    if unknown:
      raise errors.ConfigError(
          f"eval_tasks {unknown} are not tasks of the mixture {run.task!r} "
          f"({sorted(self.members)})", "a multi-task run evaluates its own "
          "tasks (each with its head); list some of those")
    return EvaluatorGroup(
        evaluator(self.members[t].model, (t,), self.members[t].head,
                  self.members[t].view.select) for t in run.eval_tasks)


def _load_batcher(run: TrainRun, name: str, head: str, special, seed: int
                  ) -> pipeline.StepBatcher:
  task = pipeline.get_task_or_mixture(name)
  arrays = pipeline.load_examples(
      name, run.split, run.task_feature_lengths,
      converter(task, head, special, run.converter_options))
  return pipeline.StepBatcher(arrays, run.batch_size, seed=seed)


def training_setup(run: TrainRun, model_cfg: Any, family: str,
                   partitioner: partitioning.Partitioner) -> TrainingSetup:
  """The model and batches of `run.task`: a task, a seqio Mixture (one
  layout, mixed per example), or a multi-head `MultiTaskMixture`."""
  task = pipeline.get_task_or_mixture(run.task)
  if isinstance(task, mixing.MultiTaskMixture):
    return _multitask_setup(run, task, model_cfg, family, partitioner)
  if run.head == multitask.MULTI_TASK:
    raise errors.ConfigError(
        f"head {multitask.MULTI_TASK!r} is for multi-task mixtures; "
        f"{run.task!r} is not one", "set TrainRun.head to the task's head")
  _, model, special = build_model_for_task(run.task, run.head, model_cfg,
                                           family)
  first = task.tasks[0] if isinstance(task, seqio.Mixture) else task
  vocab_size = _text_vocabulary(first).vocab_size
  if isinstance(task, seqio.Mixture):
    batchers = {t.name: _load_batcher(run, t.name, run.head, special,
                                      _member_seed(run.seed, i))
                for i, t in enumerate(task.tasks)}
    batcher = mixing.MixedBatcher(
        batchers, {t.name: task.get_rate(t) for t in task.tasks}, run.seed,
        run.batch_size, pipeline.host_slice)
    size = sum(b.size for b in batchers.values())
  else:
    batcher = _load_batcher(run, run.task, run.head, special, run.seed)
    size = batcher.size
  return TrainingSetup(prepare_model(model, partitioner),
                       _batch_fn(run, batcher, run.head, special, vocab_size),
                       size, special, run.head)


def _multitask_setup(run: TrainRun, mixture: mixing.MultiTaskMixture,
                     model_cfg: Any, family: str,
                     partitioner: partitioning.Partitioner) -> TrainingSetup:
  if run.head != multitask.MULTI_TASK:
    raise errors.ConfigError(
        f"{run.task!r} mixes tasks of different heads; its run trains one "
        f"head per task", f"set TrainRun.head = '{multitask.MULTI_TASK}'")
  members, batch_fns, size = {}, {}, 0
  for i, name in enumerate(mixture.task_names):
    head = features_lib.head_of(pipeline.get_task_or_mixture(name))
    check_accumulation(head, run.grad_accum_steps)
    task, model, special = build_model_for_task(name, head, model_cfg,
                                                family)
    members[name] = multitask.Member(name, head, model)
    batcher = _load_batcher(run, name, head, special,
                            _member_seed(run.seed, i))
    batch_fns[name] = _batch_fn(run, batcher, head, special,
                                _text_vocabulary(task).vocab_size)
    size += batcher.size
  draws = mixing.MultiTaskBatcher(
      {n: _Batches(f) for n, f in batch_fns.items()},
      mixture.probabilities(), run.seed)
  first = next(iter(members.values()))
  prepared = prepare_model(first.model, partitioner,
                           {n: m.model for n, m in members.items()})
  return TrainingSetup(prepared, draws.batch, size, special,
                       multitask.MULTI_TASK, members)


@dataclasses.dataclass(frozen=True)
class _Batches:
  """A task's batch function where MultiTaskBatcher expects a batcher."""

  fn: Any

  def batch(self, step: int):
    return self.fn(step)


def run_training(run: TrainRun, model_cfg: Any = None,
                 partitioner: partitioning.Partitioner | None = None,
                 config_text: str | None = None) -> dict[str, Any]:
  """Trains (or resumes, or skips if finished) and returns results.json.

  `model_cfg`: an EncoderConfig or T5Config (its type picks the family);
  None takes gin's `model_family.family` and that family's bound config."""
  run.validate()
  existing = results_io.read_results(run.model_dir)
  if existing is not None:
    results_io.check_same_run(run.model_dir, existing, run.fingerprint(),
                              TrainRun.default_fingerprint())
    log.info("%s already finished; skipping (delete results.json to redo)",
             run.model_dir)
    print(f"[xferjax] {run.model_dir}: already finished, skipped")
    return existing

  family, model_cfg = resolve_model_config(model_cfg)
  partitioner = partitioner or partitioning.create_partitioner()
  _check_batch(run, partitioner)
  setup = training_setup(run, model_cfg, family, partitioner)
  prepared = setup.prepared
  optimizer = optimizer_lib.make_optimizer(
      learning_rate=run.learning_rate, total_steps=run.num_steps,
      warmup_steps=run.warmup_steps, weight_decay=run.weight_decay,
      grad_clip_norm=run.grad_clip_norm, decay=run.lr_decay,
      name=run.optimizer)
  state_shardings = state_shardings_of(prepared, optimizer)

  run_dir.prepare(run.model_dir)
  if config_text is not None and jax.process_index() == 0:
    with run_dir.explain_write_errors("config.gin", lambda: "nothing lost"):
      results_io.atomic_write_text(os.path.join(run.model_dir, "config.gin"),
                                   config_text)
  fingerprint = run.fingerprint()
  model_dict = dataclasses.asdict(model_cfg)

  def run_state_fn(step, progress):
    return run_state_lib.build(
        step, fingerprint, model_dict, run_state_lib.data_position(
            step, run.batch_size, setup.num_examples, run.seed), progress)

  ckpt = checkpointing.Checkpointer(
      run.model_dir, max_to_keep=run.keep_checkpoints,
      async_save=run.async_checkpoints, checksums=run.checksum_checkpoints)
  logger = None
  try:
    with PreemptionWatcher() as watcher, run_dir.explain_write_errors(
        f"to {run.model_dir}", ckpt.describe_last_good):
      state, saved = _initial_state(run, model_cfg, prepared, optimizer,
                                    state_shardings, ckpt,
                                    setup.num_examples)
      progress = run_state_lib.Progress.from_run_state(saved)
      tracker = None
      if run.early_stopping_metric:
        tracker = EarlyStopping(run.early_stopping_metric,
                                run.early_stopping_mode,
                                run.early_stopping_patience)
        tracker.load(progress.early_stopping)
        if tracker.best_step is not None:
          ckpt.keep_steps.add(tracker.best_step)
      evaluator = setup.make_evaluator(run)
      train_step = setup.make_steps(run, optimizer, state_shardings)
      start = int(jax.device_get(state.step))
      logger = MetricsLogger(run.model_dir, run.num_steps, start,
                             description=os.path.basename(run.model_dir))
      loop = TrainLoop(
          run=run, state=state, train_step=train_step,
          batch_fn=setup.batch_fn,
          partitioner=partitioner, ckpt=ckpt, logger=logger,
          progress=progress, run_state_fn=run_state_fn, watcher=watcher,
          evaluator=evaluator, tracker=tracker)
      final_step = loop.train()

      eval_results, eval_params = {}, "last"
      if evaluator:
        params, eval_params = loop.final_params(prepared.abstract_params)
        eval_results = evaluator.evaluate(
            params, os.path.join(run.model_dir, "predictions"))
        for name, metrics in eval_results.items():
          logger.write(final_step, f"final_eval/{name}", numeric(metrics))
      results = {
          "run": fingerprint,
          "model": model_dict,
          "model_family": family,
          "num_devices": jax.device_count(),
          "final_step": final_step,
          "eval": eval_results,
          "eval_params": eval_params,
          "best": tracker.summary() if tracker else None,
          "stopped_early": progress.stopped_early,
          "skipped_steps": progress.skipped_steps,
          "num_train_examples": setup.num_examples,
      }
      if jax.process_index() == 0:
        results_io.write_results(run.model_dir, results)
  except BaseException:
    _close_quietly(logger, ckpt)
    raise
  if logger:
    logger.close()
  ckpt.close()
  return results


def _close_quietly(logger, ckpt) -> None:
  """Closes after a failure without hiding it behind a second error."""
  for close in ((logger.close if logger else None), ckpt.close):
    if close is None:
      continue
    try:
      close()
    except Exception as e:  # pylint: disable=broad-except
      log.warning("while closing after an error: %s", e)


def state_shardings_of(prepared: PreparedModel, optimizer) -> TrainState:
  """Where every leaf of the TrainState lives (the trainer's jit out/in
  shardings; the planner and restores use the same)."""
  # optax states mirror params, so initialising from the boxed abstract params
  # carries the logical axes over to every moment; counters get replicated,
  # and so do Adafactor's factored moments (their rank differs from the
  # parameter's; they are small).
  boxed_opt = jax.eval_shape(optimizer.init, prepared.boxed_params)
  boxed_opt = jax.tree.map(
      lambda x: x.value if (isinstance(x, nn.Partitioned) and
                            len(x.names) != len(x.value.shape)) else x,
      boxed_opt, is_leaf=lambda x: isinstance(x, nn.Partitioned))
  opt_shardings = prepared.partitioner.tree_shardings(boxed_opt)
  return TrainState(step=prepared.partitioner.replicated(),
                    params=prepared.param_shardings, opt_state=opt_shardings)


def _initial_state(run: TrainRun, model_cfg: Any,
                   prepared: PreparedModel, optimizer,
                   state_shardings: TrainState,
                   ckpt: checkpointing.Checkpointer, num_examples: int
                   ) -> tuple[TrainState, dict[str, Any] | None]:
  """Resumes from this run's newest intact checkpoint, or initialises
  (maybe from init_from). Returns the state and the saved run state."""
  if ckpt.all_steps():
    abstract = checkpointing.abstract_like(
        jax.eval_shape(lambda p: TrainState(jnp.zeros((), jnp.int32), p,
                                            optimizer.init(p)),
                       prepared.abstract_params),
        state_shardings)
    check = lambda saved: run_state_lib.check_compatible(
        saved, run.model_dir, run.fingerprint(),
        TrainRun.default_fingerprint(), dataclasses.asdict(model_cfg),
        run_state_lib.field_defaults(type(model_cfg)), num_examples)
    found = ckpt.restore_latest_valid(abstract, check)
    if found is not None:
      state, saved = found
      print(f"[xferjax] {run.model_dir}: resuming from step "
            f"{int(jax.device_get(state.step))}", flush=True)
      return state, saved
    print(f"[xferjax] warning: {run.model_dir} has no intact checkpoint "
          "left; training from the start", flush=True)

  params = prepared.init_params(run.seed)
  if run.init_from:
    source = checkpointing.Checkpointer(run.init_from, read_only=True)
    try:
      restored = source.restore_params(
          transferable_params(prepared.abstract_params))
    finally:
      source.close()
    params = {**params, **restored}
  init_opt = jax.jit(optimizer.init, out_shardings=state_shardings.opt_state)
  step = jax.device_put(jnp.zeros((), jnp.int32), state_shardings.step)
  return TrainState(step, params, init_opt(params)), None


def transferable_params(params: dict[str, Any]) -> dict[str, Any]:
  """What `init_from` carries over: every collection but the task head(s)
  (the encoder of an XLM-R-style model, also of a multi-task one; all of an
  mT5-style one)."""
  return {k: v for k, v in params.items() if not multitask.is_head(k)}
