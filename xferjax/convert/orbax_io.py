"""Orbax checkpoints written and read one block at a time.

The trainer's `Checkpointer` saves whole in-memory trees; a converted XXL
model does not fit in host memory, so conversion saves `LazyArray` leaves
instead: a shape, a dtype and a generator of `(index, block)` pieces (one
Hugging Face tensor, or a 64 MiB row block of an embedding). A numpy type
handler of our own, used only by the converter's private registry, writes
each leaf's pieces into its TensorStore array one after the other, with
chunks aligned to the pieces (one layer of a scanned stack, one row block),
so no chunk is ever rewritten and one piece is all a leaf holds in memory.

On disk the result is exactly what `Checkpointer` writes and reads: a
CheckpointManager step with one PyTree item per parameter collection
(`params.encoder`, ...), zarr arrays in OCDBT, value type `np.ndarray`, plus
`train` (step 0, no optimizer state), `run_state` and the manifest. So
`TrainRun.init_from` restores it unchanged, into any sharding.

`LeafReader` reads (slices of) saved leaves the same way, for export.
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import json
import os
import weakref
from typing import Any, Callable, Iterator

import numpy as np
import orbax.checkpoint as ocp
import tensorstore as ts
from etils import epath

from xferjax.train import checkpoint_manifest
from xferjax.train.checkpointing import ARRAY_KEY, PARAMS_PREFIX, RUN_STATE_ITEM

Pieces = Callable[[], Iterator[tuple[tuple, np.ndarray]]]
CHECKPOINTS = "checkpoints"
STEP = 0


@dataclasses.dataclass(eq=False)
class LazyArray:
  """A leaf whose data comes later, piece by piece: `pieces()` yields
  (index into the full array, block) pairs that together cover it once."""

  shape: tuple[int, ...]
  dtype: np.dtype
  pieces: Pieces
  # TensorStore chunk shape; aligned with the pieces.
  chunks: tuple[int, ...] | None = None

  @property
  def size(self) -> int:
    return int(np.prod(self.shape))

  @property
  def ndim(self) -> int:
    return len(self.shape)


class _LazyArrayHandler(ocp.type_handlers.NumpyHandler):
  """Writes LazyArrays as numpy arrays, one piece in flight per event loop."""

  def __init__(self):
    super().__init__(deepcopy_host_arrays=False)
    self._locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

  def _lock(self) -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    if loop not in self._locks:
      self._locks[loop] = asyncio.Lock()
    return self._locks[loop]

  async def _open_and_write(self, value: Any, tspec: dict[str, Any],
                            ts_context: ts.Context):
    if not isinstance(value, LazyArray):
      return await super()._open_and_write(value, tspec, ts_context)
    if value.chunks is not None:
      tspec["metadata"]["chunks"] = tuple(value.chunks)
    async with self._lock():
      t = await ts.open(ts.Spec(tspec), create=True, open=True,
                        context=ts_context)
      for index, block in value.pieces():
        await t[index].write(np.asarray(block, value.dtype))
        del block


def _registry():
  return ocp.type_handlers.create_type_handler_registry(
      (LazyArray, _LazyArrayHandler()))


def write_checkpoint(model_dir: str, params: dict[str, Any],
                     run_state: dict[str, Any]) -> str:
  """Saves `params` (collection -> tree of LazyArray, or one LazyArray) as
  step 0 of `model_dir`/checkpoints; returns the step directory."""
  registry = ocp.handlers.DefaultCheckpointHandlerRegistry()
  items = {}
  for name, tree in params.items():
    tree = tree if isinstance(tree, dict) else {ARRAY_KEY: tree}
    key = PARAMS_PREFIX + name
    registry.add(key, ocp.args.PyTreeSave,
                 ocp.PyTreeCheckpointHandler(type_handler_registry=_registry()))
    items[key] = ocp.args.PyTreeSave(tree)
  items["train"] = ocp.args.StandardSave({"step": np.zeros((), np.int32)})
  items[RUN_STATE_ITEM] = ocp.args.JsonSave(run_state)
  directory = os.path.join(os.path.abspath(model_dir), CHECKPOINTS)
  manager = ocp.CheckpointManager(
      directory, options=ocp.CheckpointManagerOptions(
          max_to_keep=None, create=True, enable_async_checkpointing=False),
      handler_registry=registry)
  try:
    manager.save(STEP, args=ocp.args.Composite(**items), force=True)
    manager.wait_until_finished()
    manager.check_for_errors()
  finally:
    manager.close()
  step_dir = os.path.join(directory, str(STEP))
  checkpoint_manifest.write(step_dir)
  return step_dir


def param_name(path: tuple[str, ...]) -> str:
  """Orbax's name of a leaf inside its item (keys joined by dots)."""
  return ".".join(path)


class LeafReader:
  """Reads leaves (or index slices of them) of one saved parameter item."""

  def __init__(self, step_dir: str, collection: str):
    self.item_dir = os.path.join(step_dir, PARAMS_PREFIX + collection)
    with open(os.path.join(self.item_dir, "_METADATA")) as f:
      meta = json.load(f)
    self._use_zarr3 = bool(meta.get("use_zarr3", False))
    self._use_ocdbt = bool(meta.get("use_ocdbt", True))
    self._context = ocp.type_handlers.get_ts_context(use_ocdbt=self._use_ocdbt)
    self._open: dict[str, Any] = {}
    self.names = {self._name_of(k) for k in meta["tree_metadata"]}

  @staticmethod
  def _name_of(key: str) -> str:
    # tree_metadata keys are str(tuple) of the path, e.g. "('layers', 'k')".
    return param_name(tuple(str(k) for k in ast.literal_eval(key)))

  def _store(self, name: str):
    if name not in self._open:
      info = ocp.type_handlers.ParamInfo(
          name=name, parent_dir=epath.Path(self.item_dir),
          is_ocdbt_checkpoint=self._use_ocdbt, use_zarr3=self._use_zarr3,
          ts_context=self._context)
      spec = ocp.type_handlers.get_json_tspec_read(info, self._use_ocdbt)
      self._open[name] = ts.open(ts.Spec(spec), open=True,
                                 context=self._context).result()
    return self._open[name]

  def shape(self, name: str) -> tuple[int, ...]:
    return tuple(self._store(name).shape)

  def read(self, name: str, index: tuple = ()) -> np.ndarray:
    return np.asarray(self._store(name)[index].read().result())
