"""A family's name map expanded for one config: every tensor, both ways.

`expand` turns the table rules into `Entry`s, one per (HF tensor, our leaf
or one layer of a scanned leaf), and checks they cover our model's
parameters exactly. `ImportPlan` checks a Hugging Face checkpoint against
them before anything is written (a missing tensor, a shape that does not
fit config.json, a tensor of another architecture: each named) and yields
our parameters as `orbax_io.LazyArray`s that read their tensors only when
written, in row blocks when large.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator

import jax
import numpy as np
from flax import linen as nn

from xferjax import errors
from xferjax.convert import hf_configs, safetensors_io
from xferjax.convert.layouts import LAYOUTS, Layout, swap_rows
from xferjax.convert.orbax_io import LazyArray
from xferjax.models import api, stacking

# Tensors larger than this are converted a row block at a time.
BLOCK_BYTES = 64 << 20
F32 = np.dtype(np.float32)
Path = tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Entry:
  """One HF tensor <-> our leaf `path` at `index` ((i,) in a scanned stack)."""

  hf: str
  path: Path
  index: tuple
  layout: Layout
  fallback: str | None = None

  @property
  def collection(self) -> str:
    return self.path[0]


def model_leaves(family: hf_configs.Family, cfg: Any) -> dict[Path, tuple]:
  """Shapes of our model's parameters (built abstractly, nothing allocated)."""
  model = api.build_model(family.head, 1, family.family, cfg)
  tree = nn.meta.unbox(api.abstract_params(model))
  return {tuple(k.key for k in path): tuple(leaf.shape)
          for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}


def expand(family: hf_configs.Family, cfg: Any) -> list[Entry]:
  """The rules of `family`'s name map for `cfg`'s layer counts and layout."""
  entries = []
  scanned = cfg.scan_layers
  for rule in family.name_map.rules:
    layout = LAYOUTS[rule.layout]
    if "{i}" not in rule.hf:
      entries.append(Entry(rule.hf, tuple(rule.ours.split("/")), (), layout,
                           rule.fallback))
      continue
    stack = rule.ours.split("/")[0]
    for i in range(getattr(cfg, family.name_map.layer_counts[stack])):
      layer = (stacking.SCANNED_NAME if scanned else
               f"{stacking.UNROLLED_PREFIX}{i}")
      entries.append(Entry(rule.hf.replace("{i}", str(i)),
                           tuple(rule.ours.replace("{layer}", layer)
                                 .split("/")),
                           (i,) if scanned else (), layout, rule.fallback))
  return entries


def check_covers(entries: list[Entry], leaves: dict[Path, tuple],
                 skipped: tuple[str, ...] = ()) -> None:
  """The name map and the model must agree leaf for leaf (else a bug)."""
  mapped = {e.path for e in entries}
  wanted = {p for p in leaves if p[0] not in skipped}
  if mapped != wanted:
    raise errors.ConfigError(
        f"the name map and the model disagree: unmapped parameters "
        f"{sorted('/'.join(p) for p in wanted - mapped)[:4]}, unknown "
        f"paths {sorted('/'.join(p) for p in mapped - wanted)[:4]}",
        "a model change needs the same change in xferjax/convert/"
        "name_maps.py (please report this)")


def layer_shape(entry: Entry, leaf_shape: tuple) -> tuple:
  return leaf_shape[len(entry.index):]


def row_blocks(entry: Entry, shape: tuple, itemsize: int, block_bytes: int
               ) -> list[slice] | None:
  """Row blocks of an HF tensor (of `shape`) too large to convert whole,
  else None (also for layouts that convert only whole tensors, and for one
  layer of a scanned stack, which is its own chunk)."""
  if (entry.index or entry.layout.block_axis is None or not shape or
      int(np.prod(shape)) * itemsize <= block_bytes):
    return None
  return list(safetensors_io.blocks_of(shape, itemsize, block_bytes))


def block_index(layout: Layout, rows: slice, ndim: int) -> tuple:
  """Our index of HF rows `rows` (along our `layout.block_axis`)."""
  return (slice(None),) * layout.block_axis + (rows,) + (slice(None),) * (
      ndim - layout.block_axis - 1)


