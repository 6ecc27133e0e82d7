"""Measures BUCC margin mining at full scale: 100k x 100k 768-d embeddings.

Plants known translation pairs (a noisy copy of a source vector) among random
distractors, mines with `retrieval.mine_candidates` (blocked k-NN both ways,
ratio margin, 1:1), tunes the threshold on the planted gold, and prints wall
time, CPU time, peak resident memory (ru_maxrss of the whole process) and the
F1 as a sanity check, plus the machine and its load (the cores may be shared).

  .venv/bin/python benchmarks/bucc_mining_memory.py [--n 100000 --dim 768]

The figures go into benchmarks/RESULTS_retrieval.md and the docstring of
`xferjax.evaluation.retrieval.mine_candidates`.
"""

import argparse
import datetime
import json
import os
import platform
import resource
import sys
import time

import jax
import numpy as np

from xferjax.evaluation import metrics
from xferjax.evaluation import retrieval


def _unit_rows(x: np.ndarray) -> np.ndarray:
  x /= np.linalg.norm(x, axis=1, keepdims=True)
  return x


def make_corpus(n: int, dim: int, n_pairs: int, noise: float, seed: int):
  """Source and target [n, dim] float32; target row t[i] translates s[p[i]]
  for i < n_pairs, the rest are distractors."""
  rng = np.random.default_rng(seed)
  source = _unit_rows(rng.standard_normal((n, dim), dtype=np.float32))
  target = rng.standard_normal((n, dim), dtype=np.float32)
  partners = rng.permutation(n)[:n_pairs]
  target[:n_pairs] *= noise
  target[:n_pairs] += source[partners] * np.sqrt(dim, dtype=np.float32)
  _unit_rows(target)
  gold = {(f"s{p}", f"t{i}") for i, p in enumerate(partners)}
  return source, target, gold


def peak_rss_gib() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def cpu_seconds() -> float:
  usage = resource.getrusage(resource.RUSAGE_SELF)
  return usage.ru_utime + usage.ru_stime


def machine() -> dict:
  info = {"machine": platform.machine(), "cpus": os.cpu_count(),
          "python": platform.python_version(), "jax": jax.__version__,
          "backend": jax.default_backend()}
  try:
    with open("/proc/cpuinfo") as f:
      info["cpu"] = next(l.split(":", 1)[1].strip() for l in f
                         if l.startswith("model name"))
    with open("/proc/meminfo") as f:
      kib = int(next(l.split()[1] for l in f if l.startswith("MemTotal")))
      info["memory_gib"] = round(kib / 2**20, 1)
  except (OSError, StopIteration):
    pass
  return info


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--n", type=int, default=100_000)
  parser.add_argument("--dim", type=int, default=768)
  parser.add_argument("--pairs", type=int, default=20_000)
  parser.add_argument("--noise", type=float, default=1.0)
  parser.add_argument("--block-size", type=int,
                      default=retrieval.DEFAULT_BLOCK_SIZE)
  parser.add_argument("--json", default=None,
                      help="also write the figures to this JSON file")
  args = parser.parse_args()

  started = datetime.datetime.now(datetime.timezone.utc)
  load_before = os.getloadavg()
  source, target, gold = make_corpus(args.n, args.dim, args.pairs, args.noise,
                                     seed=0)
  rss_inputs = peak_rss_gib()
  print(f"{machine()}; load {load_before}; corpus {args.n} x {args.n} x "
        f"{args.dim} float32; peak RSS after generation {rss_inputs:.2f} GiB",
        flush=True)
  start, cpu_start = time.perf_counter(), cpu_seconds()
  candidates = retrieval.mine_candidates(source, target,
                                         block_size=args.block_size)
  scores = retrieval.candidate_scores(
      candidates, [f"s{i}" for i in range(args.n)],
      [f"t{i}" for i in range(args.n)])
  threshold = retrieval.tune_threshold(scores, gold)
  pairs = retrieval.extract_pairs(scores, threshold)
  wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
  f1 = metrics.bucc_f1(list(gold), pairs)
  result = {
      "date": started.isoformat(timespec="seconds"),
      "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
      **machine(), "n": args.n, "dim": args.dim,
      "block_size": args.block_size, "pairs": args.pairs,
      "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
      "cores_used_on_average": round(cpu / wall, 2),
      "peak_rss_gib": round(peak_rss_gib(), 2),
      "peak_rss_after_inputs_gib": round(rss_inputs, 2),
      "load_before": [round(l, 2) for l in load_before],
      "load_after": [round(l, 2) for l in os.getloadavg()],
      "candidates": len(candidates), "threshold": round(threshold, 4),
      "f1": round(f1["f1"], 2), "precision": round(f1["precision"], 2),
      "recall": round(f1["recall"], 2),
  }
  print(json.dumps(result, indent=2))
  if args.json:
    with open(args.json, "w") as f:
      json.dump(result, f, indent=2)


if __name__ == "__main__":
  main()
