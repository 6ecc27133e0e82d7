#!/usr/bin/env bash
# One command on a GPU machine: the ~1B (mT5-large, 1.2B parameters) bf16
# train-step benchmark with its MFU against the GPU's peak, written to
# benchmarks/results/gpu_1b_<device>.json for benchmarks/RESULTS.md.
#
#   bash benchmarks/gpu_1b.sh            # installs jax[cuda12] into .venv-gpu
#   BATCH=16 bash benchmarks/gpu_1b.sh   # a smaller batch if it does not fit
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv-gpu}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet -e . "jax[cuda12]==$(python3 -c \
    'import re;print(re.search(r"jaxlib==([0-9.]+)", open("setup.py").read())[1])')"
fi
"$VENV/bin/python" -c 'import jax; d = jax.devices()[0]; assert d.platform == "gpu", d; print(d.device_kind)'
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv || true
mkdir -p benchmarks/results
KIND=$("$VENV/bin/python" -c 'import jax; print(jax.devices()[0].device_kind.replace(" ", "_"))')
"$VENV/bin/python" benchmarks/mfu.py --preset mt5_large --dtype bfloat16 \
  --batch "${BATCH:-32}" --length "${LENGTH:-512}" \
  --target_length "${TARGET_LENGTH:-128}" --warmup 3 --repeats 10 \
  --json "benchmarks/results/gpu_1b_${KIND}.json"