class ImportPlan:
  """A checked mapping of one HF checkpoint onto one of our configs."""

  def __init__(self, family: hf_configs.Family, cfg: Any, ckpt,
               block_bytes: int = BLOCK_BYTES):
    self.family, self.cfg, self.ckpt = family, cfg, ckpt
    self.block_bytes = block_bytes
    self.leaves = model_leaves(family, cfg)
    entries = expand(family, cfg)
    self.skipped = tuple(c for c in family.name_map.optional
                         if not any(ckpt.has(e.hf) for e in entries
                                    if e.collection == c))
    self.entries = [e for e in entries if e.collection not in self.skipped]
    check_covers(self.entries, self.leaves, self.skipped)
    self.source: dict[Entry, str] = {}
    self.fallbacks_used: list[str] = []
    for e in self.entries:
      self.source[e] = self._source_of(e)
    self.tied_present = sorted(a for a in family.name_map.tied if ckpt.has(a))
    self.kept = sorted(n for n in ckpt.names if family.name_map.is_kept(n))
    self._check_unexpected()

  def _where(self) -> str:
    return self.ckpt.model_dir

  def _source_of(self, e: Entry) -> str:
    ckpt = self.ckpt
    name = e.hf
    if not ckpt.has(name):
      if e.fallback and ckpt.has(e.fallback):
        self.fallbacks_used.append(e.hf)
        name = e.fallback
      else:
        raise errors.DataError(
            f"tensor {e.hf} is missing from {self._where()} (config.json "
            f"implies it{self._layer_hint(e)})",
            "the weights belong to another config or architecture: use the "
            "config.json that came with them")
    want = e.layout.hf_shape(layer_shape(e, self.leaves[e.path]))
    got = ckpt.info(name).shape
    if tuple(got) != tuple(want):
      raise errors.ShapeError(
          f"tensor {name} has shape {tuple(got)} but config.json implies "
          f"{tuple(want)} ({self._fields_hint()})",
          "the weights belong to another config (a different vocab_size or "
          "width?): use the config.json that came with them")
    return name

  def _layer_hint(self, e: Entry) -> str:
    if not any(c.isdigit() for c in e.hf):
      return ""
    stack = e.path[0]
    field = self.family.name_map.layer_counts.get(stack)
    return (f": {field} = {getattr(self.cfg, field)}" if field else "")

  def _fields_hint(self) -> str:
    return ", ".join(f"{f.hf} {f.to_hf(getattr(self.cfg, f.ours))}"
                     for f in self.family.fields[:5])

  def _check_unexpected(self) -> None:
    known = set(self.source.values()) | set(self.tied_present) | set(
        self.kept)
    unknown = [n for n in self.ckpt.names if n not in known]
    if unknown:
      shown = ", ".join(unknown[:3]) + (f" and {len(unknown) - 3} more"
                                        if len(unknown) > 3 else "")
      raise errors.ConfigError(
          f"{self._where()} holds tensors that are not part of a "
          f"{self.family.model_type} checkpoint: {shown}",
          "the weights belong to another architecture (or carry a "
          "fine-tuned head, which is not imported): convert the pretrained "
          "checkpoint")

  # --- checks that read data -------------------------------------------------

  def check_tied(self) -> None:
    """Tied aliases in the checkpoint must equal what they are tied to."""
    for alias in self.tied_present:
      canonical = self.family.name_map.tied[alias]
      a, b = self.ckpt.info(alias), self.ckpt.info(canonical)
      if a.shape != b.shape:
        raise errors.ShapeError(
            f"tensor {alias} has shape {a.shape} but is tied to {canonical} "
            f"of shape {b.shape}", "re-save the checkpoint with "
            "save_pretrained (its weights are inconsistent)")
      for rows in safetensors_io.blocks_of(a.shape, a.dtype.itemsize,
                                           self.block_bytes):
        rows = rows if a.shape else None
        if not np.array_equal(self.ckpt.read(alias, rows),
                              self.ckpt.read(canonical, rows)):
          raise errors.DataError(
              f"tensor {alias} differs from {canonical}, to which our "
              f"{self.family.model_type} ties it",
              "this checkpoint unties them, which xferjax's model cannot "
              "represent; convert a released checkpoint")

  def check_vocab(self, vocab_size: int, vocab_path: str) -> None:
    """The SentencePiece model must not index past the embedding."""
    if vocab_size > self.cfg.vocab_size:
      emb = next(self.source[e] for e in self.entries if e.layout.vocab or
                 e.path[-1] == "embedding")
      raise errors.ShapeError(
          f"the SentencePiece model {vocab_path} has {vocab_size} ids but "
          f"tensor {emb} has {self.cfg.vocab_size} rows (vocab_size)",
          "pass the SentencePiece model that came with this checkpoint "
          "(--sentencepiece)")

  # --- lazy parameters -------------------------------------------------------

  def hf_dtypes(self) -> dict[str, str]:
    names = set(self.source.values()) | set(self.tied_present)
    return {n: safetensors_io.DTYPE_NAMES[self.ckpt.info(n).dtype]
            for n in sorted(names)}

  def _pieces(self, entries: list[Entry]
              ) -> Iterator[tuple[tuple, np.ndarray]]:
    swap = self.family.vocab_swap
    for e in entries:
      name = self.source[e]
      info = self.ckpt.info(name)
      shape = layer_shape(e, self.leaves[e.path])
      blocks = row_blocks(e, info.shape, info.dtype.itemsize,
                          self.block_bytes)
      for rows in blocks or [None]:
        x = self.ckpt.read(name, rows).astype(F32)
        first = 0 if rows is None else rows.start
        if e.layout.vocab:
          x = swap_rows(x, swap, first)
        y = e.layout.to_ours(x, shape)
        index = e.index if rows is None else block_index(
            e.layout, rows, len(shape))
        yield index, y

  def lazy_params(self) -> dict[str, Any]:
    """collection -> nested dict of LazyArrays (or one, for mT5's lm_head)."""
    by_path: dict[Path, list[Entry]] = {}
    for e in self.entries:
      by_path.setdefault(e.path, []).append(e)
    out: dict[str, Any] = {}
    for path, entries in by_path.items():
      shape = self.leaves[path]
      info = self.ckpt.info(self.source[entries[0]])
      chunks = shape
      if entries[0].index:
        chunks = (1,) + shape[1:]
      else:
        blocks = row_blocks(entries[0], info.shape, info.dtype.itemsize,
                            self.block_bytes)
        if blocks:
          axis = entries[0].layout.block_axis
          rows = blocks[0].stop - blocks[0].start
          chunks = shape[:axis] + (rows,) + shape[axis + 1:]
      leaf = LazyArray(shape, F32, lambda es=entries: self._pieces(es),
                       chunks)
      if len(path) == 1:
        out[path[0]] = leaf
        continue
      node = out.setdefault(path[0], {})
      for key in path[1:-1]:
        node = node.setdefault(key, {})
      node[path[-1]] = leaf
    return out
