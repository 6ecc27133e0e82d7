"""The Hugging Face PyTorch reference: the same model, batch and optimizer.

`hf_model(family, head, cfg, num_labels)` builds the `transformers` model
whose config is our `EncoderConfig` / `T5Config` field for field (the
checkpoint-import layout is the same, so the parameter counts agree: see
tests/benchmarks). `TorchSteps` runs what a PyTorch user runs: a training
step is zero_grad, forward with the loss, backward, global-norm clipping and
`torch.optim.AdamW`; an evaluation step is a forward pass in `eval()` mode
under `torch.inference_mode()`.

`gather_masked=True` gives the MLM reference the same optimisation xferjax
applies (the 250k-vocabulary decoder runs only at the masked positions):
`model.roberta` -> hidden states at the masked positions -> `model.lm_head`
-> cross-entropy. The stock `XLMRobertaForMaskedLM` computes logits for every
position.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _torch():
  import torch  # the optional `convert` extra
  return torch


def hf_config(cfg: Any, num_labels: int = 2):
  """The transformers config equal to one of ours: the converter's own
  field table (`xferjax.convert.hf_configs`), so the two cannot drift."""
  import transformers
  from xferjax.convert import hf_configs
  family = hf_configs.of_config(cfg)
  fields = hf_configs.hf_config_of(family, cfg, None)
  fields.pop("architectures", None)
  model_type = fields.pop("model_type")
  return transformers.AutoConfig.for_model(model_type, num_labels=num_labels,
                                           **fields)


HF_CLASSES = {"mlm": "XLMRobertaForMaskedLM",
              "classification": "XLMRobertaForSequenceClassification",
              "text_to_text": "MT5ForConditionalGeneration"}


def hf_model(head: str, cfg: Any, num_labels: int = 2, seed: int = 0):
  """A randomly initialised HF model of `head` with `cfg`'s shapes."""
  import transformers
  _torch().manual_seed(seed)
  torch = _torch()
  cls = getattr(transformers, HF_CLASSES[head])
  model = cls(hf_config(cfg, num_labels))
  if head == "text_to_text" and (model.lm_head.weight.data_ptr() ==
                                 model.shared.weight.data_ptr()):
    # transformers 5's MT5Config forces `tie_word_embeddings=True` (and
    # setting it False unties the encoder/decoder embeddings too); mT5 and
    # ours have an lm_head of its own: untie just that one.
    model.lm_head.weight = torch.nn.Parameter(
        model.shared.weight.detach().clone())
  return model


def count_params(model) -> int:
  """Distinct parameters (a tied embedding counted once)."""
  return sum(p.numel() for p in model.parameters())


def torch_batch(head: str, batch: dict[str, np.ndarray]) -> dict[str, Any]:
  """Our batch contract as the HF model's keyword arguments."""
  torch = _torch()
  t = lambda x: torch.from_numpy(np.asarray(x, np.int64))
  if head == "text_to_text":
    labels = np.where(batch["decoder_loss_weights"] > 0,
                      batch["decoder_target_tokens"], -100)
    return {"input_ids": t(batch["encoder_input_tokens"]),
            "attention_mask": t(batch["encoder_input_tokens"] > 0),
            "decoder_input_ids": t(batch["decoder_input_tokens"]),
            "decoder_attention_mask": t(batch["decoder_target_tokens"] > 0),
            "labels": t(labels)}
  out = {"input_ids": t(batch["input_ids"]),
         "attention_mask": t(batch["attention_mask"])}
  if head == "mlm":
    out["labels"] = t(np.where(batch["loss_weights"] > 0, batch["targets"],
                               -100))
  else:
    out["labels"] = t(batch["label"])
  return out


class TorchSteps:
  """A training and an evaluation step of one HF model, as users run them.

  The optimizer matches `xferjax.train.optimizer.make_optimizer` (AdamW with
  RoBERTa's betas and epsilon, decoupled weight decay, constant learning
  rate, optional global-norm clipping).
  """

  def __init__(self, model, head: str, *, learning_rate: float,
               weight_decay: float, b1: float, b2: float, eps: float,
               grad_clip_norm: float | None, gather_masked: bool = False):
    torch = _torch()
    self.model, self.head = model, head
    self.grad_clip_norm = grad_clip_norm
    self.gather_masked = gather_masked
    self.optimizer = torch.optim.AdamW(
        model.parameters(), lr=learning_rate, betas=(b1, b2), eps=eps,
        weight_decay=weight_decay)

  def _loss(self, inputs):
    if not self.gather_masked:
      return self.model(**inputs).loss
    torch = _torch()
    labels = inputs["labels"]
    hidden = self.model.roberta(input_ids=inputs["input_ids"],
                                attention_mask=inputs["attention_mask"])[0]
    keep = labels != -100
    logits = self.model.lm_head(hidden[keep])
    return torch.nn.functional.cross_entropy(logits, labels[keep])

  def train_step(self, inputs) -> float:
    torch = _torch()
    self.model.train()
    self.optimizer.zero_grad(set_to_none=True)
    loss = self._loss(inputs)
    loss.backward()
    if self.grad_clip_norm:
      torch.nn.utils.clip_grad_norm_(self.model.parameters(),
                                     self.grad_clip_norm)
    self.optimizer.step()
    return float(loss.detach())

  def eval_step(self, inputs) -> float:
    torch = _torch()
    self.model.eval()
    with torch.inference_mode():
      if self.head == "classification":
        inputs = {k: v for k, v in inputs.items() if k != "labels"}
        return float(self.model(**inputs).logits.sum())
      return float(self._loss(inputs))
