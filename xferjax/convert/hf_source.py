"""A Hugging Face checkpoint on disk (or fetched from the Hub): its tensors.

Accepts a model directory as `save_pretrained` / `huggingface-cli download`
leave it: `config.json` and the weights as `model.safetensors`, sharded
`model-0000k-of-0000n.safetensors` with `model.safetensors.index.json`, or
PyTorch's `pytorch_model.bin` (sharded likewise). safetensors are read
with plain file I/O (`safetensors_io`), so the core package needs no torch;
`.bin` files are pickles and need the `convert` extra's torch.

A name that is not a directory is a Hub model id, downloaded with
`huggingface_hub` (the `convert` extra) into its cache. Without a network
that fails, and the message says to download elsewhere and pass the
directory.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from xferjax import errors
from xferjax.convert import safetensors_io

SAFETENSORS = "model.safetensors"
PYTORCH = "pytorch_model.bin"
DOWNLOAD_PATTERNS = ("config.json", "*.safetensors", "*.safetensors.index.json",
                     "sentencepiece.bpe.model", "spiece.model",
                     "tokenizer_config.json")


def _looks_like_path(name: str) -> bool:
  """Hub ids are `name` or `org/name`; anything else is a path."""
  return name.startswith((".", "/", "~")) or name.count("/") > 1


def resolve(name_or_dir: str) -> str:
  """A local directory for a directory path or a Hub model id."""
  path = os.path.expanduser(name_or_dir)
  if os.path.isdir(path):
    return os.path.abspath(path)
  if _looks_like_path(name_or_dir) or os.path.exists(path):
    raise errors.DataError(
        f"{name_or_dir} is not a model directory",
        "pass a directory holding config.json and the weights, or a Hugging "
        "Face model id such as xlm-roberta-base")
  return download(name_or_dir)


def download(model_id: str) -> str:
  """Fetches config, weights and SentencePiece model of `model_id`."""
  try:
    import huggingface_hub
  except ImportError:
    raise errors.ConfigError(
        f"downloading {model_id!r} needs huggingface_hub",
        "pip install 'xferjax[convert]', or download the model elsewhere "
        "and pass its directory to --model") from None
  fix = (f"download it where there is a network (`huggingface-cli download "
         f"{model_id} --local-dir DIR`) and pass that directory: "
         f"--model DIR")
  try:
    path = huggingface_hub.snapshot_download(
        model_id, allow_patterns=list(DOWNLOAD_PATTERNS))
    if not _weight_files_present(path):
      path = huggingface_hub.snapshot_download(
          model_id, allow_patterns=["*.bin", "*.bin.index.json"])
  except Exception as e:  # pylint: disable=broad-except
    kind = type(e).__name__
    text = str(e).strip().splitlines()[0][:300] if str(e).strip() else kind
    if "RepositoryNotFound" in kind:
      raise errors.DataError(f"no model {model_id!r} on the Hugging Face Hub "
                             f"({text})", "check the model id") from None
    raise errors.DataError(
        f"cannot download {model_id!r} from the Hugging Face Hub "
        f"({kind}: {text}); there is probably no network here", fix) from None
  return path


def _weight_files_present(path: str) -> bool:
  return any(os.path.exists(os.path.join(path, f + s))
             for f in (SAFETENSORS, PYTORCH) for s in ("", ".index.json"))


class _TorchFile:
  """A PyTorch .bin shard, memory-mapped by torch; same interface as
  `safetensors_io.SafetensorsFile`."""

  def __init__(self, path: str):
    try:
      import torch
    except ImportError:
      raise errors.ConfigError(
          f"{path} is a PyTorch pickle, which needs torch to read",
          "pip install 'xferjax[convert]' (torch==2.13.0), or convert the "
          "checkpoint to safetensors first") from None
    self._torch = torch
    self.path = path
    try:
      self._state = torch.load(path, map_location="cpu", mmap=True,
                               weights_only=True)
    except Exception as e:  # pylint: disable=broad-except
      raise errors.DataError(f"cannot read {path}: {e}",
                             "re-download the file") from None
    self.tensors = {k: safetensors_io.TensorInfo(
        k, self._np_dtype(v.dtype), tuple(v.shape), 0, 0)
                    for k, v in self._state.items()}

  def _np_dtype(self, dtype) -> np.dtype:
    torch = self._torch
    names = {torch.float32: "F32", torch.float16: "F16",
             torch.bfloat16: "BF16", torch.float64: "F64",
             torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8",
             torch.int8: "I8", torch.bool: "BOOL"}
    return safetensors_io.DTYPES[names[dtype]]

  def read(self, name: str, rows: slice | None = None) -> np.ndarray:
    t = self._state[name]
    if rows is not None:
      t = t[rows]
    if t.dtype == self._torch.bfloat16:
      return t.contiguous().view(self._torch.int16).numpy().view(
          safetensors_io.DTYPES["BF16"]).copy()
    return t.contiguous().numpy().copy()


class HfCheckpoint:
  """The tensors of a Hugging Face model directory, by name."""

  def __init__(self, model_dir: str):
    self.model_dir = model_dir
    self._files: dict[str, Any] = {}
    self._stored: dict[str, str] = {}  # our name -> name in the file
    self._where: dict[str, str] = {}  # tensor -> file name
    for stem, opener in ((SAFETENSORS, safetensors_io.SafetensorsFile),
                         (PYTORCH, _TorchFile)):
      index = os.path.join(model_dir, stem + ".index.json")
      single = os.path.join(model_dir, stem)
      if os.path.exists(index):
        self._load_index(index, opener)
        break
      if os.path.exists(single):
        self._add_file(os.path.basename(single), opener)
        break
    else:
      raise errors.DataError(
          f"{model_dir} has no weights ({SAFETENSORS}, {PYTORCH} or their "
          "sharded .index.json)", "pass the directory save_pretrained wrote, "
          "with its weight files")
    self.format = "safetensors" if any(
        isinstance(f, safetensors_io.SafetensorsFile)
        for f in self._files.values()) else "pytorch"

  def _add_file(self, fname: str, opener) -> None:
    reader = opener(os.path.join(self.model_dir, fname))
    self._files[fname] = reader
    for name in reader.tensors:
      if name in self._where:
        raise errors.DataError(
            f"tensor {name} is in both {self._where[name]} and {fname}",
            "the shards belong to different checkpoints: re-download")
      self._where[name] = fname

  def _load_index(self, index: str, opener) -> None:
    try:
      with open(index) as f:
        weight_map = json.load(f)["weight_map"]
    except (OSError, ValueError, KeyError) as e:
      raise errors.DataError(f"cannot read the shard index {index}: {e}",
                             "re-download the model") from None
    by_file: dict[str, list[str]] = {}
    for name, fname in weight_map.items():
      by_file.setdefault(fname, []).append(name)
    for fname, names in sorted(by_file.items()):
      if not os.path.exists(os.path.join(self.model_dir, fname)):
        raise errors.DataError(
            f"shard {fname} is missing from {self.model_dir}: "
            f"{os.path.basename(index)} puts {len(names)} tensors in it, "
            f"e.g. {sorted(names)[0]}",
            "download every shard the index names (an interrupted "
            "download?)")
      self._add_file(fname, opener)
      missing = sorted(set(names) - set(self._files[fname].tensors))
      if missing:
        raise errors.DataError(
            f"tensor {missing[0]} is missing from shard {fname} (the index "
            f"{os.path.basename(index)} says it is there)",
            "the shard and its index differ: re-download the model")

  def add_prefix(self, prefix: str) -> bool:
    """Names tensors as the task models do when the checkpoint is a bare
    base model (`XLMRobertaModel.save_pretrained` drops `roberta.`); True
    if it did."""
    if not prefix or any(n.startswith(prefix) for n in self._where):
      return False
    self._stored = {prefix + n: self._stored.get(n, n) for n in self._where}
    self._where = {prefix + n: f for n, f in self._where.items()}
    return True

  def stored_name(self, name: str) -> str:
    return self._stored.get(name, name)

  @property
  def names(self) -> list[str]:
    return sorted(self._where)

  def info(self, name: str) -> safetensors_io.TensorInfo:
    return self._files[self._where[name]].tensors[self.stored_name(name)]

  def has(self, name: str) -> bool:
    return name in self._where

  def read(self, name: str, rows: slice | None = None) -> np.ndarray:
    """The tensor (or rows of it) in its stored dtype."""
    return self._files[self._where[name]].read(self.stored_name(name), rows)
