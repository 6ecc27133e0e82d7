"""xferjax vs Hugging Face PyTorch: train and eval throughput, same process.

For each case (a config, a head, batch x length) both frameworks get the
identical model shapes (the converter's config table), the same batch
(numpy, converted per step on each side), fp32, dropout as configured,
AdamW with the same hyper-parameters and global-norm clipping, and the
same cores (`timing.pin_threads`). Their steps are timed round-robin after
warm-up (`timing.alternate`): the ratio of medians is the headline, and it
stays fair under load from other processes because both see the same load.

  .venv/bin/python benchmarks/train_eval_vs_hf.py \
      [--cases xlmr_base:classification,minilm:mlm] [--repeats 7] \
      [--warmup 2] [--threads 2] [--compile] [--json out.json]

Cases are `config:head`; configs are in CONFIGS (presets or presets with
shape overrides). MLM cases also time the reference with the masked-only
decoder (`hf+gather`), the same saving xferjax's fused cross-entropy makes,
so that the ratio is not only the stock model's full-vocabulary logits.
`--compile` adds the compile time of the train step with layers unrolled
and scanned.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import timing  # noqa: E402  (before jax: thread pinning)

# name: (preset, overrides). minilm is Multilingual-MiniLM-L12-H384's shape
# (XLM-R's 250k vocabulary on a 12 x 384 encoder); mt5_small the preset.
CONFIGS = {
    "xlmr_base": ("xlmr_base", {}),
    "minilm": ("xlmr_base", {"d_model": 384, "num_heads": 12, "d_ff": 1536}),
    "mt5_small": ("mt5_small", {}),
}
# At 128 tokens a chunk of 32 lets the fused loss skip the chunks (after the
# per-row sort) that hold no masked target; the preset's 256 would cover the
# whole row. A knob, not a shape: the reference has no such setting.
MLM_CHUNK = 32
HPARAMS = dict(learning_rate=1e-5, weight_decay=0.01, grad_clip_norm=1.0)
ADAM = dict(b1=0.9, b2=0.98, eps=1e-6)  # xferjax.train.optimizer.adamw


def load_config(name: str, head: str, scan_layers: bool | None = None):
  from xferjax.models import presets
  preset, overrides = CONFIGS[name]
  family, cfg = presets.load(preset)
  overrides = dict(overrides)
  if head in ("mlm", "text_to_text"):
    overrides["logits_chunk_size"] = MLM_CHUNK
  if scan_layers is not None:
    overrides["scan_layers"] = scan_layers
  return family, dataclasses.replace(cfg, **overrides)


def make_batch(model, head, batch_size, length, target_length, seed=0):
  """Full-length rows (no padding: both sides would do the same work on
  it anyway); MLM weights 15% of the positions as BERT masking does."""
  import numpy as np
  rng = np.random.default_rng(seed)
  vocab = model.cfg.vocab_size
  ids = lambda n: rng.integers(3, vocab, size=(batch_size, n)).astype(
      np.int32)
  if head == "text_to_text":
    targets = ids(target_length)
    inputs = np.concatenate([np.zeros((batch_size, 1), np.int32),
                             targets[:, :-1]], axis=1)
    return {"encoder_input_tokens": ids(length),
            "decoder_input_tokens": inputs, "decoder_target_tokens": targets,
            "decoder_loss_weights": np.ones_like(targets, np.float32)}
  batch = {"input_ids": ids(length),
           "attention_mask": np.ones((batch_size, length), np.int32)}
  if head == "mlm":
    batch["targets"] = ids(length)
    batch["loss_weights"] = (rng.random((batch_size, length)) < 0.15
                             ).astype(np.float32)
  else:
    batch["label"] = rng.integers(0, 3, size=batch_size).astype(np.int32)
  return batch


def build(name, head, batch_size, length, target_length):
  import jax
  from benchmarks import hf_reference, jax_side
  from xferjax import planning
  from xferjax.models import api
  family, cfg = load_config(name, head)
  model = api.build_model(head, 3, family=family, config=cfg)
  batch = make_batch(model, head, batch_size, length, target_length)
  ours = jax_side.JaxSteps(model, dropout=cfg.dropout_rate > 0, **HPARAMS)
  torch_model = hf_reference.hf_model(head, cfg, num_labels=3)
  refs = {"hf": hf_reference.TorchSteps(torch_model, head, **HPARAMS,
                                        **ADAM)}
  if head == "mlm":
    refs["hf+gather"] = hf_reference.TorchSteps(
        torch_model, head, **HPARAMS, **ADAM, gather_masked=True)
  settings = planning.PlanSettings(head=head, num_labels=3,
                                   batch_size=batch_size, length=length,
                                   target_length=target_length)
  flops = planning.model_flops(model, settings)
  n_ours = sum(x.size for x in jax.tree.leaves(ours.state.params))
  n_ref = hf_reference.count_params(torch_model)
  tokens = batch_size * (length + (target_length if head == "text_to_text"
                                   else 0))
  return ours, refs, batch, {"config": name, "head": head,
                             "batch": batch_size, "length": length,
                             "target_length": target_length if
                             head == "text_to_text" else None,
                             "tokens_per_step": tokens,
                             "model_flops_per_step": flops,
                             "params_xferjax": n_ours, "params_hf": n_ref}


def run_case(name, head, args):
  from benchmarks import hf_reference
  ours, refs, batch, info = build(name, head, args.batch, args.length,
                                  args.target_length)
  # HF converts its batch inside the timed call, as xferjax puts its own.
  conv = lambda: hf_reference.torch_batch(head, batch)
  result = dict(info)
  for phase in ("train", "eval"):
    contenders = {"xferjax": (lambda p=phase: getattr(ours, p + "_step")(
        batch))}
    for rname, ref in refs.items():
      contenders[rname] = (lambda p=phase, r=ref: getattr(r, p + "_step")(
          conv()))
    print(f"  {name}:{head} {phase} (load {os.getloadavg()[0]:.2f})",
          flush=True)
    t0 = time.perf_counter()
    times = timing.alternate(contenders, warmup=args.warmup,
                             repeats=args.repeats)
    memory = {n: timing.step_memory(fn) for n, fn in contenders.items()}
    out = {}
    for n, t in times.items():
      out[n] = dict(t.as_dict(), tokens_per_s=info["tokens_per_step"] /
                    t.median, examples_per_s=args.batch / t.median,
                    **memory[n])
      if phase == "train":
        out[n]["achieved_gflops"] = info["model_flops_per_step"] / \
            t.median / 1e9
    for rname in refs:
      out["ratio_vs_" + rname] = times[rname].median / times["xferjax"].median
    out["wall_s"] = time.perf_counter() - t0
    out["load_after"] = os.getloadavg()
    result[phase] = out
    print("    " + ", ".join(f"{k} {v:.2f}x" for k, v in out.items()
                             if k.startswith("ratio")), flush=True)
  return result


def compile_times(name, head, args):
  """Seconds to lower+compile the train step, layers unrolled vs scanned."""
  from benchmarks import jax_side
  from xferjax.models import api
  out = {}
  for scan in (False, True):
    family, cfg = load_config(name, head, scan_layers=scan)
    model = api.build_model(head, 3, family=family, config=cfg)
    steps = jax_side.JaxSteps(model, dropout=cfg.dropout_rate > 0, **HPARAMS)
    batch = make_batch(model, head, args.batch, args.length,
                       args.target_length)
    t0 = time.perf_counter()
    steps.compiled_train(batch)
    out["scan" if scan else "unrolled"] = time.perf_counter() - t0
    print(f"  compile {name}:{head} scan={scan}: "
          f"{out['scan' if scan else 'unrolled']:.1f}s", flush=True)
  return out


def table(results) -> str:
  """The markdown rows of RESULTS.md."""
  rows = ["| case | phase | xferjax tok/s | HF tok/s | ratio | "
          "HF+gather ratio | xferjax median [min-max] s | "
          "HF median [min-max] s | step peak MiB xferjax / HF |",
          "|---|---|---|---|---|---|---|---|---|"]
  fmt = lambda d: f"{d['median_s']:.3f} [{d['min_s']:.3f}-{d['max_s']:.3f}]"
  mib = lambda d: f"{d.get('step_peak_above_resident', 0) / 2**20:.0f}"
  for r in results:
    case = f"{r['config']}:{r['head']} {r['batch']}x{r['length']}"
    for phase in ("train", "eval"):
      p = r[phase]
      gather = (f"{p['ratio_vs_hf+gather']:.2f}x" if "ratio_vs_hf+gather"
                in p else "")
      rows.append(
          f"| {case} | {phase} | {p['xferjax']['tokens_per_s']:.0f} | "
          f"{p['hf']['tokens_per_s']:.0f} | **{p['ratio_vs_hf']:.2f}x** | "
          f"{gather} | {fmt(p['xferjax'])} | {fmt(p['hf'])} | "
          f"{mib(p['xferjax'])} / {mib(p['hf'])} |")
  return "\n".join(rows)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--cases", default="xlmr_base:classification,"
                      "minilm:classification,xlmr_base:mlm,minilm:mlm")
  parser.add_argument("--batch", type=int, default=8)
  parser.add_argument("--length", type=int, default=128)
  parser.add_argument("--target_length", type=int, default=32)
  parser.add_argument("--repeats", type=int, default=7)
  parser.add_argument("--warmup", type=int, default=2)
  parser.add_argument("--threads", type=int, default=0,
                      help="cores for both frameworks (default: all)")
  parser.add_argument("--compile", default="",
                      help="config:head whose compile time to measure")
  parser.add_argument("--json", default="")
  args = parser.parse_args(argv)
  threads = timing.pin_threads(args.threads)
  from xferjax import quiet_tf  # noqa: F401  (quiet TF/absl logging)
  report = {"machine": timing.machine(), "threads": threads,
            "command": " ".join([os.path.basename(sys.executable)] +
                                sys.argv), "load_before": os.getloadavg(),
            "cases": []}
  print(json.dumps(report["machine"]), flush=True)

  def save():  # after each case: a long run keeps what it measured
    report["load_after"] = os.getloadavg()
    timing.save_json(report, args.json)

  if args.compile:
    name, head = args.compile.split(":")
    report["compile_s"] = {args.compile: compile_times(name, head, args)}
    save()
  for case in filter(None, args.cases.split(",")):
    name, head = case.split(":")
    report["cases"].append(run_case(name, head, args))
    save()
  print(table(report["cases"]))
  if args.compile:
    print(json.dumps(report["compile_s"]))


if __name__ == "__main__":
  main()
