"""safetensors files read and written a block at a time, with plain file I/O.

The format (https://github.com/huggingface/safetensors) is an 8-byte
little-endian header length, a JSON header `{name: {dtype, shape,
data_offsets}}` (offsets relative to the end of the header) and the raw
little-endian tensor bytes. Reading rows `[a, b)` of a tensor is one
`readinto` of a contiguous byte range, so a 4 GiB embedding is converted in
64 MiB blocks and the process never holds more than a block of it. This is
why the converter reads the files itself rather than through the
`safetensors` package: that one memory-maps whole files (resident pages
count against the host's memory) and has no numpy bfloat16.

The writer takes the whole shard's plan (names, dtypes, shapes) first, so
the header is written before any data, then each tensor's bytes as its
blocks come; shards are planned to stay under a size limit, as
`save_pretrained` does, with HF's `model.safetensors.index.json` naming
which shard holds which tensor.
"""

from __future__ import annotations

import dataclasses
import json
import os
import struct
from typing import Iterable, Iterator

import ml_dtypes
import numpy as np

from xferjax import errors

DTYPES = {
    "F64": np.dtype(np.float64), "F32": np.dtype(np.float32),
    "F16": np.dtype(np.float16), "BF16": np.dtype(ml_dtypes.bfloat16),
    "I64": np.dtype(np.int64), "I32": np.dtype(np.int32),
    "I16": np.dtype(np.int16), "I8": np.dtype(np.int8),
    "U8": np.dtype(np.uint8), "BOOL": np.dtype(np.bool_),
}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
INDEX_SUFFIX = ".index.json"
# Header JSON larger than this is not a safetensors file (the library's limit).
_MAX_HEADER = 100 << 20


@dataclasses.dataclass(frozen=True)
class TensorInfo:
  name: str
  dtype: np.dtype
  shape: tuple[int, ...]
  start: int  # absolute byte offset in the file
  end: int

  @property
  def nbytes(self) -> int:
    return self.end - self.start


class SafetensorsFile:
  """The header of one .safetensors file; tensors (or row ranges) on demand."""

  def __init__(self, path: str):
    self.path = path
    try:
      with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
          raise ValueError("shorter than its 8-byte header length")
        (length,) = struct.unpack("<Q", head)
        if length > _MAX_HEADER:
          raise ValueError(f"header length {length} is implausible")
        header = json.loads(f.read(length))
    except OSError as e:
      raise errors.DataError(f"cannot read {path}: {e.strerror or e}",
                             "check the file exists and is readable") from None
    except ValueError as e:
      raise errors.DataError(
          f"{path} is not a safetensors file ({e})",
          "re-download it (a truncated or HTML file?)") from None
    self.metadata = header.pop("__metadata__", {}) or {}
    base = 8 + length
    size = os.path.getsize(path)
    self.tensors: dict[str, TensorInfo] = {}
    for name, entry in header.items():
      dtype = DTYPES.get(entry.get("dtype"))
      if dtype is None:
        raise errors.DataError(
            f"tensor {name} in {path} has dtype {entry.get('dtype')!r}, "
            f"which the converter does not read", f"use one of "
            f"{sorted(DTYPES)} (re-save the checkpoint in float32 or bf16)")
      begin, end = entry["data_offsets"]
      shape = tuple(int(d) for d in entry["shape"])
      if end - begin != int(np.prod(shape)) * dtype.itemsize or (
          base + end > size):
        raise errors.DataError(
            f"tensor {name} in {path} does not fit its header (shape "
            f"{shape}, bytes {begin}..{end}, file size {size})",
            "the file is truncated or damaged: re-download it")
      self.tensors[name] = TensorInfo(name, dtype, shape, base + begin,
                                      base + end)

  def read(self, name: str, rows: slice | None = None) -> np.ndarray:
    """Tensor `name` (or its rows `rows`, a slice of axis 0) in its own
    dtype, read into fresh memory."""
    info = self.tensors[name]
    shape = info.shape
    start, count = info.start, int(np.prod(shape))
    if rows is not None:
      lo, hi, _ = rows.indices(shape[0])
      row = int(np.prod(shape[1:])) * info.dtype.itemsize
      start += lo * row
      shape = (hi - lo,) + shape[1:]
      count = int(np.prod(shape))
    out = np.empty(shape, info.dtype)
    with open(self.path, "rb") as f:
      f.seek(start)
      got = f.readinto(memoryview(out.reshape(-1).view(np.uint8)))
    if got != count * info.dtype.itemsize:
      raise errors.DataError(f"{self.path} ended inside tensor {name}",
                             "the file is truncated: re-download it")
    return out


