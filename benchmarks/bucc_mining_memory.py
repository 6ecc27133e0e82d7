"""Measures BUCC margin mining at full scale: 100k x 100k 768-d embeddings.

Plants known translation pairs (a noisy copy of a source vector) among random
distractors, mines with `retrieval.mine_candidates` (blocked k-NN both ways,
ratio margin, 1:1), tunes the threshold on the planted gold, and prints wall
time, peak resident memory (ru_maxrss) and the F1 as a sanity check.

  .venv/bin/python benchmarks/bucc_mining_memory.py [--n 100000 --dim 768]

The figures go into the docstring of xferjax/evaluation/retrieval.py.
"""

import argparse
import os
import platform
import resource
import time

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


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--n", type=int, default=100_000)
  parser.add_argument("--dim", type=int, default=768)
  parser.add_argument("--pairs", type=int, default=20_000)
  parser.add_argument("--noise", type=float, default=1.0)
  parser.add_argument("--block-size", type=int,
                      default=retrieval.DEFAULT_BLOCK_SIZE)
  args = parser.parse_args()

  source, target, gold = make_corpus(args.n, args.dim, args.pairs, args.noise,
                                     seed=0)
  print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; corpus "
        f"{args.n} x {args.n} x {args.dim} float32; peak RSS after "
        f"generation {peak_rss_gib():.2f} GiB")
  start = time.perf_counter()
  candidates = retrieval.mine_candidates(source, target,
                                         block_size=args.block_size)
  scores = retrieval.candidate_scores(
      candidates, [f"s{i}" for i in range(args.n)],
      [f"t{i}" for i in range(args.n)])
  threshold = retrieval.tune_threshold(scores, gold)
  pairs = retrieval.extract_pairs(scores, threshold)
  wall = time.perf_counter() - start
  f1 = metrics.bucc_f1(list(gold), pairs)
  print(f"mining wall time: {wall:.1f} s; peak RSS: {peak_rss_gib():.2f} GiB; "
        f"block size {args.block_size}")
  print(f"{len(candidates)} candidates, threshold {threshold:.4f}, "
        f"F1 {f1['f1']:.2f} (P {f1['precision']:.2f}, R {f1['recall']:.2f})")


if __name__ == "__main__":
  main()
