"""Times `xferjax plan` for the largest presets on their pod slices (the
issue's bar: under 3 minutes each on a 2-core machine) and prints the fit.

  .venv/bin/python benchmarks/plan_xxl.py
"""

import json
import os
import subprocess
import sys
import time

CASES = [("models/mt5_xxl.gin", "v4-128"), ("models/xlmr_xxl.gin", "v4-64")]
XFERJAX = os.path.join(os.path.dirname(sys.executable), "xferjax")


def main():
  for gin_file, topology in CASES:
    start = time.time()
    proc = subprocess.run([XFERJAX, "plan", f"--gin_file={gin_file}",
                           f"--topology={topology}", "--json"],
                          capture_output=True, text=True, timeout=600)
    wall = time.time() - start
    if proc.returncode:
      print(proc.stderr[-2000:])
      sys.exit(proc.returncode)
    r = json.loads(proc.stdout)
    g = r["per_device_gib"]
    print(f"{gin_file} on {topology}: {wall:.1f} s; per device params "
          f"{g['params']} + optimizer {g['optimizer_state']} + temp "
          f"{g['activations_and_temp']} = {g['total']} GiB of "
          f"{r['hbm_gib']} -> fits={r['fits']}; "
          f"{r['flops_per_step']['total']:.3e} FLOPs/step")


if __name__ == "__main__":
  main()
