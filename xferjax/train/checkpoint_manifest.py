"""A list of every file of a finished checkpoint with its size and CRC32.

Orbax commits a step atomically (temporary directory, then rename), so a
crash mid-write never leaves a step that looks complete. What the commit
cannot catch is damage afterwards: a file truncated by a full disk or a bad
copy, bytes flipped in storage. Orbax would then either fail deep inside
tensorstore or, for uncompressed chunks, silently restore wrong numbers.
The manifest, written once the step is committed, turns both into a clear
"this checkpoint is damaged" before anything is restored from it.
"""

from __future__ import annotations

import json
import os
import zlib

from xferjax.train import results_io

MANIFEST_FILE = "xferjax_manifest.json"
_CHUNK = 1 << 22


def _crc32(path: str) -> int:
  crc = 0
  with open(path, "rb") as f:
    while chunk := f.read(_CHUNK):
      crc = zlib.crc32(chunk, crc)
  return crc


def _files(step_dir: str) -> list[str]:
  out = []
  for root, _, names in os.walk(step_dir):
    for name in names:
      rel = os.path.relpath(os.path.join(root, name), step_dir)
      if rel != MANIFEST_FILE:
        out.append(rel)
  return sorted(out)


def write(step_dir: str, checksums: bool = True) -> None:
  """Records size (and CRC32) of every file in a committed step directory."""
  entries = {}
  for rel in _files(step_dir):
    path = os.path.join(step_dir, rel)
    entries[rel] = {"size": os.path.getsize(path)}
    if checksums:
      entries[rel]["crc32"] = _crc32(path)
  results_io.atomic_write_text(os.path.join(step_dir, MANIFEST_FILE),
                               json.dumps({"files": entries}) + "\n")


def exists(step_dir: str) -> bool:
  return os.path.exists(os.path.join(step_dir, MANIFEST_FILE))


def problem(step_dir: str) -> str | None:
  """None if the files match the manifest, else what is wrong.

  A step without a manifest (the process died between the commit and the
  manifest) is not judged here; the caller verifies it by restoring it.
  """
  path = os.path.join(step_dir, MANIFEST_FILE)
  try:
    with open(path) as f:
      entries = json.load(f)["files"]
  except (OSError, ValueError, KeyError) as e:
    return f"its manifest {path} is unreadable ({e})"
  for rel, expected in sorted(entries.items()):
    full = os.path.join(step_dir, rel)
    if not os.path.exists(full):
      return f"file {rel} is missing"
    size = os.path.getsize(full)
    if size != expected["size"]:
      return f"file {rel} has {size} bytes, {expected['size']} were written"
    if "crc32" in expected and _crc32(full) != expected["crc32"]:
      return f"file {rel} has a different checksum than was written"
  return None
