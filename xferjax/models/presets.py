"""Model presets: the gin files under gin_configs/models/, by name.

A preset binds `model_family.family` and the family's config
(`EncoderConfig` or `T5Config`); `load("xlmr_xxl")` returns both without
building anything, `list_presets()` names them all, and an unknown name is a
`ConfigError` that lists the close ones.
"""

from __future__ import annotations

import difflib
import os
from typing import Any

import gin

from xferjax import errors

PRESET_DIR = "models"


def presets_dir() -> str:
  from xferjax import config
  return os.path.join(config.packaged_gin_dir(), PRESET_DIR)


def list_presets() -> list[str]:
  return sorted(f[:-len(".gin")] for f in os.listdir(presets_dir())
                if f.endswith(".gin"))


def preset_name(name_or_path: str) -> str:
  """'models/xlmr_base.gin', 'xlmr_base.gin' or 'xlmr_base' -> 'xlmr_base'."""
  base = os.path.basename(name_or_path)
  return base[:-len(".gin")] if base.endswith(".gin") else base


def resolve(name_or_path: str) -> str:
  """The gin file of a preset name (or an existing path, returned as is)."""
  if os.path.isfile(name_or_path):
    return os.path.abspath(name_or_path)
  name = preset_name(name_or_path)
  path = os.path.join(presets_dir(), f"{name}.gin")
  if os.path.isfile(path):
    return path
  known = list_presets()
  close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
  raise errors.ConfigError(
      f"unknown model preset {name_or_path!r}",
      (f"did you mean {', '.join(close)}? " if close else "") +
      f"presets: {', '.join(known)} (gin files in {presets_dir()}), or pass "
      "the path of your own gin file")


def config_from_gin() -> tuple[str, Any]:
  """(family, config) as the currently parsed gin bindings say."""
  from xferjax.models import api
  family = api.model_family()
  return family, api.FAMILIES[family][0]()


def load(name_or_path: str) -> tuple[str, Any]:
  """(family, config) of one preset, parsed on its own.

  Clears the global gin config before and after: call it before a run's own
  gin files are parsed, not in the middle of a configured run.
  """
  path = resolve(name_or_path)
  gin.clear_config()
  try:
    gin.parse_config_file(path)
    return config_from_gin()
  finally:
    gin.clear_config()
