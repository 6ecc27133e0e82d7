"""Bad input gets a clear error naming the tensor, and never a half-written
output: other architectures, missing shards and tensors, config/weights
shape and vocabulary mismatches, truncated files, no network, a failure in
the middle of writing."""

import json
import os
import shutil

import numpy as np
import pytest

import hf_models
from xferjax import errors
from xferjax.convert import from_hf, plan, safetensors_io, staging, to_hf

hf_models.require_convert_extra()

WORD_EMBEDDINGS = "roberta.embeddings.word_embeddings.weight"
# An injected write failure makes Orbax report from its background loop
# after closing it (an "unraisable" exception, possibly collected later).
pytestmark = pytest.mark.filterwarnings(
    "ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture
def broken(tmp_path):
  """A fresh copy of the tiny XLM-R directory, and helpers to damage it."""
  src = tmp_path / "hf"
  shutil.copytree(hf_models.hf_dir("xlmr"), src)

  class Broken:
    dir = str(src)
    out = str(tmp_path / "out")

    def config(self, **changes):
      path = src / "config.json"
      cfg = json.loads(path.read_text())
      cfg.update(changes)
      path.write_text(json.dumps(cfg))

    def tensors(self):
      from safetensors.numpy import load_file
      return load_file(str(src / "model.safetensors"))

    def save(self, tensors, fname="model.safetensors"):
      from safetensors.numpy import save_file
      save_file(tensors, str(src / fname), metadata={"format": "pt"})

  return Broken()


def _convert(b, **kw):
  return from_hf.convert(b.dir, b.out, **kw)


def _nothing_written(b):
  parent = os.path.dirname(b.out)
  assert not os.path.exists(b.out)
  assert not [f for f in os.listdir(parent) if staging.TMP_INFIX in f]


@pytest.mark.parametrize("config,words", [
    ({"model_type": "bert", "architectures": ["BertForMaskedLM"]},
     ["'bert'", "BertForMaskedLM", "xlm-roberta"]),
    ({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]},
     ["'gpt2'", "GPT2LMHeadModel"]),
    ({"architectures": ["XLMRobertaForSequenceClassification"]},
     ["XLMRobertaForSequenceClassification", "pretrained"]),
    ({"hidden_act": "relu"}, ["hidden_act", "'relu'"]),
])
def test_another_architecture_is_refused(broken, config, words):
  broken.config(**config)
  with pytest.raises(errors.ConfigError) as e:
    _convert(broken)
  for w in words:
    assert w in str(e.value)
  _nothing_written(broken)


def test_weights_of_another_architecture_name_the_tensor(broken):
  tensors = {k.replace("roberta.", "bert."): v
             for k, v in broken.tensors().items()}
  broken.save(tensors)
  with pytest.raises(errors.DataError, match=WORD_EMBEDDINGS + " is missing"):
    _convert(broken)


def test_an_unknown_tensor_is_named(broken):
  tensors = broken.tensors()
  tensors["classifier.out_proj.weight"] = np.zeros((3, 32), np.float32)
  broken.save(tensors)
  with pytest.raises(errors.ConfigError,
                     match="classifier.out_proj.weight") as e:
    _convert(broken)
  assert "not part of a xlm-roberta checkpoint" in str(e.value)


def test_a_missing_shard_is_named(broken):
  tensors = broken.tensors()
  names = sorted(tensors)
  first, second = names[:20], names[20:]
  os.remove(os.path.join(broken.dir, "model.safetensors"))
  broken.save({k: tensors[k] for k in first}, "model-00001-of-00002.safetensors")
  with open(os.path.join(broken.dir, "model.safetensors.index.json"), "w") as f:
    json.dump({"weight_map": {
        **{k: "model-00001-of-00002.safetensors" for k in first},
        **{k: "model-00002-of-00002.safetensors" for k in second}}}, f)
  with pytest.raises(errors.DataError) as e:
    _convert(broken)
  assert "shard model-00002-of-00002.safetensors is missing" in str(e.value)
  assert second[0] in str(e.value)
  _nothing_written(broken)


def test_config_weights_shape_mismatch_names_the_tensor(broken):
  broken.config(intermediate_size=128)
  with pytest.raises(errors.ShapeError) as e:
    _convert(broken)
  assert ("roberta.encoder.layer.0.intermediate.dense.weight has shape "
          "(64, 32) but config.json implies (128, 32)") in str(e.value)


