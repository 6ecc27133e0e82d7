"""Train-step throughput and MFU of one xferjax model on the local device.

MFU = model FLOPs per step (`xferjax.planning.model_flops`: 6 per weight
and token it multiplies, plus attention scores; counted without the remat
recompute, which is hardware FLOPs, not model FLOPs) / median step time /
the device's peak dense FLOP/s for the compute dtype (PEAK_TFLOPS by
`device_kind`, or `--peak_tflops`). Step times come after warm-up and the
compile, each one waited for (`float(loss)`), with the batch put on the
device inside the timed call as the train loop does.

  .venv/bin/python benchmarks/mfu.py --preset mt5_large --batch 32 \
      --length 512 --target_length 128 [--json out.json]

Used by benchmarks/gpu_1b.sh; on a CPU it runs too (and reports no MFU
unless `--peak_tflops` is given).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import timing  # noqa: E402

# Dense bf16 peak TFLOP/s (vendor datasheets, no sparsity), by the
# substring jax reports in `device.device_kind`.
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0,
               "L4": 121.0, "A10G": 125.0, "V100": 125.0,
               "TPU v4": 275.0, "TPU v5 lite": 197.0, "TPU v5e": 197.0,
               "TPU v5p": 459.0, "TPU v6": 918.0}


def peak_of(kind: str) -> float | None:
  for key in sorted(PEAK_TFLOPS, key=len, reverse=True):
    if key.lower() in kind.lower():
      return PEAK_TFLOPS[key]
  return None


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--preset", default="mt5_large")
  parser.add_argument("--head", default=None,
                      help="default: mlm (encoder), text_to_text (mT5)")
  parser.add_argument("--dtype", default="bfloat16")
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--length", type=int, default=512)
  parser.add_argument("--target_length", type=int, default=128)
  parser.add_argument("--warmup", type=int, default=3)
  parser.add_argument("--repeats", type=int, default=10)
  parser.add_argument("--peak_tflops", type=float, default=None)
  parser.add_argument("--json", default="")
  args = parser.parse_args(argv)
  import jax
  from benchmarks import jax_side, train_eval_vs_hf
  from xferjax import planning
  from xferjax.models import api, presets

  family, cfg = presets.load(args.preset)
  head = args.head or ("text_to_text" if family == "encoder_decoder"
                       else "mlm")
  cfg = dataclasses.replace(cfg, dtype=args.dtype)
  model = api.build_model(head, 3, family=family, config=cfg)
  settings = planning.PlanSettings(head=head, num_labels=3,
                                   batch_size=args.batch, length=args.length,
                                   target_length=args.target_length)
  flops = planning.model_flops(api.build_model(
      head, 3, family=family,
      config=dataclasses.replace(cfg, remat_policy="none")), settings)
  steps = jax_side.JaxSteps(model, dropout=cfg.dropout_rate > 0,
                            **train_eval_vs_hf.HPARAMS)
  batch = train_eval_vs_hf.make_batch(model, head, args.batch, args.length,
                                      args.target_length)
  t0 = time.perf_counter()
  compiled = steps.compiled_train(batch)
  compile_s = time.perf_counter() - t0
  mem = compiled.memory_analysis()
  times = timing.alternate({"xferjax": lambda: steps.train_step(batch)},
                           warmup=args.warmup, repeats=args.repeats)["xferjax"]
  device = jax.devices()[0]
  peak = args.peak_tflops or peak_of(device.device_kind)
  tokens = args.batch * (args.length + (args.target_length
                                        if head == "text_to_text" else 0))
  achieved = flops / times.median
  report = {
      "machine": timing.machine(), "device": device.device_kind,
      "platform": device.platform, "preset": args.preset, "head": head,
      "dtype": args.dtype, "batch": args.batch, "length": args.length,
      "target_length": args.target_length,
      "params": sum(x.size for x in jax.tree.leaves(steps.state.params)),
      "model_flops_per_step": flops, "compile_s": compile_s,
      "step": times.as_dict(), "tokens_per_s": tokens / times.median,
      "achieved_tflops": achieved / 1e12, "peak_tflops": peak,
      "mfu": achieved / (peak * 1e12) if peak else None,
      "xla_temp_gib": mem.temp_size_in_bytes / 2 ** 30 if mem else None,
      "command": " ".join(sys.argv)}
  stats = getattr(device, "memory_stats", lambda: None)()
  if stats:
    report["device_peak_gib"] = stats.get("peak_bytes_in_use", 0) / 2 ** 30
  timing.save_json(report, args.json, echo=True)


if __name__ == "__main__":
  main()