# ---------------------------------------------------------------- writing ---

@dataclasses.dataclass(frozen=True)
class PlannedTensor:
  name: str
  dtype: np.dtype
  shape: tuple[int, ...]

  @property
  def nbytes(self) -> int:
    return int(np.prod(self.shape)) * self.dtype.itemsize


def plan_shards(tensors: list[PlannedTensor], max_shard_bytes: int,
                stem: str = "model") -> list[tuple[str, list[PlannedTensor]]]:
  """Tensors in order, cut into shards of at most `max_shard_bytes` (a
  larger tensor gets a shard of its own), named as `save_pretrained` does."""
  shards: list[list[PlannedTensor]] = [[]]
  size = 0
  for t in tensors:
    if shards[-1] and size + t.nbytes > max_shard_bytes:
      shards.append([])
      size = 0
    shards[-1].append(t)
    size += t.nbytes
  if len(shards) == 1:
    return [(f"{stem}.safetensors", shards[0])]
  n = len(shards)
  return [(f"{stem}-{i + 1:05d}-of-{n:05d}.safetensors", s)
          for i, s in enumerate(shards)]


def _header(tensors: list[PlannedTensor], metadata: dict[str, str]) -> bytes:
  entries: dict = {"__metadata__": metadata} if metadata else {}
  offset = 0
  for t in tensors:
    entries[t.name] = {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
                       "data_offsets": [offset, offset + t.nbytes]}
    offset += t.nbytes
  text = json.dumps(entries, separators=(",", ":")).encode()
  # Pad with spaces so the data starts 8-byte aligned (as the library does).
  text += b" " * (-(8 + len(text)) % 8)
  return struct.pack("<Q", len(text)) + text


def write_file(path: str, tensors: list[PlannedTensor],
               blocks: Iterable[tuple[str, np.ndarray]],
               metadata: dict[str, str] | None = None) -> None:
  """Writes one file: `blocks` yields (name, array) pieces in `tensors`'
  order whose bytes, concatenated, are each tensor in C order."""
  want = {t.name: t for t in tensors}
  written = {t.name: 0 for t in tensors}
  order = iter(tensors)
  current = next(order, None)
  with open(path, "wb") as f:
    f.write(_header(tensors, metadata or {}))
    for name, block in blocks:
      while current is not None and written[current.name] == current.nbytes:
        current = next(order, None)
      if current is None or name != current.name:
        raise ValueError(f"block for {name} out of order (expected "
                         f"{current.name if current else 'nothing'})")
      block = np.ascontiguousarray(block, dtype=want[name].dtype)
      f.write(block.reshape(-1).view(np.uint8).data)
      written[name] += block.nbytes
      if written[name] > want[name].nbytes:
        raise ValueError(f"too many bytes for {name}")
    short = [n for n, t in want.items() if written[n] != t.nbytes]
    if short:
      raise ValueError(f"tensors not fully written: {short}")
    f.flush()
    os.fsync(f.fileno())


def write_index(path: str, shards: list[tuple[str, list[PlannedTensor]]]
                ) -> None:
  weight_map = {t.name: fname for fname, ts in shards for t in ts}
  total = sum(t.nbytes for _, ts in shards for t in ts)
  with open(path, "w") as f:
    json.dump({"metadata": {"total_size": total}, "weight_map": weight_map},
              f, indent=2, sort_keys=True)
    f.write("\n")


def blocks_of(shape: tuple[int, ...], itemsize: int, max_bytes: int
              ) -> Iterator[slice]:
  """Row ranges of axis 0 of at most `max_bytes` each (at least 2 rows, so
  a swap of rows 0 and 1 stays inside one block)."""
  if not shape:
    yield slice(None)
    return
  row = max(1, int(np.prod(shape[1:])) * itemsize)
  step = max(2, max_bytes // row)
  for lo in range(0, shape[0], step):
    yield slice(lo, min(shape[0], lo + step))
