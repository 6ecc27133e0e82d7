"""The demo study end to end (tiny settings), and that re-runs skip work."""

import json
import os

import pytest

from xferjax import cli

TINY = [
    "--gin.EncoderConfig.d_model=32", "--gin.EncoderConfig.num_layers=1",
    "--gin.EncoderConfig.d_ff=64",
    "--gin.Study.seeds=(0, 1)",
    "--gin.Study.zero_shot_tasks=('synthetic_nli.en', 'synthetic_nli.syn3')",
    "--gin.pretrain/TrainRun.num_steps=20",
    "--gin.intermediate/TrainRun.num_steps=10",
    "--gin.target/TrainRun.num_steps=10",
]


def _study(out_dir, capsys, *extra):
  code = cli.main(["study", "--gin_file=demo.gin",
                   f"--gin.OUTPUT_DIR='{out_dir}'", *TINY, *extra])
  captured = capsys.readouterr()
  assert code == 0, captured.err
  return captured.out


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
  return tmp_path_factory.mktemp("study") / "demo"


def test_study_writes_report(study_dir, capsys):
  _study(study_dir, capsys)
  results = json.loads((study_dir / "results.json").read_text())
  assert results["languages"] == ["en", "syn3"]
  assert results["seeds"] == [0, 1]
  per_lang = results["summary"]["per_language"]
  for lang in ("en", "syn3"):
    for key in ("baseline_mean", "intermediate_mean", "gain_mean"):
      assert 0 <= abs(per_lang[lang][key]) <= 100
  assert len(results["rows"]) == 2 * 2 * 2  # seeds x conditions x languages
  report = (study_dir / "report.md").read_text()
  assert "| syn3 |" in report and "zero-shot accuracy" in report
  assert (study_dir / "zero_shot_accuracy.png").stat().st_size > 1000
  for phase in ("pretrain", "seed0/intermediate", "seed1/target_baseline",
                "seed1/target_after_intermediate"):
    assert (study_dir / phase / "results.json").exists(), phase
    assert (study_dir / phase / "config.gin").exists(), phase


def test_rerun_skips_finished_phases(study_dir, capsys):
  metrics = {p: (study_dir / p / "metrics.jsonl").read_text()
             for p in ("pretrain", "seed0/intermediate",
                       "seed0/target_baseline")}
  out = _study(study_dir, capsys)
  assert out.count("already finished, skipped") == 7  # 1 + 2 seeds x 3
  for phase, text in metrics.items():
    assert (study_dir / phase / "metrics.jsonl").read_text() == text, phase


def test_interrupted_phase_is_redone_alone(study_dir, capsys):
  before = json.loads((study_dir / "results.json").read_text())
  (study_dir / "seed1" / "target_baseline" / "results.json").unlink()
  out = _study(study_dir, capsys)
  assert out.count("already finished, skipped") == 6
  after = json.loads((study_dir / "results.json").read_text())
  # The checkpoint at the final step is reused: same predictions, same table.
  assert after["rows"] == before["rows"]


def test_changed_settings_in_finished_dir_is_refused(study_dir, capsys):
  code = cli.main(["study", "--gin_file=demo.gin",
                   f"--gin.OUTPUT_DIR='{study_dir}'", *TINY,
                   "--gin.pretrain/TrainRun.learning_rate=0.5"])
  err = capsys.readouterr().err
  assert code == 2
  assert "different settings" in err and "learning_rate" in err
