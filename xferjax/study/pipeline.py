"""The three-phase study: (pretrain) -> intermediate -> target -> zero-shot.

For every seed the study trains the intermediate task from the pretrained
encoder, then fine-tunes the target task twice, from the intermediate
encoder and (the baseline) straight from the pretrained one, and evaluates
both zero-shot on the target's dev set in every language. Each phase is an
ordinary `TrainRun` in its own directory:

  <output_dir>/pretrain/                       phase 0 (demo world only)
  <output_dir>/seed<S>/intermediate/
  <output_dir>/seed<S>/target_after_intermediate/
  <output_dir>/seed<S>/target_baseline/
  <output_dir>/results.json, results_table.csv, zero_shot_accuracy.png,
  report.md

A phase whose `results.json` exists is skipped, so an interrupted or repeated
study resumes where it stopped (and a pod job can simply be re-launched).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import gin

from xferjax import errors, partitioning
from xferjax.models.encoder import EncoderConfig
from xferjax.train.trainer import TrainRun, run_training

BASELINE = "target_baseline"
WITH_INTERMEDIATE = "target_after_intermediate"


@gin.configurable
@dataclasses.dataclass(frozen=True)
class Study:
  """A study's phases (TrainRun templates) and seeds. Bound in gin files."""

  output_dir: str | None = None
  # Phase 0: MLM pretraining of the encoder (the synthetic demo only; real
  # studies start from a pretrained checkpoint via `pretrained_dir`).
  pretrain: TrainRun | None = None
  # A run directory with a pretrained encoder checkpoint (instead of phase 0).
  pretrained_dir: str | None = None
  intermediate: TrainRun | None = None
  target: TrainRun | None = None
  # Zero-shot evaluation tasks, one per language, e.g. "synthetic_nli.de".
  zero_shot_tasks: tuple[str, ...] = ()
  seeds: tuple[int, ...] = (0, 1)

  def validate(self) -> None:
    missing = [n for n in ("output_dir", "intermediate", "target")
               if not getattr(self, n)]
    if missing:
      raise errors.ConfigError(
          f"Study is missing {', '.join(missing)}",
          "bind them in the study's gin file (see gin_configs/demo.gin)")
    if bool(self.pretrain) == bool(self.pretrained_dir):
      raise errors.ConfigError(
          "a study needs exactly one of Study.pretrain (train an encoder "
          "first) or Study.pretrained_dir (start from a checkpoint)",
          "set one of them in the study's gin file")
    if not self.seeds:
      raise errors.ConfigError("Study.seeds is empty",
                               "list at least one seed, e.g. (0, 1)")
    if not self.zero_shot_tasks:
      raise errors.ConfigError(
          "Study.zero_shot_tasks is empty",
          "list the target task's per-language dev tasks")


def language_of(task_name: str) -> str:
  """`synthetic_nli.syn1` -> `syn1` (the registry's naming convention)."""
  return task_name.rsplit(".", 1)[-1]


def phase_runs(study: Study) -> list[tuple[str, TrainRun]]:
  """Every phase of the study, in an order that satisfies dependencies."""
  out = study.output_dir
  runs = []
  pretrained = study.pretrained_dir
  if study.pretrain:
    pretrained = os.path.join(out, "pretrain")
    runs.append(("pretrain", dataclasses.replace(study.pretrain,
                                                 model_dir=pretrained)))
  for seed in study.seeds:
    seed_dir = os.path.join(out, f"seed{seed}")
    inter_dir = os.path.join(seed_dir, "intermediate")
    runs.append((f"seed{seed}/intermediate", dataclasses.replace(
        study.intermediate, model_dir=inter_dir, seed=seed,
        init_from=pretrained)))
    for name, init in ((WITH_INTERMEDIATE, inter_dir), (BASELINE, pretrained)):
      runs.append((f"seed{seed}/{name}", dataclasses.replace(
          study.target, model_dir=os.path.join(seed_dir, name), seed=seed,
          init_from=init, eval_tasks=tuple(study.zero_shot_tasks))))
  return runs


def run_study(study: Study, model_cfg: EncoderConfig | None = None,
              partitioner: partitioning.Partitioner | None = None,
              config_text: str | None = None) -> dict[str, Any]:
  """Runs (or resumes) every phase, then writes the tables, plot and report."""
  from xferjax.study import report  # matplotlib only when needed

  study.validate()
  model_cfg = model_cfg or EncoderConfig()
  partitioner = partitioner or partitioning.create_partitioner()
  os.makedirs(study.output_dir, exist_ok=True)
  phase_results = {}
  for name, run in phase_runs(study):
    print(f"[xferjax] study phase {name}")
    phase_results[name] = run_training(run, model_cfg, partitioner,
                                       config_text=config_text)
  return report.write_study_outputs(study, phase_results)
