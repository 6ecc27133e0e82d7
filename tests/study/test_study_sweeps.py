"""The shipped sweeps parse, expand into the grids they promise, carry the
X-STILTs defaults, and ask for their checkpoints by name. (Parsing a sweep
needs neither the model presets nor the registered tasks: those are read
when a cell runs.)"""

import pytest

import xferjax.planning  # noqa: F401  (gin configurables, before parsing)
import xferjax_tasks  # noqa: F401  (registered first, as the CLI does)
from xferjax import config, errors
from xferjax.data import pipeline as pipeline_data
from xferjax.study import cost, pipeline

SWEEPS = {
    # file: (models, intermediate tasks, data sizes, seeds)
    "sweeps/xstilts_xlmr_large.gin": (["xlmr_large"], 9, (None,), 3),
    "sweeps/scaling_xlmr.gin": (
        ["xlmr_base", "xlmr_large", "xlmr_xl", "xlmr_xxl"], 2,
        (1000, 4000, 16000, 64000, None), 3),
    "sweeps/scaling_mt5.gin": (
        ["mt5_small", "mt5_base", "mt5_large", "mt5_xl", "mt5_xxl"], 2,
        (1000, 4000, 16000, 64000, None), 3),
}
EPOCHS = {"xnli": 2, "pawsx": 5, "udpos": 10, "panx": 10, "xquad": 2,
          "mlqa": 2, "tydiqa": 2}
# Evaluation-only targets (no training), in every sweep.
RETRIEVAL = {"bucc2018": 4, "tatoeba": 36}


def _study(sweep, *bindings):
  config.parse([sweep], list(bindings))
  return pipeline.Study()


@pytest.mark.parametrize("sweep", sorted(SWEEPS))
def test_sweep_grid(sweep):
  models, n_tasks, sizes, n_seeds = SWEEPS[sweep]
  study = _study(sweep)
  study.validate(for_run=False)
  assert [pipeline.preset_name(p) for p in study.model_presets] == models
  assert sorted(study.pretrained_dirs) == sorted(models)
  assert study.data_sizes == sizes and len(study.seeds) == n_seeds
  cells = pipeline.expand_cells(study)
  assert len(cells) == len(models) * n_seeds * (1 + n_tasks * len(sizes))
  # The baseline is in the grid for every model and seed.
  assert {(c.model, c.seed) for c in cells if c.is_baseline} == {
      (m, s) for m in models for s in study.seeds}
  trained = [t for t in study.targets if t.train is not None]
  assert {t.name: t.epochs for t in trained} == EPOCHS
  evaluated = {t.name: len(t.zero_shot_tasks) for t in study.targets
               if t.train is None}
  assert evaluated == RETRIEVAL
  for target in study.targets:
    if target.train is None:
      assert max(target.task_feature_lengths.values()) == 510  # + specials
      for task in pipeline.zero_shot_tasks(study, target):
        assert pipeline_data.features.head_of(
            pipeline_data.get_task_or_mixture(task)) == "embedding"
  for target in trained:
    run = target.train
    qa = target.name in ("xquad", "mlqa", "tydiqa")
    assert run.batch_size == (16 if qa else 32)
    if "mt5" in sweep:
      assert run.task_feature_lengths["inputs"] == (384 if qa else 256)
    else:
      assert cost.tokens_per_example(run) == (384 if qa else 256)
    assert target.warmup_proportion == 0.1
    if "mt5" in sweep:
      assert (run.head, run.optimizer, run.learning_rate) == (
          "text_to_text", "adafactor", 1e-3)
    else:
      assert (run.optimizer, run.learning_rate) == ("adamw", 1e-5)
    assert all(t.startswith(target.name + ".")
               for t in target.zero_shot_tasks)
    # Every task a sweep names is registered (`xferjax tasks list`).
    for task in pipeline.zero_shot_tasks(study, target) + (
        study.task(run.task),):
      pipeline_data.get_task_or_mixture(task)
  for inter in study.intermediates:
    for n in sizes:
      pipeline_data.get_task_or_mixture(
          study.task(pipeline.sized_task_name(inter.name, n)))
  # Every cell's targets start from that cell's one intermediate checkpoint.
  phases = pipeline.cell_phases(study, cells[1])
  assert phases[0].name == "intermediate"
  assert {p.run.init_from if p.run else p.evaluation.checkpoint_dir
          for p in phases[1:]} == {phases[0].run.model_dir}


def test_sweep_names_its_checkpoint_macros():
  study = _study("sweeps/scaling_xlmr.gin",
                 "XLMR_BASE_CHECKPOINT='/ckpt/base'")
  with pytest.raises(errors.ConfigError) as e:
    study.validate()
  message = str(e.value)
  assert "['xlmr_large', 'xlmr_xl', 'xlmr_xxl']" in message
  assert "--gin.XLMR_XXL_CHECKPOINT=\"'/ckpt/xlmr_xxl'\"" in message


def test_sweep_listing_estimates_cost_from_published_sizes():
  study = _study("sweeps/xstilts_xlmr_large.gin")
  cells = pipeline.expand_cells(study)
  text = cost.listing(study, cells, {"xlmr_large": 560_000_000})
  assert "30 cells" in text and "6 x params x trained tokens" in text
  # With the preset's config, the planner's per-step model FLOPs are used.
  config.parse(["sweeps/xstilts_xlmr_large.gin", "models/xlmr_large.gin"],
               [])
  model = pipeline.model_config()
  planned = cost.listing(study, cells, {"xlmr_large": 560_000_000},
                         {"xlmr_large": model})
  assert "xferjax plan's model FLOPs per step x steps" in planned
  # MNLI's 392,702 examples x 2 epochs / 32: the intermediate phase alone.
  mnli = next(c for c in cells if c.intermediate_task == "mnli")
  costs = cost.phase_costs(study, mnli, 560_000_000)
  assert costs[0].steps == 24_544 and costs[0].size_source == "published size"
  # ANLI+, CCG and UDPOS have no published size in the table: said, not
  # guessed, and left out of the totals.
  assert "training-set size unknown" in text and "anli_plus" in text
  assert "+?" in text and "(phases of unknown size left out)" in text
