"""One process of a multi-host job taking a study phase's lock.

  python tests/launch/multihost_lock.py RUN_DIR

The coordinator comes from the XFERJAX_* variables `launch local` sets.
Prints WAITING before the lock and ENTERED {json} once inside, after a
collective that needs every process (which deadlocks if only some of them
get in).
"""

import json
import sys
import time

from xferjax import distributed

distributed.initialize()

import jax  # noqa: E402
import numpy as np  # noqa: E402
from jax.experimental import multihost_utils  # noqa: E402

from xferjax.study import locking  # noqa: E402

print("WAITING", flush=True)
with locking.run_dir_lock(sys.argv[1]):
  entered = time.time()
  ids = multihost_utils.process_allgather(np.int32(jax.process_index()))
print("ENTERED " + json.dumps({"process": jax.process_index(),
                               "entered": entered,
                               "all": sorted(int(i) for i in ids)}),
      flush=True)
