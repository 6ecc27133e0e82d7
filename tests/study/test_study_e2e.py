"""The study grid end to end on the synthetic world (tiny settings): cells,
epochs turned into steps, skip/resume, parallel `--cell` runs, `--collect`,
the report (parsed as HTML), and the errors for a bad grid."""

import json
import os
import re
import subprocess
import sys

import pandas as pd
import pytest

from conftest import REPO, XFERJAX
from test_study_report import check_report
from xferjax import cli

TINY = [
    "--gin.Study.model_presets=('models/synthetic_small.gin',)",
    "--gin.EncoderConfig.num_layers=1",
    "--gin.Study.data_sizes=(500,)",
    "--gin.Study.seeds=(0, 1)",
    "--gin.nli/Target.zero_shot_tasks=('synthetic_nli.en', "
    "'synthetic_nli.syn3')",
    "--gin.pretrain/TrainRun.num_steps=20",
    # Epochs -> steps: ceil(0.5 * 500 / 32) = 8 and ceil(0.75 * 400 / 32) = 10.
    "--gin.entailment/Intermediate.epochs=0.5",
    "--gin.nli/Target.epochs=0.75",
    "--gin.Study.n_boot=200",
]


def _study(out_dir, capsys, *extra, expect=0):
  code = cli.main(["study", "--gin_file=demo.gin",
                   f"--gin.OUTPUT_DIR='{out_dir}'", *TINY, *extra])
  captured = capsys.readouterr()
  assert code == expect, captured.err
  return captured


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
  return tmp_path_factory.mktemp("study") / "demo"


def test_list_prints_every_cell(study_dir, capsys):
  out = _study(study_dir, capsys, "--list").out
  assert "4 cells" in out and "xferjax plan's model FLOPs per step" in out
  assert "baseline" in out and "synthetic_entailment_n500" in out
  # Cell 1 trains 8 intermediate + 10 target steps; pretraining is shared.
  assert re.search(r"\n\s+1\s+synthetic_small\s+synthetic_entailment_n500"
                   r"\s+0\s+18\s", out), out
  assert "pretrain (shared)" in out
  assert not study_dir.exists()  # listing runs nothing


def test_study_writes_tables_and_report(study_dir, capsys):
  _study(study_dir, capsys)
  results = pd.read_parquet(study_dir / "results.parquet")
  assert set(results.columns) >= {
      "model", "params", "intermediate_task", "n_examples", "seed",
      "target_task", "language", "split", "metric", "value"}
  # 1 model x (baseline + 1 size) x 2 seeds x 2 languages, one metric.
  assert len(results) == 8
  assert set(results["intermediate_task"]) == {"none",
                                               "synthetic_entailment"}
  assert set(results["n_examples"]) == {0, 500}
  assert results["value"].between(0, 100).all()
  csv = pd.read_csv(study_dir / "results.csv")
  assert len(csv) == len(results)
  examples = pd.read_parquet(study_dir / "examples.parquet")
  assert len(examples) == 8 * 600  # every dev example of every row
  # One model below the threshold: the question cannot be answered here,
  # and a 20-step pretraining may well show no gain at all.
  first = check_report(study_dir, "")
  assert first.startswith((
      "This study cannot answer whether the gain diminishes above 100k "
      "parameters: all its models have fewer than 100k",
      "No measurable gain: intermediate-task training does not change the "
      "zero-shot score distinguishably from zero, for its models, all with "
      "fewer than 100k parameters")), first
  assert "2 seeds per model" in first and "600 per language" in first
  small = study_dir / "synthetic_small"
  for phase in ("pretrain", "baseline/seed0/target_synthetic_nli",
                "synthetic_entailment_n500/seed1/intermediate",
                "synthetic_entailment_n500/seed1/target_synthetic_nli"):
    assert (small / phase / "results.json").exists(), phase
    assert (small / phase / "config.gin").exists(), phase
  inter = json.loads((small / "synthetic_entailment_n500/seed1/intermediate/"
                      "results.json").read_text())
  assert inter["final_step"] == 8 and inter["num_train_examples"] == 500


def test_rerun_skips_finished_phases(study_dir, capsys):
  small = study_dir / "synthetic_small"
  metrics = {p: (small / p / "metrics.jsonl").read_text()
             for p in ("pretrain", "synthetic_entailment_n500/seed0/"
                       "intermediate", "baseline/seed1/target_synthetic_nli")}
  out = _study(study_dir, capsys).out
  # Each seed: baseline (pretrain, target) + one cell (pretrain, inter, target).
  assert out.count("already finished, skipped") == 2 * (2 + 3)
  for phase, text in metrics.items():
    assert (small / phase / "metrics.jsonl").read_text() == text, phase


def test_interrupted_phase_is_redone_alone(study_dir, capsys):
  before = pd.read_csv(study_dir / "results.csv")
  (study_dir / "synthetic_small" / "baseline" / "seed1" /
   "target_synthetic_nli" / "results.json").unlink()
  out = _study(study_dir, capsys).out
  assert out.count("already finished, skipped") == 2 * (2 + 3) - 1
  after = pd.read_csv(study_dir / "results.csv")
  # The checkpoint at the final step is reused: same predictions, same table.
  pd.testing.assert_frame_equal(before, after)


def test_changed_settings_in_finished_dir_is_refused(study_dir, capsys):
  err = _study(study_dir, capsys,
               "--gin.pretrain/TrainRun.learning_rate=0.5", expect=2).err
  assert "different settings" in err and "learning_rate" in err


def test_parallel_cells_do_not_clobber(tmp_path, capsys):
  out_dir = tmp_path / "parallel"
  args = ["study", "--gin_file=demo.gin", f"--gin.OUTPUT_DIR='{out_dir}'",
          *TINY]
  procs = [subprocess.Popen([XFERJAX, *args, f"--cell={k}"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True) for k in (0, 1)]
  outputs = [p.communicate(timeout=600) for p in procs]
  for p, (out, err) in zip(procs, outputs):
    assert p.returncode == 0, err[-3000:]
  # Both cells need the shared pretraining: exactly one process trained it.
  trained = [out for out, _ in outputs if "pretrain: already finished" not in
             out]
  assert len(trained) == 1
  pretrain_metrics = (out_dir / "synthetic_small" / "pretrain" /
                      "metrics.jsonl").read_text().splitlines()
  assert len([l for l in pretrain_metrics
              if json.loads(l)["split"] == "train"]) == 1  # 20 steps, 1 log
  _study(out_dir, capsys, "--collect")
  results = pd.read_csv(out_dir / "results.csv")
  assert set(results["seed"]) == {0}  # cells 0 and 1 are seed 0


@pytest.mark.parametrize("extra,needle", [
    (["--gin.Study.seeds=()"], "grid is empty"),
    (["--gin.Study.pretrain=None",
      "--gin.Study.pretrained_dirs={'xlmr_large': '/ckpt'}"],
     "no pretrained checkpoint directory for model preset(s) "
     "['synthetic_small']"),
    (["--cell=99"], "there is no cell 99"),
])
def test_bad_grids(tmp_path, capsys, extra, needle):
  err = _study(tmp_path / "bad", capsys, *extra, expect=2).err
  assert needle in err
