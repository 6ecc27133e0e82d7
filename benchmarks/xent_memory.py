"""Memory of the 250k-vocabulary output layer: plain vs fused cross-entropy.

The loss and its gradients (hidden states, tied kernel, bias) of one MLM
batch on XLM-R's output layer (vocab 250002, d 768, vocab-major kernel), by
the plain path (full `[B, L, V]` fp32 logits, autodiff) and by
`xferjax.models.fused_cross_entropy` (chunks, only where a target is
weighted). Reported per path: XLA's compiled temporary buffer size (what the
step allocates beyond its arguments and outputs, from `memory_analysis`),
the measured peak resident memory one call adds (`timing.step_memory`), the
median step time, and the largest gradient difference between the two.

  .venv/bin/python benchmarks/xent_memory.py [--batch 8 --length 512
      --chunk 128 --mask 0.15] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import timing  # noqa: E402


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--batch", type=int, default=8)
  parser.add_argument("--length", type=int, default=512)
  parser.add_argument("--vocab", type=int, default=250002)
  parser.add_argument("--d_model", type=int, default=768)
  parser.add_argument("--chunk", type=int, default=128)
  parser.add_argument("--mask", type=float, default=0.15,
                      help="fraction of weighted positions (1.0: all)")
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--json", default="")
  args = parser.parse_args(argv)
  timing.pin_threads(0)
  import jax
  import jax.numpy as jnp
  import numpy as np
  from xferjax.models import fused_cross_entropy, losses
  from xferjax.models.projection import ProjectedHidden

  rng = np.random.default_rng(0)
  b, l, d, v = args.batch, args.length, args.d_model, args.vocab
  hidden = jnp.asarray(rng.normal(size=(b, l, d)), jnp.float32)
  kernel = jnp.asarray(rng.normal(size=(v, d)) * 0.02, jnp.float32)
  bias = jnp.zeros((v,), jnp.float32)
  targets = jnp.asarray(rng.integers(0, v, size=(b, l)), jnp.int32)
  weights = jnp.asarray(rng.random((b, l)) < args.mask, jnp.float32)

  def plain(h, k, bb):
    proj = ProjectedHidden(hidden=h, kernel=k, bias=bb, vocab_major=True)
    ce, _ = losses.token_cross_entropy(proj, targets)
    return jnp.sum(ce * weights)

  def fused(h, k, bb):
    proj = ProjectedHidden(hidden=h, kernel=k, bias=bb, vocab_major=True,
                           chunk_size=args.chunk)
    return fused_cross_entropy.weighted_sums(proj, targets, weights)[0]

  report = {"machine": timing.machine(), "args": vars(args),
            "logits_gib_fp32": b * l * v * 4 / 2 ** 30, "paths": {}}
  grads = {}
  for name, fn in (("plain", plain), ("fused", fused)):
    step = jax.jit(jax.value_and_grad(fn, argnums=(0, 1, 2)))
    compiled = step.lower(hidden, kernel, bias).compile()
    mem = compiled.memory_analysis()
    run = lambda: jax.block_until_ready(compiled(hidden, kernel, bias))
    grads[name] = run()
    times = timing.alternate({name: run}, warmup=0, repeats=args.repeats,
                             log=lambda s: None)[name]
    measured = timing.step_memory(run)
    report["paths"][name] = {
        "xla_temp_gib": mem.temp_size_in_bytes / 2 ** 30 if mem else None,
        "step_peak_above_resident_gib":
            measured.get("step_peak_above_resident", 0) / 2 ** 30,
        "median_s": times.median, "min_s": times.spread[0],
        "max_s": times.spread[1]}
    print(name, json.dumps(report["paths"][name]), flush=True)
  (lp, gp), (lf, gf) = grads["plain"], grads["fused"]
  report["loss_rel_diff"] = float(abs(lf - lp) / abs(lp))
  report["grad_max_abs_diff"] = [float(jnp.max(jnp.abs(a - c)))
                                 for a, c in zip(gf, gp)]
  timing.save_json(report, args.json, echo=True)


if __name__ == "__main__":
  main()
