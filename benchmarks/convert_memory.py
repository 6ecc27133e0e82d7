"""Peak resident memory of `xferjax convert from-hf` / `to-hf` at full size.

Writes a random Hugging Face checkpoint with the shapes of a shipped preset
(e.g. xlmr_xl: 3.5B parameters, 14 GB of float32 in 2 GiB shards) without
holding it in memory (the streaming safetensors writer), then runs the
conversion, and optionally the export back, each in a fresh process, and
prints wall time and that process's peak RSS (ru_maxrss) next to the model
size and next to the RSS of converting a tiny model (the fixed cost of
importing TensorFlow, JAX and Orbax).

  .venv/bin/python benchmarks/convert_memory.py --preset xlmr_large --export
  .venv/bin/python benchmarks/convert_memory.py --preset xlmr_xl

Needs about 2x (3x with --export) the model size in free disk under --dir;
everything it writes is deleted at the end unless --keep.
"""

import argparse
import dataclasses
import io
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from xferjax.convert import hf_configs, plan, safetensors_io
from xferjax.models import presets

CHILD = """
import resource, sys, time
from xferjax import cli
start = time.time()
code = cli.main(sys.argv[1:])
print("WALL", time.time() - start, "RSS_KB",
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, flush=True)
sys.exit(code)
"""


def xlmr_style_sentencepiece(path: str) -> None:
  import sentencepiece as spm
  proto = io.BytesIO()
  text = [f"word{i} token{i * 7} piece{i * 13}" for i in range(300)]
  spm.SentencePieceTrainer.train(
      sentence_iterator=iter(text), model_writer=proto, vocab_size=200,
      model_type="unigram", unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
      minloglevel=2, num_threads=1, hard_vocab_limit=False)
  with open(path, "wb") as f:
    f.write(proto.getvalue())


def write_random_checkpoint(preset: str, out: str, shard_bytes: int) -> int:
  """A random HF checkpoint of `preset`'s shapes; returns its bytes."""
  family_name, cfg = presets.load(preset)
  cfg = dataclasses.replace(cfg, scan_layers=False)
  family = next(f for f in hf_configs.FAMILIES
                if f.family == family_name and hf_configs.of_config(cfg) is f)
  leaves = plan.model_leaves(family, cfg)
  entries = plan.expand(family, cfg)
  tensors = [safetensors_io.PlannedTensor(
      e.hf, np.dtype(np.float32),
      tuple(e.layout.hf_shape(plan.layer_shape(e, leaves[e.path]))))
             for e in entries]
  rng = np.random.default_rng(0)

  def blocks(t):
    for rows in safetensors_io.blocks_of(t.shape, 4, 64 << 20):
      shape = (rows.stop - rows.start,) + t.shape[1:] if t.shape else ()
      yield t.name, (rng.random(shape, dtype=np.float32) - 0.5) * 0.1

  os.makedirs(out)
  shards = safetensors_io.plan_shards(tensors, shard_bytes)
  for fname, group in shards:
    safetensors_io.write_file(os.path.join(out, fname), group,
                              (b for t in group for b in blocks(t)),
                              {"format": "pt"})
  if len(shards) > 1:
    safetensors_io.write_index(
        os.path.join(out, "model.safetensors.index.json"), shards)
  with open(os.path.join(out, "config.json"), "w") as f:
    json.dump(hf_configs.hf_config_of(family, cfg, None), f)
  xlmr_style_sentencepiece(os.path.join(out, family.vocab_file)) if (
      family.vocab_swap) else _mt5_sentencepiece(out, family)
  return sum(t.nbytes for t in tensors)


def _mt5_sentencepiece(out, family):
  from xferjax.data.vocab import train_sentencepiece
  text = [f"word{i} token{i * 7} piece{i * 13}" for i in range(300)]
  train_sentencepiece(text, os.path.join(out, family.vocab_file), 200)


def run_child(args) -> dict:
  start = time.time()
  done = subprocess.run([sys.executable, "-c", CHILD, *args],
                        capture_output=True, text=True)
  if done.returncode:
    raise SystemExit(done.stderr[-3000:])
  line = [l for l in done.stdout.splitlines() if l.startswith("WALL")][-1]
  parts = line.split()
  return {"wall_s": round(time.time() - start, 1),
          "peak_rss_gib": round(int(parts[3]) / 2**20, 2)}


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--preset", default="xlmr_large")
  ap.add_argument("--dir", default=None)
  ap.add_argument("--shard_gb", type=float, default=2.0)
  ap.add_argument("--export", action="store_true")
  ap.add_argument("--keep", action="store_true")
  args = ap.parse_args()
  root = tempfile.mkdtemp(prefix="convert-bench-", dir=args.dir)
  try:
    report = {"preset": args.preset, "machine": platform.machine(),
              "cpus": os.cpu_count()}
    tiny = os.path.join(root, "tiny_hf")
    write_random_checkpoint("tiny_xlmr", tiny, 1 << 30)
    report["fixed_cost"] = run_child(["convert", "from-hf", "--model", tiny,
                                      "--out", os.path.join(root, "tiny")])
    hf = os.path.join(root, "hf")
    t = time.time()
    size = write_random_checkpoint(args.preset, hf, int(args.shard_gb * 2**30))
    report["model_gib"] = round(size / 2**30, 2)
    report["write_random_s"] = round(time.time() - t, 1)
    ours = os.path.join(root, "ours")
    report["from_hf"] = run_child(["convert", "from-hf", "--model", hf,
                                   "--out", ours])
    shutil.rmtree(hf)
    if args.export:
      report["to_hf"] = run_child(["convert", "to-hf", "--checkpoint", ours,
                                   "--out", os.path.join(root, "back")])
    report["max_rss_children_gib"] = round(resource.getrusage(
        resource.RUSAGE_CHILDREN).ru_maxrss / 2**20, 2)
    print(json.dumps(report, indent=2))
  finally:
    if not args.keep:
      shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
  main()
