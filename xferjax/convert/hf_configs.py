"""Hugging Face `config.json` <-> our model configs, one table per family.

A `Family` says everything that differs between XLM-R, XLM-R XL and mT5:
the config.json `model_type` it accepts, its name map, which config fields
map to which of ours (`FieldMap`), which HF settings our model hard-codes
(`fixed`: a checkpoint with other values would not match our forward
pass), the SentencePiece file and the vocabulary macro, and the id swap.

Knobs that do not change the math (scan over layers, remat policy, compute
dtype, chunked logits) are not in config.json; they come from the shipped
preset whose shapes match (`matching_preset`), so xlm-roberta-xl converts
to a scanned, rematerialised `xlmr_xl` layout as that preset trains it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Callable

from xferjax import errors
from xferjax.convert import name_maps
from xferjax.data import vocab as vocab_lib
from xferjax.models import presets
from xferjax.models.encoder import POSITION_OFFSET, EncoderConfig
from xferjax.models.t5 import T5Config

# Our config fields that config.json does not decide.
KNOBS = ("dtype", "scan_layers", "remat_policy", "logits_chunk_size")
_ident = lambda v: v


@dataclasses.dataclass(frozen=True)
class FieldMap:
  hf: str
  ours: str
  to_ours: Callable[[Any], Any] = _ident
  to_hf: Callable[[Any], Any] = _ident
  # config.json may omit it: the HF value then comes from another field.
  default_from: str | None = None


@dataclasses.dataclass(frozen=True)
class Family:
  model_types: tuple[str, ...]
  family: str  # ours: 'encoder' / 'encoder_decoder'
  config_cls: type
  name_map: name_maps.NameMap
  fields: tuple[FieldMap, ...]
  fixed: dict[str, Any]  # HF settings our model implements
  our_fixed: dict[str, Any]  # our settings the family implies
  architectures: tuple[str, ...]  # accepted; the first is what we export
  head: str  # the head whose parameters the checkpoint has
  vocab_file: str
  vocab_macro: str
  tokenizer_config: dict[str, Any]  # written on export when none was kept
  # Our ids <-> HF's: rows exchanged in vocabulary-indexed tensors.
  vocab_swap: tuple[int, int] | None
  # config.json keys written on export besides `fields` and `fixed`.
  export_extra: dict[str, Any] = dataclasses.field(default_factory=dict)
  # What task models put before the base model's tensor names.
  base_prefix: str = ""

  @property
  def model_type(self) -> str:
    return self.model_types[0]


_XLMR_FIELDS = (
    FieldMap("vocab_size", "vocab_size"),
    FieldMap("hidden_size", "d_model"),
    FieldMap("num_hidden_layers", "num_layers"),
    FieldMap("num_attention_heads", "num_heads"),
    FieldMap("intermediate_size", "d_ff"),
    FieldMap("max_position_embeddings", "max_len",
             lambda v: v - POSITION_OFFSET, lambda v: v + POSITION_OFFSET),
    FieldMap("type_vocab_size", "type_vocab_size"),
    FieldMap("layer_norm_eps", "layer_norm_eps"),
    FieldMap("hidden_dropout_prob", "dropout_rate"),
)
# fairseq ids (see XlmrVocabulary): positions count from pad_token_id + 1,
# which our encoder fixes at 2; <s>/<pad> trade places with ours.
_XLMR_FIXED = {"hidden_act": "gelu", "position_embedding_type": "absolute",
               "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
               "is_decoder": False, "add_cross_attention": False}
_XLMR_COMMON = dict(
    family="encoder", config_cls=EncoderConfig, fields=_XLMR_FIELDS,
    fixed=_XLMR_FIXED, head="mlm", vocab_file="sentencepiece.bpe.model",
    tokenizer_config={"tokenizer_class": "XLMRobertaTokenizer"},
    vocab_macro=vocab_lib.XLMR_VOCAB_MACRO, vocab_swap=(0, 1),
    export_extra={"tie_word_embeddings": True}, base_prefix="roberta.")

XLMR = Family(
    model_types=("xlm-roberta",), name_map=name_maps.XLMR,
    our_fixed={"pre_layer_norm": False, "embedding_layer_norm": True},
    architectures=("XLMRobertaForMaskedLM", "XLMRobertaModel"),
    **_XLMR_COMMON)
XLMR_XL = Family(
    model_types=("xlm-roberta-xl",), name_map=name_maps.XLMR_XL,
    our_fixed={"pre_layer_norm": True, "embedding_layer_norm": False},
    architectures=("XLMRobertaXLForMaskedLM", "XLMRobertaXLModel"),
    **_XLMR_COMMON)
MT5 = Family(
    model_types=("mt5",), family="encoder_decoder", config_cls=T5Config,
    name_map=name_maps.MT5,
    fields=(
        FieldMap("vocab_size", "vocab_size"),
        FieldMap("d_model", "d_model"),
        FieldMap("num_heads", "num_heads"),
        FieldMap("d_kv", "head_dim"),
        FieldMap("d_ff", "d_ff"),
        FieldMap("num_layers", "num_encoder_layers"),
        FieldMap("num_decoder_layers", "num_decoder_layers",
                 default_from="num_layers"),
        FieldMap("relative_attention_num_buckets",
                 "relative_attention_num_buckets"),
        FieldMap("relative_attention_max_distance",
                 "relative_attention_max_distance"),
        FieldMap("layer_norm_epsilon", "layer_norm_eps"),
        FieldMap("dropout_rate", "dropout_rate"),
        FieldMap("decoder_start_token_id", "decoder_start_token_id"),
        FieldMap("eos_token_id", "eos_id"),
    ),
    fixed={"feed_forward_proj": "gated-gelu", "is_encoder_decoder": True,
           "pad_token_id": 0},
    our_fixed={},
    architectures=("MT5ForConditionalGeneration", "MT5Model"),
    head="text_to_text", vocab_file="spiece.model",
    # mT5's SentencePiece model holds its sentinel pieces itself.
    tokenizer_config={"tokenizer_class": "T5Tokenizer", "extra_ids": 0},
    vocab_macro=vocab_lib.MT5_VOCAB_MACRO, vocab_swap=None,
    export_extra={"tie_word_embeddings": False})

FAMILIES = (XLMR, XLMR_XL, MT5)
SUPPORTED = ", ".join(t for f in FAMILIES for t in f.model_types)


def by_model_type(model_type: str) -> Family:
  for family in FAMILIES:
    if model_type in family.model_types:
      return family
  raise errors.ConfigError(f"unknown model_type {model_type!r}",
                           f"use one of {SUPPORTED}")


def of_config(cfg: Any) -> Family:
  """The family of one of our configs (a run directory's model)."""
  if isinstance(cfg, T5Config):
    return MT5
  return XLMR_XL if cfg.pre_layer_norm else XLMR


def read_config(model_dir: str) -> dict[str, Any]:
  path = os.path.join(model_dir, "config.json")
  try:
    with open(path) as f:
      return json.load(f)
  except FileNotFoundError:
    raise errors.DataError(
        f"{model_dir} has no config.json", "pass a Hugging Face model "
        "directory (config.json + model.safetensors), e.g. one written by "
        "save_pretrained or `huggingface-cli download`") from None
  except ValueError as e:
    raise errors.DataError(f"{path} is not valid JSON: {e}",
                           "re-download the model") from None


def family_of(hf_config: dict[str, Any], where: str) -> Family:
  """The family of a config.json; another architecture is refused."""
  model_type = hf_config.get("model_type")
  for family in FAMILIES:
    if model_type in family.model_types:
      archs = [a for a in hf_config.get("architectures") or ()
               if a not in family.architectures]
      if archs:
        raise errors.ConfigError(
            f"{where} is a {archs[0]} checkpoint; xferjax converts the "
            f"pretrained models {list(family.architectures)} of "
            f"model_type {model_type!r}",
            "convert the pretrained checkpoint (fine-tuned heads are not "
            "imported); train the task head with xferjax")
      return family
  archs = ", ".join(hf_config.get("architectures") or ()) or "unknown"
  raise errors.ConfigError(
      f"{where} has model_type {model_type!r} (architectures: {archs}); "
      f"xferjax converts only {SUPPORTED}",
      "pass an XLM-R (xlm-roberta-*, facebook/xlm-roberta-xl/xxl) or mT5 "
      "(google/mt5-*) checkpoint")


def our_config(family: Family, hf_config: dict[str, Any], where: str,
               knobs: dict[str, Any]) -> Any:
  """Our config for a config.json (plus the non-mathematical `knobs`)."""
  for key, want in family.fixed.items():
    if key in hf_config and hf_config[key] != want:
      raise errors.ConfigError(
          f"{where}: config.json has {key} = {hf_config[key]!r}, but "
          f"xferjax's {family.model_type} implements only {want!r}",
          "this checkpoint is a variant our model cannot reproduce; "
          "convert a released checkpoint")
  values = dict(family.our_fixed)
  for field in family.fields:
    key = field.hf
    if key not in hf_config and field.default_from:
      key = field.default_from
    if key not in hf_config:
      raise errors.ConfigError(
          f"{where}: config.json has no {field.hf!r}",
          "pass the checkpoint's own config.json (save_pretrained writes "
          "every field)")
    values[field.ours] = field.to_ours(hf_config[key])
  values.update(knobs)
  try:
    return family.config_cls(**values)
  except errors.XferjaxError as e:
    raise type(e)(f"{where}: {e.message}", e.fix) from None


def hf_config_of(family: Family, cfg: Any, base: dict[str, Any] | None,
                 architecture: str | None = None) -> dict[str, Any]:
  """config.json for `cfg`: `base` (the imported one, so nothing it said is
  lost) with every field we own set from `cfg`."""
  out = dict(base or {})
  out.update(family.export_extra)
  # Our recipe's settings: all of them from scratch; from an imported
  # config those it stated (they were checked equal to ours).
  out.update({k: v for k, v in family.fixed.items()
              if base is None or k in base})
  for field in family.fields:
    out[field.hf] = field.to_hf(getattr(cfg, field.ours))
  if family.family == "encoder":
    out["attention_probs_dropout_prob"] = out.get(
        "attention_probs_dropout_prob", cfg.dropout_rate)
  out["model_type"] = family.model_type
  out["architectures"] = [architecture or (base or {}).get(
      "architectures", [family.architectures[0]])[0]]
  return out


def matching_preset(family: Family, cfg: Any) -> tuple[str | None, dict]:
  """(name, knobs) of the shipped preset with the same math as `cfg`."""
  decided = [f.ours for f in family.fields] + list(family.our_fixed)
  for name in presets.list_presets():
    try:
      preset_family, preset = presets.load(name)
    except errors.XferjaxError:
      continue
    if preset_family != family.family or not isinstance(
        preset, family.config_cls):
      continue
    if all(getattr(preset, k) == getattr(cfg, k) for k in decided):
      return name, {k: getattr(preset, k) for k in KNOBS}
  return None, {}
