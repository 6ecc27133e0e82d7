"""`xferjax convert from-hf`: a Hugging Face checkpoint -> a run directory.

The output is what `TrainRun.init_from` (gin `INIT_FROM`) and
`Study.pretrained_dirs` load:

  OUT/checkpoints/0/       params.<collection> items, train, run_state and
                           the manifest, as `Checkpointer` writes them
  OUT/<preset>.gin         the model preset (shapes from config.json,
                           training knobs from the matching shipped preset)
                           binding the vocabulary macro to the file below
  OUT/sentencepiece.bpe.model | spiece.model   the SentencePiece model
  OUT/hf_extra.safetensors tensors kept for the export (e.g. the pooler)
  OUT/xferjax_convert.json what was converted, for `to-hf` and people

Every check that can fail (architecture, shards, shapes, vocabulary, tied
weights) runs before the first byte is written, and the directory is
staged and renamed, so OUT is complete or absent.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import shutil
from typing import Any

from xferjax import errors
from xferjax.convert import (hf_configs, hf_source, orbax_io, plan as plan_lib,
                             record as record_lib, safetensors_io, staging)

# A gin macro nothing binds, so a vocabulary class reads the path it is
# given (`GinPathVocabulary` prefers its macro's value).
_UNBOUND_MACRO = "XFERJAX_CONVERT_SENTENCEPIECE"


@dataclasses.dataclass(frozen=True)
class Converted:
  out: str
  preset: str
  preset_file: str
  family: str
  config: Any
  num_params: int
  num_tensors: int


def vocabulary(family: hf_configs.Family, path: str):
  """The seqio vocabulary the tasks use with this family's model file."""
  from xferjax.data import vocab as vocab_lib
  if family.vocab_swap is not None:
    return vocab_lib.XlmrVocabulary(macro=_UNBOUND_MACRO, default=path)
  import seqio
  return seqio.SentencePieceVocabulary(path)


def _find_vocab(family: hf_configs.Family, model_dir: str,
                given: str | None) -> str:
  path = given or os.path.join(model_dir, family.vocab_file)
  if not os.path.isfile(path):
    raise errors.DataError(
        f"no SentencePiece model at {path}",
        f"the Hugging Face directory should have {family.vocab_file}; "
        "download it too, or pass its path with --sentencepiece")
  return path


def default_preset_name(model: str) -> str:
  base = os.path.basename(os.path.normpath(model)) or "model"
  return "hf_" + re.sub(r"[^0-9A-Za-z]+", "_", base).strip("_").lower()


def preset_text(family: hf_configs.Family, cfg: Any, name: str, source: str,
                vocab_path: str | None) -> str:
  module = ("xferjax.models.encoder" if family.family == "encoder" else
            "xferjax.models.t5")
  cls = type(cfg).__name__
  lines = [
      f"# {name}: converted from {source} by `xferjax convert from-hf`",
      f"# ({record_lib.RECORD_FILE} beside this file says what was "
      "converted).", "import xferjax.models.api", f"import {module}", "",
      f"model_family.family = {family.family!r}"]
  lines += [f"{cls}.{f.name} = {getattr(cfg, f.name)!r}"
            for f in dataclasses.fields(cfg)]
  if vocab_path:
    lines += ["", "# The vocabulary the checkpoint was trained with.",
              f"{family.vocab_macro} = {vocab_path!r}"]
  return "\n".join(lines) + "\n"


def _write_extras(ckpt, names: list[str], path: str) -> None:
  tensors = [safetensors_io.PlannedTensor(n, ckpt.info(n).dtype,
                                          ckpt.info(n).shape) for n in names]
  safetensors_io.write_file(path, tensors,
                            ((n, ckpt.read(n)) for n in names),
                            {"format": "pt"})


def convert(model: str, out: str, *, preset_name: str | None = None,
            scan_layers: bool | None = None, sentencepiece: str | None = None,
            overwrite: bool = False,
            block_bytes: int = plan_lib.BLOCK_BYTES) -> Converted:
  """Converts `model` (a directory or Hub id) into the run directory `out`.

  Reads the shipped presets with `presets.load`, which clears gin's
  global config: call it before a run's own gin files are parsed.
  """
  model_dir = hf_source.resolve(model)
  hf_config = hf_configs.read_config(model_dir)
  family = hf_configs.family_of(hf_config, model_dir)
  cfg = hf_configs.our_config(family, hf_config, model_dir, {})
  matched, knobs = hf_configs.matching_preset(family, cfg)
  if scan_layers is not None:
    knobs["scan_layers"] = scan_layers
  cfg = dataclasses.replace(cfg, **knobs)
  name = preset_name or matched or default_preset_name(model)
  ckpt = hf_source.HfCheckpoint(model_dir)
  prefixed = ckpt.add_prefix(family.base_prefix)
  vocab_src = _find_vocab(family, model_dir, sentencepiece)
  plan = plan_lib.ImportPlan(family, cfg, ckpt, block_bytes)
  plan.check_vocab(vocabulary(family, vocab_src).vocab_size, vocab_src)
  plan.check_tied()

  out = os.path.abspath(out)
  rec = record_lib.Record(
      model_type=family.model_type, family=family.family,
      config=dataclasses.asdict(cfg), hf_config=hf_config, preset=name,
      source=model, hf_format=ckpt.format, hf_dtypes=plan.hf_dtypes(),
      tied_present=plan.tied_present, fallbacks_used=plan.fallbacks_used,
      kept=plan.kept, skipped_collections=list(plan.skipped),
      prefix_added=family.base_prefix if prefixed else None,
      vocab_file=family.vocab_file)
  preset_file = os.path.join(out, f"{name}.gin")
  with staging.staged_dir(out, overwrite) as tmp:
    shutil.copyfile(vocab_src, os.path.join(tmp, family.vocab_file))
    for fname in record_lib.TOKENIZER_FILES:
      if os.path.isfile(os.path.join(model_dir, fname)):
        os.makedirs(os.path.join(tmp, record_lib.TOKENIZER_DIR),
                    exist_ok=True)
        shutil.copyfile(os.path.join(model_dir, fname),
                        os.path.join(tmp, record_lib.TOKENIZER_DIR, fname))
    if plan.kept:
      _write_extras(ckpt, plan.kept, os.path.join(tmp, record_lib.EXTRA_FILE))
    orbax_io.write_checkpoint(tmp, plan.lazy_params(),
                              {"converted": dataclasses.asdict(rec)})
    with open(os.path.join(tmp, f"{name}.gin"), "w") as f:
      f.write(preset_text(family, cfg, name, model,
                          os.path.join(out, family.vocab_file)))
    rec.write(tmp)
  return Converted(out, name, preset_file, family.family, cfg,
                   sum(math.prod(s) for p, s in plan.leaves.items()
                       if p[0] not in plan.skipped),
                   len(plan.entries))
