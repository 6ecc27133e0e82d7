"""Evaluation-only retrieval targets: no fine-tuning, the cell's encoder."""

import os

import pytest

import xtreme_files
from xferjax import errors


def test_retrieval_target_is_evaluated_collected_and_skipped_when_done(
    tmp_path, tiny_xlmr):
  from xferjax.study import cost, pipeline, results_store
  from xferjax.train.trainer import TrainRun, run_training
  xtreme_files.bind(xtreme_files.write(tmp_path / "data"))
  import xferjax_tasks  # noqa: F401
  source = tmp_path / "pretrained"  # stands in for a converted checkpoint
  run_training(TrainRun(model_dir=str(source), task="pawsx.en", num_steps=1,
                        batch_size=8, task_feature_lengths={"text_a": 12,
                                                            "text_b": 12}),
               tiny_xlmr)
  target = pipeline.Target(name="tatoeba", zero_shot_tasks=("tatoeba.de",),
                           task_feature_lengths={"text_a": 12, "text_b": 12},
                           eval_batch_size=8, retrieval_layer=1)
  study = pipeline.Study(output_dir=str(tmp_path / "study"),
                         model_presets=("models/tiny_xlmr.gin",),
                         pretrained_dirs={"tiny_xlmr": str(source)},
                         targets=(target,), seeds=(0,))
  study.validate()
  (cell,) = pipeline.expand_cells(study)
  (phase,) = pipeline.cell_phases(study, cell)
  assert phase.run is None and phase.evaluation.checkpoint_dir == str(source)
  assert cost.phase_costs(study, cell, 1) == []  # nothing to train
  results = pipeline.run_cell(study, cell, tiny_xlmr)["target_tatoeba"]
  accuracy = results["eval"]["tatoeba.de"]["accuracy"]
  out = os.path.join(cell.directory(study), "target_tatoeba")
  results_json = os.path.join(out, "results.json")
  stamp = os.stat(results_json).st_mtime_ns
  pipeline.run_cell(study, cell, tiny_xlmr)  # done: skipped
  assert os.stat(results_json).st_mtime_ns == stamp
  rows, examples, missing = results_store.collect(study, {"tiny_xlmr": 1})
  assert not missing
  (row,) = rows.to_dict("records")
  assert (row["target_task"], row["language"], row["split"], row["metric"],
          row["value"]) == ("tatoeba", "de", "test", "accuracy", accuracy)
  assert len(examples) == 12  # one score per Tatoeba pair, for the bootstrap
  assert examples["value"].mean() == pytest.approx(accuracy)
  assert os.path.isfile(os.path.join(out, "predictions", "xtreme", "test",
                                     "predictions", "tatoeba", "test-de.tsv"))


def test_target_needs_train_or_evaluation_lengths():
  from xferjax.study import pipeline
  study = pipeline.Study(output_dir="/tmp/x", model_presets=("m.gin",),
                         pretrained_dirs={"m": None}, seeds=(0,),
                         targets=(pipeline.Target(
                             name="tatoeba", zero_shot_tasks=("t.de",)),))
  with pytest.raises(errors.ConfigError, match="task_feature_lengths"):
    study.validate(for_run=False)