def test_more_layers_in_config_than_weights(broken):
  broken.config(num_hidden_layers=3)
  with pytest.raises(errors.DataError) as e:
    _convert(broken)
  assert "roberta.encoder.layer.2." in str(e.value)
  assert "num_layers = 3" in str(e.value)


def test_vocab_size_mismatch_names_the_embedding(broken):
  broken.config(vocab_size=300)
  with pytest.raises(errors.ShapeError) as e:
    _convert(broken)
  assert f"{WORD_EMBEDDINGS} has shape (256, 32)" in str(e.value)
  assert "(300, 32)" in str(e.value)


def test_sentencepiece_larger_than_the_embedding(broken, tmp_path):
  import sentencepiece as spm
  text = [f"word{i} token{i * 7} piece{i * 13}" for i in range(400)]
  model = str(tmp_path / "big")
  spm.SentencePieceTrainer.train(
      sentence_iterator=iter(text), model_prefix=model, vocab_size=400,
      model_type="word", unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
      minloglevel=2, num_threads=1)
  with pytest.raises(errors.ShapeError) as e:
    _convert(broken, sentencepiece=model + ".model")
  assert f"but tensor {WORD_EMBEDDINGS} has 256 rows" in str(e.value)


def test_truncated_weights_file(broken):
  path = os.path.join(broken.dir, "model.safetensors")
  with open(path, "r+b") as f:
    f.truncate(os.path.getsize(path) - 100)
  with pytest.raises(errors.DataError, match="truncated"):
    _convert(broken)


def test_untied_decoder_is_refused(broken):
  tensors = broken.tensors()
  tensors["lm_head.decoder.weight"] = tensors[WORD_EMBEDDINGS] + 1
  broken.save(tensors)
  with pytest.raises(errors.DataError,
                     match=f"lm_head.decoder.weight differs from "
                     f"{WORD_EMBEDDINGS}"):
    _convert(broken)


def test_no_network_says_to_pass_a_directory(tmp_path, monkeypatch):
  monkeypatch.setenv("HF_HUB_OFFLINE", "1")
  monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
  with pytest.raises(errors.DataError) as e:
    from_hf.convert("xlm-roberta-base", str(tmp_path / "out"))
  assert "cannot download 'xlm-roberta-base'" in str(e.value)
  assert "--model DIR" in e.value.fix


def test_failure_mid_write_leaves_no_output(broken, monkeypatch):
  pieces = plan.ImportPlan._pieces
  seen = []

  def failing(self, entries):
    for piece in pieces(self, entries):
      seen.append(piece)
      if len(seen) == 15:
        raise OSError(28, "No space left on device")
      yield piece

  monkeypatch.setattr(plan.ImportPlan, "_pieces", failing)
  with pytest.raises(errors.CheckpointError, match="disk is full") as e:
    _convert(broken)
  assert "nothing was written" in e.value.fix
  _nothing_written(broken)


def test_existing_output_is_kept_unless_overwrite(broken):
  os.makedirs(broken.out)
  marker = os.path.join(broken.out, "mine.txt")
  open(marker, "w").close()
  with pytest.raises(errors.ConfigError, match="already exists"):
    _convert(broken)
  assert os.path.exists(marker)
  _convert(broken, overwrite=True)
  assert not os.path.exists(marker)
  assert os.path.isdir(os.path.join(broken.out, "checkpoints", "0"))


def test_export_failure_mid_write_leaves_no_output(tmp_path, monkeypatch):
  write_file = safetensors_io.write_file
  calls = []

  def failing(path, tensors, blocks, metadata=None):
    calls.append(path)
    if len(calls) == 2:
      raise OSError(5, "Input/output error")
    return write_file(path, tensors, blocks, metadata)

  monkeypatch.setattr(safetensors_io, "write_file", failing)
  out = tmp_path / "export"
  with pytest.raises(errors.CheckpointError, match="Input/output error"):
    to_hf.export(hf_models.converted("xlmr"), str(out),
                 max_shard_bytes=40_000)
  assert not out.exists() and os.listdir(tmp_path) == []


def test_cli_reports_errors_in_two_lines(broken, capsys):
  from xferjax import cli
  broken.config(model_type="bert")
  code = cli.main(["convert", "from-hf", "--model", broken.dir, "--out",
                   broken.out])
  err = capsys.readouterr().err.strip().splitlines()
  assert code == 2
  assert err[0].startswith("xferjax: error: ") and "'bert'" in err[0]
  assert err[1].startswith("  fix: ")
