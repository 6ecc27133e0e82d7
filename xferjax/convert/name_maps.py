"""The name maps: which Hugging Face tensor is which of our parameters.

Each family's map is a table of `Rule(hf name, our path, layout)`. In both
names `{i}` stands for a layer index; in our path `{layer}` is the layer's
place in its stack, `layer_{i}` unrolled or the `layers` stack at index i
when scanned (`xferjax.models.stacking`). The tables also list the
tensors a checkpoint may hold that are *tied* to another (checked equal,
not stored twice) and those we *keep* unchanged beside the checkpoint so an
export gives them back (XLM-R's pooler, which no head of ours uses).

Anything a checkpoint holds that no table names is refused: it belongs to
another architecture (or a fine-tuned head we do not convert).
"""

from __future__ import annotations

import dataclasses
import re


@dataclasses.dataclass(frozen=True)
class Rule:
  hf: str
  ours: str  # '/'-separated; the first part is the parameter collection
  layout: str
  # HF name to read instead when `hf` is absent (a tied weight the
  # checkpoint stores once, e.g. mT5's lm_head saved as `shared`).
  fallback: str | None = None


@dataclasses.dataclass(frozen=True)
class NameMap:
  rules: tuple[Rule, ...]
  # alias -> canonical HF name: same values, one parameter of ours.
  tied: dict[str, str]
  # Regular expressions of tensors carried through unchanged.
  kept: tuple[str, ...]
  # Which field of our config counts the layers `{i}` runs over in each
  # stack (the first part of our path).
  layer_counts: dict[str, str]
  # A parameter collection a checkpoint may lack as a whole (XLMRobertaModel
  # has no MLM head); every other rule is required.
  optional: tuple[str, ...] = ()

  def is_kept(self, name: str) -> bool:
    return any(re.fullmatch(p, name) for p in self.kept)


def _dense(hf: str, ours: str, layout: str = "transpose",
           bias: str = "same") -> tuple[Rule, ...]:
  return (Rule(f"{hf}.weight", f"{ours}/kernel", layout),
          Rule(f"{hf}.bias", f"{ours}/bias", bias))


def _norm(hf: str, ours: str) -> tuple[Rule, ...]:
  return (Rule(f"{hf}.weight", f"{ours}/scale", "same"),
          Rule(f"{hf}.bias", f"{ours}/bias", "same"))


_R = "roberta.encoder.layer.{i}"
_L = "encoder/{layer}"

_XLMR_COMMON = (
    Rule("roberta.embeddings.word_embeddings.weight",
         "encoder/token_embed/embedding", "vocab"),
    Rule("roberta.embeddings.position_embeddings.weight",
         "encoder/position_embed", "same"),
    Rule("roberta.embeddings.token_type_embeddings.weight",
         "encoder/token_type_embed", "same"),
    *_dense(f"{_R}.attention.self.query", f"{_L}/attention/query",
            "heads_in", "heads_bias"),
    *_dense(f"{_R}.attention.self.key", f"{_L}/attention/key",
            "heads_in", "heads_bias"),
    *_dense(f"{_R}.attention.self.value", f"{_L}/attention/value",
            "heads_in", "heads_bias"),
    *_dense(f"{_R}.attention.output.dense", f"{_L}/attention/out",
            "heads_out"),
    *_dense(f"{_R}.intermediate.dense", f"{_L}/mlp/wi"),
    *_dense(f"{_R}.output.dense", f"{_L}/mlp/wo"),
    *_dense("lm_head.dense", "head/dense"),
    *_norm("lm_head.layer_norm", "head/norm"),
    Rule("lm_head.bias", "head/bias", "vocab"),
)
_XLMR_TIED = {"lm_head.decoder.weight":
              "roberta.embeddings.word_embeddings.weight",
              "lm_head.decoder.bias": "lm_head.bias"}
_XLMR_KEPT = (r"roberta\.pooler\.dense\.(weight|bias)",
              r"roberta\.embeddings\.position_ids")

