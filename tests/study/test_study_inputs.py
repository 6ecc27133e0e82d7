"""Bad input to the study and its analysis ends with a message that says what
is missing: an empty grid, a preset without a checkpoint path, a results
table without its baseline cells."""

import gin
import pytest

from planted_tables import planted_tables
from xferjax import cli, errors
from xferjax.study import analysis, pipeline, schedule, tables
from xferjax.train.trainer import TrainRun



@pytest.fixture(autouse=True)
def no_gin_bindings():
  """Study/TrainRun are gin-configurable: bindings another test parsed would
  fill the fields these tests leave out."""
  gin.clear_config()
  yield
  gin.clear_config()


RUN = TrainRun(task="t", task_feature_lengths={"text_a": 8}, batch_size=32)
TARGET = pipeline.Target("xnli", RUN, ("xnli.en", "xnli.de"), epochs=2)


def _study(**kwargs):
  defaults = dict(output_dir="/tmp/s", model_presets=("models/xlmr_large.gin",),
                  pretrained_dirs={"xlmr_large": "/ckpt"}, targets=(TARGET,),
                  seeds=(0,))
  return pipeline.Study(**{**defaults, **kwargs})


@pytest.mark.parametrize("kwargs,needle", [
    ({"seeds": ()}, "grid is empty: seeds has no entries"),
    ({"model_presets": (), "targets": ()},
     "grid is empty: model_presets, targets have no entries"),
    ({"intermediate_tasks": ("mnli",), "data_sizes": ()},
     "data_sizes has no entries"),
    ({"seeds": (0, 0)}, "Study.seeds lists a value twice"),
    ({"intermediate_tasks": ("mnli",)}, "intermediate task 'mnli' has no "
                                        "training template"),
    ({"pretrained_dirs": {"xlmr_base": "/ckpt"}},
     "no pretrained checkpoint directory for model preset(s) ['xlmr_large']"),
    ({"pretrained_dirs": {"xlmr_large": None}},
     "--gin.XLMR_LARGE_CHECKPOINT=\"'/ckpt/xlmr_large'\""),
    ({"pretrained_dirs": {"xlmr_large": "/no/such/ckpt"}},
     "pretrained checkpoint directories do not exist: xlmr_large: "
     "/no/such/ckpt"),
])
def test_bad_grid_messages(kwargs, needle):
  with pytest.raises(errors.ConfigError) as e:
    _study(**kwargs).validate()
  assert needle in str(e.value)


def test_listing_does_not_need_checkpoints():
  _study(pretrained_dirs={"xlmr_large": None}).validate(for_run=False)


def test_epochs_become_steps_and_warmup():
  study = _study(intermediate_tasks=(pipeline.Intermediate(
      "mnli", RUN, epochs=1.5, warmup_proportion=0.2),),
                 data_sizes=(1000, None))
  cells = pipeline.expand_cells(study)
  assert [c.condition for c in cells] == ["baseline", "mnli_n1000", "mnli"]
  phases = pipeline.cell_phases(study, cells[1])
  assert [p.name for p in phases] == ["intermediate", "target_xnli"]
  sizes = {"mnli_n1000": 1000, "t": 392_702}
  inter = phases[0].scheduled(sizes.get)
  assert (inter.task, inter.num_steps, inter.warmup_steps) == (
      "mnli_n1000", 47, 9)  # ceil(1.5 * 1000 / 32), 20%
  assert inter.init_from == "/ckpt"
  target = phases[1].scheduled(sizes.get)
  assert target.num_steps == 24_544 and target.warmup_steps == 2454
  assert target.init_from.endswith("xlmr_large/mnli_n1000/seed0/intermediate")
  with pytest.raises(errors.DataError, match="training-set size is unknown"):
    phases[0].scheduled(lambda task: None)
  assert schedule.published_train_size("mnli_n1000") == 1000
  assert schedule.published_train_size("commonsenseqa_n100000") == 9741


def _without_baseline(model, seed):
  results, examples = planted_tables("saturating", seed=0, n_seeds=3,
                                     n_eval=20)
  base = results["intermediate_task"] == "none"
  drop = base & (results["model"] == model) & (results["seed"] == seed)
  return results[~drop], examples


def test_missing_baseline_cells_are_named():
  results, _ = _without_baseline("xlmr_xl", 2)
  with pytest.raises(errors.DataError) as e:
    analysis.analyze(results)
  message = str(e.value)
  assert "missing baseline cell(s)" in message
  assert "model xlmr_xl seed 2 (needed by 3 cell(s): mnli n=1000" in message
  assert "run those baseline cells" in message


def test_report_command_explains_missing_baselines(tmp_path, capsys):
  results, _ = _without_baseline("xlmr_base", 1)
  results.to_csv(tmp_path / "results.csv", index=False)
  assert cli.main(["report", str(tmp_path)]) == 2
  err = capsys.readouterr().err
  assert "missing baseline cell(s)" in err and "model xlmr_base seed 1" in err
  assert not (tmp_path / "report.md").exists()


def test_report_command_without_a_table(tmp_path, capsys):
  assert cli.main(["report", str(tmp_path)]) == 2
  assert "no results table in" in capsys.readouterr().err


def test_only_baselines_and_empty_tables():
  results, _ = planted_tables("no_gain", seed=0, n_seeds=2, n_eval=10)
  with pytest.raises(errors.DataError, match="only baseline cells"):
    tables.check_results(results[results["intermediate_task"] == "none"])
  with pytest.raises(errors.DataError, match="results table is empty"):
    tables.check_results(results.iloc[:0])
