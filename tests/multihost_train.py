"""Trains a tiny model 3 steps as one process of a (possibly) multi-host job;
process 0 prints the losses.

  python tests/multihost_train.py NUM_PROCESSES PROCESS_ID PORT LOCAL_DEVICES

With NUM_PROCESSES > 1 the coordinator is 127.0.0.1:PORT, passed the way a
launcher would (XFERJAX_* environment variables read by
`xferjax.distributed.initialize`). Each process feeds only its own rows of
every global batch; `partitioning.host_local_to_global` assembles them.
"""

import json
import os
import sys

num_processes, process_id, port, local = (int(x) for x in sys.argv[1:5])
os.environ["JAX_PLATFORMS"] = "cpu"
os.environ["JAX_NUM_CPU_DEVICES"] = str(local)
if num_processes > 1:
  os.environ.update(XFERJAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}",
                    XFERJAX_NUM_PROCESSES=str(num_processes),
                    XFERJAX_PROCESS_ID=str(process_id))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "models"))

from xferjax import distributed  # noqa: E402

cluster = distributed.initialize()

import jax  # noqa: E402
import numpy as np  # noqa: E402

from batches import random_batch  # noqa: E402
from xferjax import partitioning  # noqa: E402
from xferjax.models import api, presets  # noqa: E402
from xferjax.train import optimizer as optimizer_lib  # noqa: E402
from xferjax.train import steps, trainer  # noqa: E402

assert jax.process_count() == num_processes, cluster
assert jax.device_count() == 4 and jax.local_device_count() == local
family, cfg = presets.load("tiny_xlmr")
model = api.build_model("classification", 3, family=family, config=cfg)
# fsdp spans both processes: parameters and batch are split across hosts.
partitioner = partitioning.create_partitioner(
    data=1, fsdp=4, tensor=1, rules=partitioning.FSDP_RULES)
prepared = trainer.prepare_model(model, partitioner)
optimizer = optimizer_lib.make_optimizer(1e-3, 10)
shardings = trainer.state_shardings_of(prepared, optimizer)
params = prepared.init_params(0)
state = steps.TrainState(
    jax.device_put(np.int32(0), shardings.step), params,
    jax.jit(optimizer.init, out_shardings=shardings.opt_state)(params))
step = jax.jit(steps.make_train_step(model, optimizer, jax.random.PRNGKey(1)),
               in_shardings=(shardings, None),
               out_shardings=(shardings, None), donate_argnums=0)
losses = []
per_host = 8 // num_processes
for i in range(3):
  batch = random_batch(model, 8, 16, seed=i)
  rows = slice(jax.process_index() * per_host,
               (jax.process_index() + 1) * per_host)
  local_rows = {k: v[rows] for k, v in batch.items()}
  with partitioner.context():
    state, metrics = step(state, partitioning.host_local_to_global(
        local_rows, partitioner))
  losses.append(float(jax.device_get(metrics["loss"])))
if jax.process_index() == 0:
  print("LOSSES=" + json.dumps({"source": cluster.source, "losses": losses}),
        flush=True)
