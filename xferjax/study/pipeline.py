"""The study: a grid of cells, each intermediate -> target -> zero-shot.

A study (a gin file, e.g. `demo.gin` or `sweeps/*.gin`) names model presets,
intermediate tasks, intermediate data sizes, target tasks and seeds. It
expands into *cells*:

  (model preset, intermediate task or none, data size, seed)

The cell without an intermediate task is that model's and seed's *baseline*;
it is always part of the grid, and every other cell is compared with it.
Running a cell trains (once) the model's encoder source (a pretraining
phase, or a pretrained checkpoint), then the cell's intermediate task, then
every target task from that one intermediate checkpoint, each evaluated
zero-shot on all its languages. Layout:

  <output_dir>/<model>/pretrain/                        (if pretraining)
  <output_dir>/<model>/<intermediate>_n<N>/seed<S>/intermediate/
  <output_dir>/<model>/<intermediate>_n<N>/seed<S>/target_<name>/
  <output_dir>/<model>/baseline/seed<S>/target_<name>/
  <output_dir>/results.{csv,parquet}, examples.{csv,parquet}, report.*

Every phase is an ordinary run directory (`xferjax.train.trainer`): a
finished one is skipped, an interrupted one resumes, and each is trained
under a file lock, so `--cell K` runs in parallel processes never clobber
each other and shared phases are trained once.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable

import gin
import jax

from xferjax import errors, partitioning
from xferjax.study import locking, schedule
from xferjax.train import results_io
from xferjax.train.evaluate_run import EvalRun, run_eval
from xferjax.train.evaluator import METRICS_BY_HEAD
from xferjax.train.trainer import TrainRun, resolve_model_config, run_training

BASELINE = "baseline"
# What sweeps call the macro that holds a preset's checkpoint directory.
CHECKPOINT_MACRO = "{}_CHECKPOINT"


@gin.configurable
@dataclasses.dataclass(frozen=True)
class Intermediate:
  """An intermediate task: its training template and length.

  `name` is a registered task or mixture; a study data size N selects
  `<name>_n<N>`, the task's nested, seeded N-example subset.
  """

  name: str | None = None
  train: TrainRun | None = None
  # Epochs over the (sized) training set; None keeps train.num_steps.
  epochs: float | None = None
  warmup_proportion: float = 0.1
  # Evaluated on its own validation split at the end; None: `name` where the
  # head has an evaluation metric, else nothing.
  eval_tasks: tuple[str, ...] | None = None

  @property
  def length(self) -> schedule.Length:
    return schedule.Length(self.epochs, self.warmup_proportion)


@gin.configurable
@dataclasses.dataclass(frozen=True)
class Target:
  """A target task: its English training run and its zero-shot eval tasks.

  A target without `train` is evaluation-only: retrieval (BUCC, Tatoeba)
  takes no fine-tuning, so its tasks are evaluated with sentence
  embeddings of the cell's encoder (its intermediate checkpoint; the
  encoder source for the baseline) on `eval_split`.
  """

  name: str | None = None
  train: TrainRun | None = None
  # One SeqIO task per language, e.g. ('xnli.en', 'xnli.de', ...).
  zero_shot_tasks: tuple[str, ...] = ()
  # Epochs over the English training set (jiant's X-STILTs: XNLI 2,
  # PAWS-X 5, UDPOS 10, PAN-X 10, QA 2); None keeps train.num_steps.
  epochs: float | None = None
  warmup_proportion: float = 0.1
  # Evaluation-only targets: split, lengths, batch and retrieval layer.
  eval_split: str = "test"
  task_feature_lengths: dict[str, int] | None = None
  eval_batch_size: int = 128
  retrieval_layer: int | None = None

  @property
  def length(self) -> schedule.Length:
    return schedule.Length(self.epochs, self.warmup_proportion)

  @property
  def split(self) -> str:
    """The split the zero-shot tasks are scored on."""
    return self.train.eval_split if self.train else self.eval_split


@gin.configurable
@dataclasses.dataclass(frozen=True)
class Study:
  """The grid and the per-phase templates. Bound in gin files."""

  output_dir: str | None = None
  # Gin files of model presets, e.g. ('models/xlmr_large.gin',); each cell's
  # config is the study's gin files plus its preset, so a preset only binds
  # model settings.
  model_presets: tuple[str, ...] = ()
  # Encoder source per preset: a pretraining phase (synthetic world only)...
  pretrain: TrainRun | None = None
  # ...or a run/checkpoint directory per preset name (converted weights),
  # e.g. {'xlmr_large': %XLMR_LARGE_CHECKPOINT}.
  pretrained_dirs: dict[str, str | None] | None = None
  # Names (trained with the `intermediate` template) or Intermediate(...)s.
  intermediate_tasks: tuple[str | Intermediate, ...] = ()
  # Intermediate training-set sizes; None means the full set. A size N
  # selects the registered task `<task>_n<N>` (a nested, seeded subset).
  data_sizes: tuple[int | None, ...] = (None,)
  intermediate: TrainRun | None = None
  targets: tuple[Target, ...] = ()
  seeds: tuple[int, ...] = (0,)
  # Put before every task name the study trains or evaluates on, e.g.
  # 'mt5.' for the text-to-text registrations of the same tasks; results
  # keep the plain names.
  task_prefix: str = ""
  # The report's question: is the gain smaller for models with at least
  # this many parameters than for smaller ones?
  threshold: float = 1e9
  n_boot: int = 2000
  # Shown in the report under the answer: what this study is and is not.
  description: str = ""
  # Reuse XLA compilations across phases with the same shapes (a persistent
  # cache under the xferjax cache dir); most phases of a study share them.
  compilation_cache: bool = True

  def task(self, name: str) -> str:
    """The registered name of a task the study names `name`."""
    return self.task_prefix + name

  @property
  def intermediates(self) -> tuple[Intermediate, ...]:
    return tuple(
        t if isinstance(t, Intermediate) else Intermediate(t, self.intermediate)
        for t in self.intermediate_tasks)

  def validate(self, for_run: bool = True) -> None:
    """Checks the grid; `for_run` also checks what training needs (the
    checkpoint directories), which `--list` does not."""
    if not self.output_dir:
      raise errors.ConfigError("Study.output_dir is not set",
                               "bind it, e.g. --gin.OUTPUT_DIR=\"'/tmp/s'\"")
    empty = [name for name in ("model_presets", "targets", "seeds")
             if not getattr(self, name)]
    if not self.data_sizes and self.intermediate_tasks:
      empty.append("data_sizes")
    if empty:
      raise errors.ConfigError(
          f"the study's grid is empty: {', '.join(empty)} "
          f"{'has' if len(empty) == 1 else 'have'} no entries",
          "list at least one model preset, target and seed (and a data "
          "size, None for the full set) in the sweep's gin file (see "
          "gin_configs/demo.gin)")
    for name in ("model_presets", "seeds", "data_sizes"):
      values = list(getattr(self, name))
      if len(set(values)) != len(values):
        raise errors.ConfigError(f"Study.{name} lists a value twice: "
                                 f"{values}", "list each value once")
    bad_sizes = [n for n in self.data_sizes if n is not None and n <= 0]
    if bad_sizes:
      raise errors.ConfigError(f"Study.data_sizes has non-positive sizes "
                               f"{bad_sizes}", "use positive example counts "
                               "or None (the full training set)")
    for inter in self.intermediates:
      if not (inter.name and inter.train):
        raise errors.ConfigError(
            f"intermediate task {inter.name!r} has no training template",
            "bind Study.intermediate = @intermediate/TrainRun() (for tasks "
            "given by name) or <scope>/Intermediate.train")
      inter.length.validate(f"intermediate task {inter.name}")
    names = [t.name for t in self.intermediates]
    if len(set(names)) != len(names):
      raise errors.ConfigError(f"Study.intermediate_tasks lists a task "
                               f"twice: {names}", "list each task once")
    for target in self.targets:
      if not (target.name and target.zero_shot_tasks and (
          target.train or target.task_feature_lengths)):
        raise errors.ConfigError(
            f"target {target.name!r} needs name, zero_shot_tasks and train "
            "(or, evaluation-only retrieval, task_feature_lengths)",
            "bind them on the target's scope, e.g. xnli/Target.name = 'xnli'")
      target.length.validate(f"target {target.name}")
    if not 0 < self.threshold:
      raise errors.ConfigError(f"Study.threshold = {self.threshold} is not "
                               "positive", "e.g. 1e9 (parameters)")
    if self.n_boot < 10:
      raise errors.ConfigError(f"Study.n_boot = {self.n_boot} is too few",
                               "use at least 10 (2000 for a report)")
    self._validate_encoder_source(for_run)

  def _validate_encoder_source(self, for_run: bool) -> None:
    if bool(self.pretrain) == bool(self.pretrained_dirs):
      raise errors.ConfigError(
          "a study needs exactly one encoder source: Study.pretrain (train "
          "one, synthetic world) or Study.pretrained_dirs (a checkpoint "
          "directory per model preset)", "set one of them")
    if not self.pretrained_dirs:
      return
    presets = [preset_name(p) for p in self.model_presets]
    missing = [p for p in presets if p not in self.pretrained_dirs]
    if missing:
      raise errors.ConfigError(
          f"no pretrained checkpoint directory for model preset(s) "
          f"{missing} (Study.pretrained_dirs has "
          f"{sorted(self.pretrained_dirs)})",
          "add '<preset>': '/path/to/converted/checkpoint' for each preset "
          "(`xferjax convert` writes one)")
    if not for_run:
      return
    unset = [p for p in presets if not self.pretrained_dirs[p]]
    if unset:
      flags = " ".join(f"--gin.{CHECKPOINT_MACRO.format(p.upper())}="
                       f"\"'/ckpt/{p}'\"" for p in unset)
      raise errors.ConfigError(
          f"no pretrained checkpoint directory is set for model preset(s) "
          f"{unset}", f"pass each one, e.g. {flags} (the macros the sweep "
          "declares; `xferjax convert` writes a checkpoint from Hugging "
          "Face weights)")
    absent = [f"{p}: {self.pretrained_dirs[p]}" for p in presets
              if not os.path.isdir(self.pretrained_dirs[p])]
    if absent:
      raise errors.ConfigError(
          f"pretrained checkpoint directories do not exist: "
          f"{'; '.join(absent)}", "convert the checkpoints first, or fix "
          "the paths")


def preset_name(preset_file: str) -> str:
  """'models/xlmr_large.gin' -> 'xlmr_large'."""
  return os.path.splitext(os.path.basename(preset_file))[0]


def language_of(task_name: str) -> str:
  """`synthetic_nli.syn1` -> `syn1` (the registry's naming convention)."""
  return task_name.rsplit(".", 1)[-1]


def sized_task_name(task: str, n_examples: int | None) -> str:
  return task if n_examples is None else f"{task}_n{n_examples}"


@dataclasses.dataclass(frozen=True)
class Cell:
  index: int
  preset_file: str
  intermediate: Intermediate | None  # None: the baseline
  n_examples: int | None
  seed: int

  @property
  def model(self) -> str:
    return preset_name(self.preset_file)

  @property
  def is_baseline(self) -> bool:
    return self.intermediate is None

  @property
  def intermediate_task(self) -> str | None:
    return None if self.intermediate is None else self.intermediate.name

  @property
  def condition(self) -> str:
    if self.is_baseline:
      return BASELINE
    return sized_task_name(self.intermediate_task, self.n_examples)

  def directory(self, study: Study) -> str:
    return os.path.join(study.output_dir, self.model, self.condition,
                        f"seed{self.seed}")

  def describe(self) -> str:
    size = "full" if self.n_examples is None else str(self.n_examples)
    what = ("baseline (no intermediate)" if self.is_baseline else
            f"{self.intermediate_task} n={size}")
    return f"{self.model} | {what} | seed {self.seed}"


def expand_cells(study: Study) -> list[Cell]:
  """The grid, in a stable order: model, seed, baseline first."""
  cells = []
  for preset in study.model_presets:
    for seed in study.seeds:
      combos = [(None, None)] + [(t, n) for t in study.intermediates
                                 for n in study.data_sizes]
      for inter, size in combos:
        cells.append(Cell(len(cells), preset, inter, size, seed))
  return cells


@dataclasses.dataclass(frozen=True)
class Phase:
  """One training run of a cell, before its length is fixed: `run` has its
  directory, seed, task and initialisation; `length` may turn epochs into
  steps once the training-set size is known."""

  name: str
  run: TrainRun | None  # None: an evaluation-only phase
  length: schedule.Length = schedule.Length()
  shared: bool = False  # also needed by other cells (pretraining)
  evaluation: Any = None  # evaluate_run.EvalRun of an evaluation-only phase

  def scheduled(self, size_of: Callable[[str], int | None]
                = schedule.count_train_examples) -> TrainRun:
    if self.length.epochs is None or self.run is None:
      return self.run
    return schedule.apply(self.run, self.length, size_of(self.run.task))


def encoder_source_dir(study: Study, cell: Cell) -> str | None:
  if study.pretrain:
    return os.path.join(study.output_dir, cell.model, "pretrain")
  return study.pretrained_dirs.get(cell.model)


def _eval_tasks(inter: Intermediate) -> tuple[str, ...]:
  if inter.eval_tasks is not None:
    return tuple(inter.eval_tasks)
  return (inter.name,) if inter.train.head in METRICS_BY_HEAD else ()


def zero_shot_tasks(study: Study, target: Target) -> tuple[str, ...]:
  return tuple(study.task(t) for t in target.zero_shot_tasks)


def cell_phases(study: Study, cell: Cell) -> list[Phase]:
  """The phases of one cell, in dependency order (shared ones included)."""
  phases = []
  source = encoder_source_dir(study, cell)
  if study.pretrain:
    phases.append(Phase("pretrain", dataclasses.replace(
        study.pretrain, model_dir=source), shared=True))
  cell_dir = cell.directory(study)
  init = source
  if not cell.is_baseline:
    inter = cell.intermediate
    init = os.path.join(cell_dir, "intermediate")
    phases.append(Phase("intermediate", dataclasses.replace(
        inter.train, model_dir=init, seed=cell.seed, init_from=source,
        task=study.task(sized_task_name(inter.name, cell.n_examples)),
        eval_tasks=tuple(study.task(t) for t in _eval_tasks(inter))),
        inter.length))
  for target in study.targets:
    if target.train is None:
      phases.append(Phase(f"target_{target.name}", None, evaluation=EvalRun(
          checkpoint_dir=init, tasks=zero_shot_tasks(study, target),
          split=target.eval_split,
          task_feature_lengths=target.task_feature_lengths,
          batch_size=target.eval_batch_size, head="embedding",
          output_dir=os.path.join(cell_dir, f"target_{target.name}"),
          retrieval_layer=target.retrieval_layer)))
      continue
    phases.append(Phase(f"target_{target.name}", dataclasses.replace(
        target.train, model_dir=os.path.join(cell_dir,
                                             f"target_{target.name}"),
        task=study.task(target.train.task), seed=cell.seed, init_from=init,
        eval_tasks=zero_shot_tasks(study, target)), target.length))
  return phases


def model_config() -> tuple[str, Any]:
  """(family, config) of the preset gin has parsed last."""
  return resolve_model_config(None)


def run_cell(study: Study, cell: Cell, model_cfg: Any,
             partitioner: partitioning.Partitioner | None = None,
             config_text: str | None = None) -> dict[str, Any]:
  """Runs (or resumes, or skips) every phase of a cell."""
  partitioner = partitioner or partitioning.create_partitioner()
  results = {}
  for phase in cell_phases(study, cell):
    print(f"[xferjax] cell {cell.index} ({cell.describe()}): {phase.name}",
          flush=True)
    if phase.evaluation is not None:
      with locking.run_dir_lock(phase.evaluation.output_dir):
        results[phase.name] = evaluate_phase(phase.evaluation, model_cfg,
                                             partitioner)
      continue
    run = phase.scheduled()
    with locking.run_dir_lock(run.model_dir):
      results[phase.name] = run_training(run, model_cfg, partitioner,
                                         config_text)
  return results


def evaluate_phase(run: EvalRun, model_cfg: Any,
                   partitioner: partitioning.Partitioner) -> dict[str, Any]:
  """An evaluation-only phase: `run_eval`, then results.json (as a trained
  phase has: {"eval": ...}); one with results.json is skipped."""
  done = results_io.read_results(run.output_dir)
  if done is not None:
    return done
  results = {"eval": run_eval(run, model_cfg, partitioner),
             "checkpoint_dir": run.checkpoint_dir, "split": run.split}
  if jax.process_index() == 0:
    results_io.write_results(run.output_dir, results)
  return results


def count_parameters(family: str, model_cfg: Any) -> int:
  """Parameters of the model (what the size axis of a study means), with a
  2-way classification head for encoders (the backbone dominates)."""
  from xferjax.models import api

  return api.count_params(api.build_model(family=family, config=model_cfg))
