"""A converted Hugging Face checkpoint runs through the study pipeline.

`Study.pretrained_dirs` points at the directory `convert from-hf` wrote and
`Study.model_presets` at the preset gin file it wrote there: the study
fine-tunes the intermediate and target phases from the converted encoder
(baseline and one data size, one seed), evaluates zero-shot, and collects
the results table, as a real sweep does with xlm-roberta-large.
"""

import glob
import os

import gin
import pandas as pd

import hf_models

hf_models.require_convert_extra()


def test_study_fine_tunes_a_converted_checkpoint(tmp_path, capsys):
  from xferjax import cli
  from xferjax.study.pipeline import preset_name
  converted = hf_models.converted("xlmr")
  (preset,) = glob.glob(os.path.join(converted, "*.gin"))
  name = preset_name(preset)
  out_dir = tmp_path / "study"
  try:
    code = cli.main([
        "study", "--gin_file=demo.gin", f"--gin.OUTPUT_DIR='{out_dir}'",
        f"--gin.Study.model_presets=('{preset}',)",
        "--gin.Study.pretrain=None",
        f"--gin.Study.pretrained_dirs={{'{name}': '{converted}'}}",
        "--gin.Study.data_sizes=(500,)", "--gin.Study.seeds=(0,)",
        "--gin.Study.n_boot=50",
        "--gin.nli/Target.zero_shot_tasks=('synthetic_nli.en', "
        "'synthetic_nli.syn1')",
        "--gin.entailment/Intermediate.epochs=0.5",
        "--gin.nli/Target.epochs=0.25"])
  finally:
    gin.clear_config()
  captured = capsys.readouterr()
  assert code == 0, captured.err
  results = pd.read_csv(out_dir / "results.csv")
  # (baseline + 1 data size) x 2 languages, one metric each.
  assert len(results) == 4
  assert set(results["model"]) == {name}
  assert set(results["intermediate_task"]) == {"none", "synthetic_entailment"}
  assert results["value"].between(0, 100).all()
  assert not (out_dir / name / "pretrain").exists()  # nothing pretrained
  inter = out_dir / name / "synthetic_entailment_n500" / "seed0"
  assert (inter / "intermediate" / "results.json").exists()
  assert (inter / "target_synthetic_nli" / "results.json").exists()
  assert (out_dir / "report.md").exists()
