"""Multi-task mixtures: one encoder, a head per task, one task per step."""

import csv
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import xtreme_files
from xferjax import errors
from xferjax.train import multitask
from xferjax.train.steps import TrainState


def test_a_step_leaves_the_other_heads_and_their_moments_unchanged():
  params = {"encoder": {"w": jnp.ones(3)}, "head.a": {"w": jnp.ones(2)},
            "head.b": {"w": jnp.ones(2)}}
  opt = optax.adamw(0.1, weight_decay=0.5)

  def train_step(state, batch):  # every parameter gets a gradient of 1
    grads = jax.tree.map(jnp.ones_like, state.params)
    updates, opt_state = opt.update(grads, state.opt_state, state.params)
    return TrainState(state.step + 1, optax.apply_updates(state.params,
                                                          updates),
                      opt_state), {}

  state = TrainState(jnp.array(0), params, opt.init(params))
  new, _ = multitask.freeze_other_heads(train_step, "a")(state, None)
  assert int(new.step) == 1
  assert np.all(np.asarray(new.params["head.b"]["w"]) == 1.0)
  assert np.all(np.asarray(new.params["head.a"]["w"]) < 1.0)
  assert np.all(np.asarray(new.params["encoder"]["w"]) < 1.0)
  mu = new.opt_state[0].mu
  assert np.all(np.asarray(mu["head.b"]["w"]) == 0.0)
  assert np.all(np.asarray(mu["head.a"]["w"]) != 0.0)
  assert multitask.is_head("head.a") and not multitask.is_head("encoder")


def test_mixture_of_two_heads_trains_evaluates_and_passes_on_the_encoder(
    tmp_path, tiny_xlmr):
  from xferjax.data import mixing
  from xferjax.train import checkpointing
  from xferjax.train.metrics import read_records
  from xferjax.train.trainer import (TrainRun, build_model_for_task,
                                     prepare_model, run_training,
                                     transferable_params)
  from xferjax import partitioning
  from xferjax.evaluation import scorer
  macros = xtreme_files.write(tmp_path / "data")
  xtreme_files.bind(macros)
  import xferjax_tasks  # noqa: F401
  # Classification and multiple choice: one encoder, two heads.
  mixture = mixing.add_multitask("test_pawsx_cosmosqa",
                                 {"pawsx.en": 32, "cosmosqa": 32})
  lengths = {"text_a": 12, "text_b": 12,
             **{f"choice_{i}": 4 for i in range(4)}}
  model_dir = tmp_path / "mt"
  base = dict(model_dir=str(model_dir), task="test_pawsx_cosmosqa",
              num_steps=6,
              batch_size=8, log_every=1, eval_batch_size=8,
              task_feature_lengths=lengths, learning_rate=1e-3)
  with pytest.raises(errors.ConfigError, match="multi_task"):
    run_training(TrainRun(**base), tiny_xlmr)
  results = run_training(TrainRun(**base, head="multi_task",
                                  eval_tasks=("pawsx.en", "cosmosqa")),
                         tiny_xlmr)
  # Each task is evaluated with its own head; the multiple-choice one (not
  # an XTREME task, no submission layout) as XNLI-style accuracy.
  assert set(results["eval"]["pawsx.en"]) == {"accuracy", "num_examples"}
  assert (model_dir / "predictions" / "xtreme" / "validation" / "labels" /
          "pawsx" / "test-en.tsv").exists()
  rows = xtreme_files.read_jsonl(model_dir, "cosmosqa", "validation")
  with open(os.path.join(macros["COSMOSQA_DATA_DIR"], "valid.csv")) as f:
    gold = [r["label"] for r in csv.DictReader(f)]
  assert [r["label"] for r in rows] == gold
  official = scorer.score_task("xnli", {"en": [r["prediction"] for r in rows]},
                               {"en": gold})
  xtreme_files.check_scores(str(model_dir), "cosmosqa", "validation",
                results["eval"]["cosmosqa"], official, "en")
  # Step s trains the task MultiTaskBatcher draws: its loss starts near
  # ln(4 choices) for Cosmos QA and ln(2) for PAWS-X.
  draws = mixing.MultiTaskBatcher({n: None for n in mixture.sizes},
                                  mixture.probabilities(), seed=0)
  losses = {r["step"]: r["loss"] for r in read_records(str(model_dir))
            if r["split"] == "train"}
  tasks = [draws.task_at(s - 1) for s in sorted(losses)]
  assert set(tasks) == {"pawsx.en", "cosmosqa"}
  for s, task in zip(sorted(losses), tasks):
    assert (losses[s] > 1.05) == (task == "cosmosqa"), (s, task, losses)
  # One collection per head; a next phase takes the encoder alone.
  _, model, _ = build_model_for_task("pawsx.en", "classification",
                                     tiny_xlmr)
  prepared = prepare_model(model, partitioning.create_partitioner())
  wanted = transferable_params(prepared.abstract_params)
  assert set(wanted) == {"encoder"}
  ckpt = checkpointing.Checkpointer(str(model_dir))
  try:
    restored = ckpt.restore_params(wanted)
    heads = {"head.pawsx.en": prepared.abstract_params["head"]}
    assert set(ckpt.restore_params(heads)) == set(heads)
  finally:
    ckpt.close()
  assert jax.tree.structure(restored) == jax.tree.structure(wanted)
  # `xferjax eval` of the multi-task checkpoint: by default each task with
  # its own head, the scores training reported for the last step.
  from xferjax.train.evaluate_run import EvalRun, run_eval
  for task in ("pawsx.en", "cosmosqa"):
    got = run_eval(EvalRun(
        checkpoint_dir=str(model_dir), tasks=(task,),
        task_feature_lengths=lengths, batch_size=8,
        output_dir=str(tmp_path / "eval" / task)), tiny_xlmr)
    assert got[task]["accuracy"] == results["eval"][task]["accuracy"], task
  # Zero-shot: the PAWS-X (en) head on German needs naming; a head of
  # another shape is refused before anything is restored.
  german = dict(checkpoint_dir=str(model_dir), tasks=("pawsx.de",),
                task_feature_lengths=lengths, batch_size=8,
                output_dir=str(tmp_path / "eval" / "de"))
  with pytest.raises(errors.ConfigError,
                     match=r"no head for 'pawsx.de'.*\['cosmosqa', 'pawsx.en'\]"):
    run_eval(EvalRun(**german), tiny_xlmr)
  with pytest.raises(errors.ShapeError, match="head.cosmosqa/"):
    run_eval(EvalRun(**german, head_of_task="cosmosqa"), tiny_xlmr)
  got = run_eval(EvalRun(**german, head_of_task="pawsx.en"), tiny_xlmr)
  out = tmp_path / "eval" / "de"
  official, _ = xtreme_files.official_scores(out, "validation", "pawsx", "de")
  xtreme_files.check_scores(str(out), "pawsx.de", "validation",
                            got["pawsx.de"], official, "de")
