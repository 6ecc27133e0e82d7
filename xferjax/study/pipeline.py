"""The study: a grid of cells, each intermediate -> target -> zero-shot.

A study (a gin file, e.g. `demo.gin` or `sweeps/*.gin`) names model presets,
intermediate tasks, intermediate data sizes, target tasks and seeds. It
expands into *cells*:

  (model preset, intermediate task or none, data size, seed)

The cell without an intermediate task is that model's and seed's *baseline*;
every other cell is compared with it. Running a cell trains (once) the
model's encoder source (a pretraining phase, or a pretrained checkpoint),
then the cell's intermediate task, then every target task from that
intermediate encoder, each evaluated zero-shot on all its languages. Layout:

  <output_dir>/<model>/pretrain/                        (if pretraining)
  <output_dir>/<model>/<intermediate>_n<N>/seed<S>/intermediate/
  <output_dir>/<model>/<intermediate>_n<N>/seed<S>/target_<name>/
  <output_dir>/<model>/baseline/seed<S>/target_<name>/
  <output_dir>/results.{csv,parquet}, examples.{csv,parquet}, report...

Every phase is an ordinary run directory (`xferjax.train.trainer`): a
finished one is skipped, an interrupted one resumes, and each is trained
under a file lock, so `--cell K` runs in parallel processes never clobber
each other and shared phases are trained once.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import gin

from xferjax import errors, partitioning
from xferjax.models.encoder import EncoderConfig
from xferjax.study import locking
from xferjax.train.trainer import TrainRun, run_training

BASELINE = "baseline"
NO_INTERMEDIATE = "none"


@gin.configurable
@dataclasses.dataclass(frozen=True)
class Target:
  """A target task: its English training run and its zero-shot eval tasks."""

  name: str | None = None
  train: TrainRun | None = None
  # One SeqIO task per language, e.g. ('xnli.en', 'xnli.de', ...).
  zero_shot_tasks: tuple[str, ...] = ()


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
  # ...or a run/checkpoint directory per preset name (converted weights).
  pretrained_dirs: dict[str, str] | None = None
  intermediate_tasks: tuple[str, ...] = ()
  # Intermediate training-set sizes; None means the full set. A size N
  # selects the registered task `<task>_n<N>` (a nested, seeded subset).
  data_sizes: tuple[int | None, ...] = (None,)
  intermediate: TrainRun | None = None
  targets: tuple[Target, ...] = ()
  seeds: tuple[int, ...] = (0,)

  def validate(self) -> None:
    if not self.output_dir:
      raise errors.ConfigError("Study.output_dir is not set",
                               "bind it, e.g. --gin.OUTPUT_DIR=\"'/tmp/s'\"")
    empty = [name for name in ("model_presets", "targets", "seeds")
             if not getattr(self, name)]
    if empty:
      raise errors.ConfigError(
          f"the study's grid is empty: {', '.join(empty)} "
          f"{'has' if len(empty) == 1 else 'have'} no entries",
          "list at least one model preset, target and seed in the sweep's "
          "gin file (see gin_configs/demo.gin)")
    if self.intermediate_tasks and not self.intermediate:
      raise errors.ConfigError(
          "Study.intermediate_tasks is set but Study.intermediate (the "
          "intermediate phase's TrainRun template) is not",
          "bind Study.intermediate = @intermediate/TrainRun()")
    if bool(self.pretrain) == bool(self.pretrained_dirs):
      raise errors.ConfigError(
          "a study needs exactly one encoder source: Study.pretrain (train "
          "one, synthetic world) or Study.pretrained_dirs (a checkpoint "
          "directory per model preset)", "set one of them")
    if self.pretrained_dirs:
      missing = [preset_name(p) for p in self.model_presets
                 if preset_name(p) not in self.pretrained_dirs]
      if missing:
        raise errors.ConfigError(
            f"no pretrained checkpoint directory for model preset(s) "
            f"{missing} (Study.pretrained_dirs has "
            f"{sorted(self.pretrained_dirs)})",
            "add '<preset>': '/path/to/converted/checkpoint' for each preset "
            "(`xferjax convert from-hf` writes one)")
    for target in self.targets:
      if not (target.name and target.train and target.zero_shot_tasks):
        raise errors.ConfigError(
            f"target {target.name!r} needs name, train and zero_shot_tasks",
            "bind them on the target's scope, e.g. xnli/Target.name = 'xnli'")


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
  intermediate_task: str | None  # None: the baseline
  n_examples: int | None
  seed: int

  @property
  def model(self) -> str:
    return preset_name(self.preset_file)

  @property
  def is_baseline(self) -> bool:
    return self.intermediate_task is None

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
      combos = [(None, None)] + [(t, n) for t in study.intermediate_tasks
                                 for n in study.data_sizes]
      for task, size in combos:
        cells.append(Cell(len(cells), preset, task, size, seed))
  return cells


def encoder_source_dir(study: Study, cell: Cell) -> str:
  if study.pretrain:
    return os.path.join(study.output_dir, cell.model, "pretrain")
  return study.pretrained_dirs[cell.model]


def cell_runs(study: Study, cell: Cell) -> list[tuple[str, TrainRun]]:
  """The phases of one cell, in dependency order (shared ones included)."""
  runs = []
  source = encoder_source_dir(study, cell)
  if study.pretrain:
    runs.append(("pretrain", dataclasses.replace(study.pretrain,
                                                 model_dir=source)))
  cell_dir = cell.directory(study)
  init = source
  if not cell.is_baseline:
    init = os.path.join(cell_dir, "intermediate")
    runs.append(("intermediate", dataclasses.replace(
        study.intermediate, model_dir=init, seed=cell.seed, init_from=source,
        task=sized_task_name(cell.intermediate_task, cell.n_examples),
        eval_tasks=(cell.intermediate_task,))))
  for target in study.targets:
    runs.append((f"target_{target.name}", dataclasses.replace(
        target.train, model_dir=os.path.join(cell_dir,
                                             f"target_{target.name}"),
        seed=cell.seed, init_from=init,
        eval_tasks=tuple(target.zero_shot_tasks))))
  return runs


def run_cell(study: Study, cell: Cell, model_cfg: EncoderConfig,
             partitioner: partitioning.Partitioner | None = None,
             config_text: str | None = None) -> dict[str, Any]:
  """Runs (or resumes, or skips) every phase of a cell."""
  partitioner = partitioner or partitioning.create_partitioner()
  results = {}
  for name, run in cell_runs(study, cell):
    print(f"[xferjax] cell {cell.index} ({cell.describe()}): {name}")
    with locking.run_dir_lock(run.model_dir):
      results[name] = run_training(run, model_cfg, partitioner, config_text)
  return results


def estimated_train_flops(study: Study, cell: Cell, params: int) -> float:
  """6 x params x tokens over the cell's own training phases (no eval).

  A rough figure for `--list`: the usual dense-transformer estimate with
  every position counted as a token; shared phases are counted in every
  cell that needs them.
  """
  total = 0.0
  for _, run in cell_runs(study, cell):
    length = sum(run.task_feature_lengths.values()) + 3
    total += 6.0 * params * run.num_steps * run.batch_size * length
  return total


def count_parameters(model_cfg: EncoderConfig) -> int:
  """Parameters of the encoder (what the size axis of a study means)."""
  import jax
  import jax.numpy as jnp
  from flax import linen as nn

  from xferjax.models.encoder import Encoder

  ids = jnp.ones((1, 4), jnp.int32)
  shapes = jax.eval_shape(
      lambda r: nn.meta.unbox(Encoder(model_cfg).init(r, ids, ids)),
      jax.random.PRNGKey(0))
  return int(sum(x.size for x in jax.tree.leaves(shapes)))