# XLM-R base/large: post-LN with an embedding LayerNorm.
XLMR = NameMap(
    rules=_XLMR_COMMON + (
        *_norm("roberta.embeddings.LayerNorm", "encoder/embed_norm"),
        *_norm(f"{_R}.attention.output.LayerNorm", f"{_L}/attention_norm"),
        *_norm(f"{_R}.output.LayerNorm", f"{_L}/mlp_norm"),
    ),
    tied=_XLMR_TIED, kept=_XLMR_KEPT,
    layer_counts={"encoder": "num_layers"}, optional=("head",))

# XLM-R XL/XXL: pre-LN, a final LayerNorm, no embedding LayerNorm.
XLMR_XL = NameMap(
    rules=_XLMR_COMMON + (
        *_norm(f"{_R}.attention.self_attn_layer_norm", f"{_L}/attention_norm"),
        *_norm(f"{_R}.LayerNorm", f"{_L}/mlp_norm"),
        *_norm("roberta.encoder.LayerNorm", "encoder/final_norm"),
    ),
    tied=_XLMR_TIED, kept=_XLMR_KEPT,
    layer_counts={"encoder": "num_layers"}, optional=("head",))


def _t5_attention(hf: str, ours: str) -> tuple[Rule, ...]:
  return tuple(Rule(f"{hf}.{a}.weight", f"{ours}/{b}/kernel", layout)
               for a, b, layout in (("q", "query", "heads_in"),
                                    ("k", "key", "heads_in"),
                                    ("v", "value", "heads_in"),
                                    ("o", "out", "heads_out")))


def _t5_mlp(hf: str, ours: str) -> tuple[Rule, ...]:
  return tuple(Rule(f"{hf}.{w}.weight", f"{ours}/{w}/kernel", "transpose")
               for w in ("wi_0", "wi_1", "wo"))


def _t5_norm(hf: str, ours: str) -> Rule:
  return Rule(f"{hf}.layer_norm.weight", f"{ours}/scale", "same")


_E, _D = "encoder.block.{i}.layer", "decoder.block.{i}.layer"
_EL, _DL = "encoder/{layer}", "decoder/{layer}"

# mT5 (T5.1.1): encoder blocks are [self-attention, MLP], decoder blocks
# [self-attention, cross-attention, MLP]; the relative-position table lives
# in block 0 of each stack.
MT5 = NameMap(
    rules=(
        Rule("shared.weight", "token_embed/embedding", "same"),
        *_t5_attention(f"{_E}.0.SelfAttention", f"{_EL}/attention"),
        _t5_norm(f"{_E}.0", f"{_EL}/attention_norm"),
        *_t5_mlp(f"{_E}.1.DenseReluDense", f"{_EL}/mlp"),
        _t5_norm(f"{_E}.1", f"{_EL}/mlp_norm"),
        Rule("encoder.block.0.layer.0.SelfAttention.relative_attention_bias."
             "weight", "encoder/relpos_bias/rel_embedding", "transpose"),
        Rule("encoder.final_layer_norm.weight", "encoder/final_norm/scale",
             "same"),
        *_t5_attention(f"{_D}.0.SelfAttention", f"{_DL}/self_attention"),
        _t5_norm(f"{_D}.0", f"{_DL}/self_attention_norm"),
        *_t5_attention(f"{_D}.1.EncDecAttention", f"{_DL}/cross_attention"),
        _t5_norm(f"{_D}.1", f"{_DL}/cross_attention_norm"),
        *_t5_mlp(f"{_D}.2.DenseReluDense", f"{_DL}/mlp"),
        _t5_norm(f"{_D}.2", f"{_DL}/mlp_norm"),
        Rule("decoder.block.0.layer.0.SelfAttention.relative_attention_bias."
             "weight", "decoder/relpos_bias/rel_embedding", "transpose"),
        Rule("decoder.final_layer_norm.weight", "decoder/final_norm/scale",
             "same"),
        Rule("lm_head.weight", "lm_head", "transpose",
             fallback="shared.weight"),
    ),
    tied={"encoder.embed_tokens.weight": "shared.weight",
          "decoder.embed_tokens.weight": "shared.weight"},
    # Old checkpoints carry an unused cross-attention position table.
    kept=(r"decoder\.block\.0\.layer\.1\.EncDecAttention\."
          r"relative_attention_bias\.weight",),
    layer_counts={"encoder": "num_encoder_layers",
                  "decoder": "num_decoder_layers"})
