"""`xferjax_convert.json`: what a converted directory holds and came from.

Written by `from-hf`, read by `to-hf` (so an export gives back exactly the
tensors, dtypes and config fields that were imported) and by people. A run
directory trained by xferjax has no record; `to-hf` then takes the model
config from its latest checkpoint's run state.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from xferjax import errors
from xferjax.train import results_io

RECORD_FILE = "xferjax_convert.json"
EXTRA_FILE = "hf_extra.safetensors"
# The source's tokenizer files, kept verbatim for the export.
TOKENIZER_DIR = "hf_tokenizer"
TOKENIZER_FILES = ("tokenizer_config.json", "tokenizer.json",
                   "special_tokens_map.json")
VERSION = 1


@dataclasses.dataclass
class Record:
  model_type: str
  family: str
  config: dict[str, Any]  # our config's fields
  hf_config: dict[str, Any]
  preset: str | None = None
  source: str | None = None
  hf_format: str | None = None
  # Per HF tensor: its dtype in the source ("F32", "BF16", ...).
  hf_dtypes: dict[str, str] = dataclasses.field(default_factory=dict)
  tied_present: list[str] = dataclasses.field(default_factory=list)
  fallbacks_used: list[str] = dataclasses.field(default_factory=list)
  kept: list[str] = dataclasses.field(default_factory=list)
  skipped_collections: list[str] = dataclasses.field(default_factory=list)
  # Set when a bare base model's names were prefixed (see HfCheckpoint).
  prefix_added: str | None = None
  vocab_file: str | None = None
  version: int = VERSION

  def write(self, directory: str) -> None:
    results_io.write_json(os.path.join(directory, RECORD_FILE),
                          dataclasses.asdict(self))


def read(directory: str) -> Record | None:
  path = os.path.join(directory, RECORD_FILE)
  if not os.path.exists(path):
    return None
  try:
    with open(path) as f:
      data = json.load(f)
    return Record(**data)
  except (OSError, ValueError, TypeError) as e:
    raise errors.DataError(f"cannot read {path}: {e}",
                           "re-run `xferjax convert from-hf`") from None
