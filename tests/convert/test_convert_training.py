"""A converted checkpoint fine-tunes through the real entry points.

`xferjax train` with the preset gin file the conversion wrote and
`INIT_FROM` pointing at the converted directory fine-tunes a classifier on
the synthetic NLI task (vocabulary within the tiny model's 256 ids); the
trained encoder starts from the converted weights (it moves by at most
the optimizer's step sizes), and the trained run exports back to
Hugging Face, where `XLMRobertaModel` reproduces our hidden states.
"""

import glob
import os

import gin
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hf_models

hf_models.require_convert_extra()

STEPS, LR = 4, 1e-3


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory):
  import xferjax_tasks  # noqa: F401  (registers synthetic_nli.*)
  from xferjax import cli
  converted = hf_models.converted("xlmr")
  (preset,) = glob.glob(os.path.join(converted, "*.gin"))
  run_dir = str(tmp_path_factory.mktemp("finetune") / "run")
  try:
    code = cli.main([
        "train", f"--gin_file={preset}", "--gin_file=runs/finetune.gin",
        f"--gin.MODEL_DIR='{run_dir}'", "--gin.TASK='synthetic_nli.en'",
        "--gin.TASK_FEATURE_LENGTHS={'text_a': 14, 'text_b': 7}",
        f"--gin.INIT_FROM='{converted}'", f"--gin.TrainRun.num_steps={STEPS}",
        "--gin.TrainRun.batch_size=8", f"--gin.TrainRun.learning_rate={LR}",
        "--gin.TrainRun.warmup_steps=0", "--gin.TrainRun.log_every=1",
        "--gin.TrainRun.weight_decay=0.0"])
  finally:
    gin.clear_config()
  assert code == 0
  return converted, run_dir


def _trained_params(run_dir, cfg):
  from xferjax import partitioning
  from xferjax.models import api
  from xferjax.train import checkpointing, trainer
  model = api.build_model("classification", 3, "encoder", cfg)
  prepared = trainer.prepare_model(model, partitioning.create_partitioner())
  ckpt = checkpointing.Checkpointer(run_dir, read_only=True)
  try:
    return ckpt.restore_params(
        trainer.transferable_params(prepared.abstract_params))
  finally:
    ckpt.close()


def test_finetunes_from_the_converted_encoder(finetuned):
  from xferjax.train.metrics import read_records
  converted, run_dir = finetuned
  losses = [r["loss"] for r in read_records(run_dir) if r["split"] == "train"]
  assert len(losses) == STEPS and np.isfinite(losses).all()
  model, start = hf_models.restore_converted(converted, "classification",
                                             transferable=True)
  trained = _trained_params(run_dir, model.cfg)
  moved = [float(jnp.abs(a - b).max()) for a, b in zip(
      jax.tree.leaves(trained["encoder"]), jax.tree.leaves(start["encoder"]))]
  # Adam moves a weight by at most ~lr per step; a fresh initialisation
  # would differ by ~0.1 (the converted weights are randomised).
  assert max(moved) <= STEPS * LR * 1.05
  assert max(moved) > LR / 2  # and it did train


def test_a_trained_run_exports_to_hugging_face(finetuned, tmp_path):
  import torch
  import transformers
  from xferjax.convert import to_hf
  from xferjax.data.vocab import XlmrVocabulary
  from xferjax.models import api
  _, run_dir = finetuned
  done = to_hf.export(run_dir, str(tmp_path / "hf"),
                      sentencepiece=hf_models.xlmr_sentencepiece())
  assert done.architecture == "XLMRobertaModel"  # no MLM head was trained
  hf = transformers.XLMRobertaModel.from_pretrained(str(tmp_path / "hf"),
                                                    add_pooling_layer=False)
  hf.eval()
  model, _ = hf_models.restore_converted(hf_models.converted("xlmr"), "mlm")
  params = _trained_params(run_dir, model.cfg)
  embedding = api.build_model("embedding", 1, "encoder", model.cfg)
  ids = np.array([[1, 7, 30, 9, 2, 0, 0], [1, 44, 2, 0, 0, 0, 0]])
  mask = (ids > 0).astype(np.int32)
  ours = np.asarray(api.forward(embedding, params, {
      "input_ids": jnp.asarray(ids), "attention_mask": jnp.asarray(mask)}))
  vocab = XlmrVocabulary(default=hf_models.xlmr_sentencepiece())
  with torch.no_grad():
    ref = hf(input_ids=torch.tensor(vocab.hf_ids(ids)),
             attention_mask=torch.tensor(mask), output_hidden_states=True)
  for a, b in zip(ours, ref.hidden_states):
    assert np.abs(a - b.numpy()).max() < 1e-4
