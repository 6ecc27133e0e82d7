"""from-hf -> to-hf gives back the same tensors, and `from_pretrained` loads
the export: every family, a bare base model with a pooler, bf16 and
PyTorch .bin sources."""

import json
import os
import shutil

import numpy as np
import pytest

import hf_models

hf_models.require_convert_extra()

KINDS = ["xlmr", "xlmr_xl", "mt5"]


def _assert_same_tensors(a: dict, b: dict):
  assert sorted(a) == sorted(b)
  for name in a:
    assert a[name].dtype == b[name].dtype, name
    assert a[name].shape == b[name].shape, name
    assert np.array_equal(a[name], b[name]), name


@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_gives_identical_tensors(kind):
  exported = hf_models.exported(kind)
  _assert_same_tensors(hf_models.hf_tensors(exported),
                       hf_models.hf_tensors(hf_models.hf_dir(kind)))
  # Sharded like save_pretrained: an index naming every tensor's shard.
  with open(os.path.join(exported, "model.safetensors.index.json")) as f:
    index = json.load(f)
  shards = {f for f in os.listdir(exported) if f.endswith(".safetensors")}
  assert set(index["weight_map"].values()) == shards and len(shards) > 1
  assert sorted(index["weight_map"]) == sorted(
      hf_models.hf_tensors(exported))


def _logits(model, kind):
  import torch
  ids = torch.tensor([[0, 5, 17, 40, 9, 2, 1, 1], [0, 33, 2, 1, 1, 1, 1, 1]])
  mask = (ids != 1).long()
  with torch.no_grad():
    if kind == "mt5":
      return model(input_ids=ids, attention_mask=mask,
                   decoder_input_ids=ids[:, :5]).logits.numpy()
    return model(input_ids=ids, attention_mask=mask).logits.numpy()


@pytest.mark.parametrize("kind", KINDS)
def test_export_loads_with_from_pretrained(kind):
  import transformers
  cls = (transformers.MT5ForConditionalGeneration if kind == "mt5" else
         transformers.AutoModelForMaskedLM)
  original = cls.from_pretrained(hf_models.hf_dir(kind)).eval()
  exported = cls.from_pretrained(hf_models.exported(kind)).eval()
  assert type(exported) is type(original)
  assert exported.config.to_dict() == original.config.to_dict() | {
      "_name_or_path": exported.config._name_or_path}
  assert np.array_equal(_logits(exported, kind), _logits(original, kind))
  # The tokenizer comes along (AutoTokenizer maps xlm-roberta-xl to a
  # tokenizer.json, which the hub repo has and this tiny model lacks).
  cls = (transformers.XLMRobertaTokenizer if kind == "xlmr_xl" else
         transformers.AutoTokenizer)
  tokenizer = cls.from_pretrained(hf_models.exported(kind))
  assert len(tokenizer(hf_models.MIXED_TEXT[1])["input_ids"]) > 3


def test_base_model_keeps_its_pooler_and_bare_names(tmp_path):
  """XLMRobertaModel: names without `roberta.`, a pooler we keep aside,
  no MLM head; the encoder alone initialises training."""
  import torch
  import transformers
  from xferjax.convert import record, to_hf
  kind = "xlmr_base_model"
  converted = hf_models.converted(kind)
  rec = record.read(converted)
  assert rec.skipped_collections == ["head"] and rec.prefix_added
  assert rec.kept == ["roberta.pooler.dense.bias",
                      "roberta.pooler.dense.weight"]
  _, params = hf_models.restore_converted(converted, "classification",
                                         transferable=True)
  assert set(params) == {"encoder"}
  out = tmp_path / "exported"
  done = to_hf.export(converted, str(out))
  assert done.architecture == "XLMRobertaModel"
  _assert_same_tensors(hf_models.hf_tensors(str(out)),
                       hf_models.hf_tensors(hf_models.hf_dir(kind)))
  model = transformers.XLMRobertaModel.from_pretrained(str(out)).eval()
  original = transformers.XLMRobertaModel.from_pretrained(
      hf_models.hf_dir(kind)).eval()
  ids = torch.tensor([[0, 7, 8, 2]])
  with torch.no_grad():
    assert torch.allclose(model(ids).pooler_output,
                          original(ids).pooler_output, atol=1e-6)


def test_bf16_source_round_trips_bit_for_bit(tmp_path):
  import torch
  import transformers
  from xferjax.convert import from_hf, to_hf
  src = tmp_path / "bf16"
  model = transformers.AutoModelForMaskedLM.from_pretrained(
      hf_models.hf_dir("xlmr"))
  model.to(torch.bfloat16).save_pretrained(str(src))
  shutil.copy(hf_models.xlmr_sentencepiece(),
              src / "sentencepiece.bpe.model")
  from_hf.convert(str(src), str(tmp_path / "ours"))
  _, params = hf_models.restore_converted(str(tmp_path / "ours"), "mlm")
  emb = np.asarray(params["encoder"]["token_embed"]["embedding"])
  source = hf_models.hf_tensors(str(src))
  want = source["roberta.embeddings.word_embeddings.weight"].astype(
      np.float32)
  assert np.array_equal(emb[2:], want[2:]) and np.array_equal(
      emb[[0, 1]], want[[1, 0]])  # <s>/<pad> rows swapped
  to_hf.export(str(tmp_path / "ours"), str(tmp_path / "back"))
  _assert_same_tensors(hf_models.hf_tensors(str(tmp_path / "back")), source)


def test_pytorch_bin_source_converts_like_safetensors(tmp_path):
  import torch
  from xferjax.convert import from_hf
  src = tmp_path / "bin"
  src.mkdir()
  tensors = hf_models.hf_tensors(hf_models.hf_dir("xlmr"))
  torch.save({k: torch.from_numpy(v) for k, v in tensors.items()},
             src / "pytorch_model.bin")
  for name in ("config.json", "sentencepiece.bpe.model"):
    shutil.copy(os.path.join(hf_models.hf_dir("xlmr"), name), src / name)
  from_hf.convert(str(src), str(tmp_path / "ours"))
  _, a = hf_models.restore_converted(str(tmp_path / "ours"), "mlm")
  _, b = hf_models.restore_converted(hf_models.converted("xlmr"), "mlm")
  import jax
  assert all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a),
                                                   jax.tree.leaves(b)))


def test_core_converts_without_torch_or_transformers(tmp_path):
  """from-hf and to-hf through the CLI in a process where importing torch
  or transformers fails: safetensors are read and written without them."""
  import subprocess
  import sys
  out, back = tmp_path / "ours", tmp_path / "back"
  code = (
      "import sys\n"
      "sys.modules['torch'] = sys.modules['transformers'] = None\n"
      "from xferjax import cli\n"
      f"assert cli.main(['convert', 'from-hf', '--model', "
      f"{hf_models.hf_dir('xlmr')!r}, '--out', {str(out)!r}]) == 0\n"
      f"assert cli.main(['convert', 'to-hf', '--checkpoint', {str(out)!r}, "
      f"'--out', {str(back)!r}]) == 0\n")
  done = subprocess.run([sys.executable, "-c", code], capture_output=True,
                        text=True, timeout=300)
  assert done.returncode == 0, done.stderr[-2000:]
  assert "train from it: --gin_file=" in done.stdout
  _assert_same_tensors(hf_models.hf_tensors(str(back)),
                       hf_models.hf_tensors(hf_models.hf_dir("xlmr")))
