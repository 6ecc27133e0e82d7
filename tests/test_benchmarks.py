"""The benchmark compares like with like: the Hugging Face reference has the
same parameters as the xferjax model, its masked-only MLM loss equals the
stock one, both sides' steps run on a tiny model, and the timing rotates
who goes first."""

import math

import jax
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from benchmarks import hf_reference, jax_side, timing  # noqa: E402
from benchmarks import train_eval_vs_hf  # noqa: E402
from xferjax.models import api  # noqa: E402

HP = dict(learning_rate=1e-3, weight_decay=0.01, grad_clip_norm=1.0)


@pytest.mark.parametrize("head,fixture", [("mlm", "tiny_xlmr"),
                                          ("text_to_text", "tiny_mt5")])
def test_reference_is_the_same_model(head, fixture, request):
  cfg = request.getfixturevalue(fixture)
  family = "encoder_decoder" if head == "text_to_text" else "encoder"
  model = api.build_model(head, 3, family=family, config=cfg)
  ours = jax_side.JaxSteps(model, dropout=True, **HP)
  torch_model = hf_reference.hf_model(head, cfg, num_labels=3)
  n_ours = sum(x.size for x in jax.tree.leaves(ours.state.params))
  assert hf_reference.count_params(torch_model) == n_ours
  batch = train_eval_vs_hf.make_batch(model, head, 2, 16, 8)
  ref = hf_reference.TorchSteps(torch_model, head, **HP,
                                **train_eval_vs_hf.ADAM)
  inputs = hf_reference.torch_batch(head, batch)
  for loss in (ours.train_step(batch), ours.eval_step(batch),
               ref.train_step(inputs), ref.eval_step(inputs)):
    assert math.isfinite(loss)
  if head == "mlm":
    gather = hf_reference.TorchSteps(torch_model, head, **HP,
                                     **train_eval_vs_hf.ADAM,
                                     gather_masked=True)
    assert gather.eval_step(inputs) == pytest.approx(ref.eval_step(inputs),
                                                     rel=1e-5)


def test_alternate_rotates_the_first_contender():
  calls = []
  timing.alternate({"a": lambda: calls.append("a"),
                    "b": lambda: calls.append("b")}, warmup=1, repeats=3,
                   log=lambda s: None)
  assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]
