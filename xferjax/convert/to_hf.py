"""`xferjax convert to-hf`: a converted or trained run directory -> Hugging
Face (`config.json`, safetensors shards, SentencePiece model, tokenizer
config), loadable with `from_pretrained`.

The same name map runs backwards: each HF tensor is read from the latest
checkpoint (one layer of a scanned stack, or one row block of an
embedding, at a time), laid out for PyTorch and streamed into its shard.
A directory made by `from-hf` gives back the very tensors it was made from
(names, dtypes, values, tied copies and kept extras: `record`); a run
directory trained by xferjax exports its encoder (and MLM head, if it has
one; other task heads have no pretrained-checkpoint counterpart).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from typing import Any, Iterator

import numpy as np

from xferjax import errors
from xferjax.convert import (hf_configs, orbax_io, plan as plan_lib,
                             record as record_lib, safetensors_io, staging)
from xferjax.convert.layouts import swap_rows
from xferjax.models.encoder import EncoderConfig
from xferjax.models.t5 import T5Config
from xferjax.train import checkpointing
from xferjax.train.checkpointing import ARRAY_KEY, PARAMS_PREFIX

MAX_SHARD_BYTES = 2 << 30


@dataclasses.dataclass(frozen=True)
class Exported:
  out: str
  architecture: str
  files: tuple[str, ...]
  num_tensors: int


def _latest_step(src: str) -> tuple[int, checkpointing.Checkpointer]:
  ckpt = checkpointing.Checkpointer(src, read_only=True)
  step = ckpt.latest_step()
  if step is None:
    ckpt.close()
    raise errors.CheckpointError(f"no checkpoint found in {src}/checkpoints",
                                 "pass a directory written by `xferjax "
                                 "convert from-hf` or by a training run")
  return step, ckpt


def _model_of(src: str, rec, ckpt, step) -> tuple[hf_configs.Family, Any]:
  if rec is not None:
    family = hf_configs.by_model_type(rec.model_type)
    return family, family.config_cls(**rec.config)
  saved = ckpt.restore_run_state(step) or {}
  model = saved.get("model")
  if not model:
    raise errors.CheckpointError(
        f"{src} has neither {record_lib.RECORD_FILE} nor a run state with "
        "the model config", "pass a directory written by `xferjax convert "
        "from-hf` or by `xferjax train`")
  cls = T5Config if "num_encoder_layers" in model else EncoderConfig
  fields = {f.name for f in dataclasses.fields(cls)}
  cfg = cls(**{k: v for k, v in model.items() if k in fields})
  return hf_configs.of_config(cfg), cfg


class _Source:
  """Our side: HF-layout blocks of the saved parameters."""

  def __init__(self, step_dir: str, family: hf_configs.Family, cfg: Any,
               block_bytes: int):
    self.step_dir, self.family, self.block_bytes = step_dir, family, block_bytes
    self.leaves = plan_lib.model_leaves(family, cfg)
    self._readers: dict[str, orbax_io.LeafReader] = {}
    present = {n[len(PARAMS_PREFIX):] for n in os.listdir(step_dir)
               if n.startswith(PARAMS_PREFIX)}
    entries = plan_lib.expand(family, cfg)
    # A collection is exported if it is saved with exactly our leaves (a
    # classification head is saved but is not the MLM head we export).
    self.skipped = tuple(sorted(
        c for c in {e.collection for e in entries}
        if c not in present or not self._complete(c, entries)))
    required = [c for c in self.skipped
                if c not in family.name_map.optional]
    if required:
      raise errors.CheckpointError(
          f"{step_dir} lacks the parameter collection(s) {required} of a "
          f"{family.model_type} model (or their shapes differ)",
          "export a checkpoint of the model its config describes")
    self.entries = [e for e in entries if e.collection not in self.skipped]
    plan_lib.check_covers(self.entries, self.leaves, self.skipped)
    self.by_hf = {e.hf: e for e in self.entries}

  def _reader(self, collection: str) -> orbax_io.LeafReader:
    if collection not in self._readers:
      self._readers[collection] = orbax_io.LeafReader(self.step_dir,
                                                      collection)
    return self._readers[collection]

  @staticmethod
  def _name(e: plan_lib.Entry) -> str:
    return orbax_io.param_name(e.path[1:]) if len(e.path) > 1 else ARRAY_KEY

  def _complete(self, collection: str, entries) -> bool:
    reader = self._reader(collection)
    want = {self._name(e): self.leaves[e.path] for e in entries
            if e.collection == collection}
    return reader.names == set(want) and all(
        reader.shape(n) == s for n, s in want.items())

  def hf_shape(self, e: plan_lib.Entry) -> tuple:
    return tuple(e.layout.hf_shape(plan_lib.layer_shape(
        e, self.leaves[e.path])))

  def blocks(self, e: plan_lib.Entry) -> Iterator[np.ndarray]:
    """The HF tensor of `e`, float32, in row blocks (C order)."""
    reader, name = self._reader(e.collection), self._name(e)
    shape = self.hf_shape(e)
    rows_list = plan_lib.row_blocks(e, shape, 4, self.block_bytes)
    for rows in rows_list or [None]:
      ndim = len(self.leaves[e.path]) - len(e.index)
      index = e.index if rows is None else plan_lib.block_index(
          e.layout, rows, ndim)
      x = e.layout.to_hf(reader.read(name, index))
      if e.layout.vocab:
        x = swap_rows(x, self.family.vocab_swap,
                      0 if rows is None else rows.start)
      yield x


def _same(a: Iterator[np.ndarray], b: Iterator[np.ndarray]) -> bool:
  return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def export(checkpoint: str, out: str, *, dtype: str | None = None,
           sentencepiece: str | None = None, overwrite: bool = False,
           max_shard_bytes: int = MAX_SHARD_BYTES,
           block_bytes: int = plan_lib.BLOCK_BYTES) -> Exported:
  src = os.path.abspath(checkpoint)
  if dtype is not None and dtype not in safetensors_io.DTYPES:
    raise errors.ConfigError(f"unknown dtype {dtype!r}",
                             "use F32, BF16 or F16")
  rec = record_lib.read(src)
  step, ckpt = _latest_step(src)
  try:
    family, cfg = _model_of(src, rec, ckpt, step)
  finally:
    ckpt.close()
  source = _Source(ckpt.step_dir(step), family, cfg, block_bytes)
  fallbacks = set(rec.fallbacks_used) if rec else set()
  hf_dtypes = rec.hf_dtypes if rec else {}

  prefix = rec.prefix_added if rec else None

  def planned(name: str, dtype_: np.dtype, shape: tuple
              ) -> safetensors_io.PlannedTensor:
    """`name` as the source stored it (a bare base model: no prefix)."""
    if prefix and name.startswith(prefix):
      name = name[len(prefix):]
    return safetensors_io.PlannedTensor(name, dtype_, shape)

  def dtype_of(name: str) -> np.dtype:
    return safetensors_io.DTYPES[dtype or hf_dtypes.get(name, "F32")]

  # (HF name, its blocks) in the order the files will hold them.
  plan: list[tuple[safetensors_io.PlannedTensor, Any]] = []
  for e in source.entries:
    fallback = e.fallback and source.by_hf.get(e.fallback)
    if e.hf in fallbacks and fallback and _same(source.blocks(e),
                                                source.blocks(fallback)):
      continue  # the source stored it once, as its fallback
    plan.append((planned(e.hf, dtype_of(e.hf), source.hf_shape(e)),
                 lambda e=e: source.blocks(e)))
  for alias in (rec.tied_present if rec else ()):
    e = source.by_hf[family.name_map.tied[alias]]
    plan.append((planned(alias, dtype_of(alias), source.hf_shape(e)),
                 lambda e=e: source.blocks(e)))
  extra_path = os.path.join(src, record_lib.EXTRA_FILE)
  if rec and rec.kept:
    extra = safetensors_io.SafetensorsFile(extra_path)
    for name in rec.kept:
      info = extra.tensors[name]
      plan.append((planned(name, info.dtype, info.shape),
                   lambda n=name: iter([extra.read(n)])))

  with_head = "head" not in source.skipped
  architecture = (family.architectures[0] if with_head or
                  family.family != "encoder" else family.architectures[1])
  if rec and not source.skipped:
    architecture = (rec.hf_config.get("architectures") or [architecture])[0]
  hf_config = hf_configs.hf_config_of(family, cfg,
                                      rec.hf_config if rec else None,
                                      architecture)
  vocab = sentencepiece or os.path.join(src, family.vocab_file)
  shards = safetensors_io.plan_shards([t for t, _ in plan], max_shard_bytes)
  blocks_of = {t.name: fn for t, fn in plan}
  with staging.staged_dir(out, overwrite) as tmp:
    for fname, tensors in shards:
      safetensors_io.write_file(
          os.path.join(tmp, fname), tensors,
          ((t.name, b) for t in tensors for b in blocks_of[t.name]()),
          {"format": "pt"})
    if len(shards) > 1:
      safetensors_io.write_index(
          os.path.join(tmp, "model.safetensors" + safetensors_io.INDEX_SUFFIX),
          shards)
    with open(os.path.join(tmp, "config.json"), "w") as f:
      json.dump(hf_config, f, indent=2, sort_keys=True)
      f.write("\n")
    if os.path.isfile(vocab):
      shutil.copyfile(vocab, os.path.join(tmp, family.vocab_file))
      kept_tok = os.path.join(src, record_lib.TOKENIZER_DIR)
      if os.path.isdir(kept_tok):
        for fname in os.listdir(kept_tok):
          shutil.copyfile(os.path.join(kept_tok, fname),
                          os.path.join(tmp, fname))
      else:
        with open(os.path.join(tmp, "tokenizer_config.json"), "w") as f:
          json.dump(family.tokenizer_config, f, indent=2)
    elif sentencepiece:
      raise errors.DataError(f"no SentencePiece model at {sentencepiece}",
                             "pass the model file with --sentencepiece")
  return Exported(os.path.abspath(out), architecture,
                  tuple(f for f, _ in shards), len(plan))
