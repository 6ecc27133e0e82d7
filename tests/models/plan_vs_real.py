"""Plans a tiny preset on 4 fake devices, then builds and runs the real
thing; prints both as JSON.  python tests/models/plan_vs_real.py"""

import json
import os
import sys

os.environ["JAX_PLATFORMS"] = "cpu"
os.environ["JAX_NUM_CPU_DEVICES"] = "4"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from batches import random_batch  # noqa: E402
from xferjax import partitioning, planning  # noqa: E402
from xferjax.models import api, presets  # noqa: E402
from xferjax.train import optimizer as optimizer_lib  # noqa: E402
from xferjax.train import steps, trainer  # noqa: E402

family, cfg = presets.load("tiny_xlmr")
topology = planning.Topology("test-4", "cpu", 4, 0.001)  # 1 MiB: no fit
partitioner = partitioning.create_partitioner(
    data=2, fsdp=2, tensor=1, rules=partitioning.FSDP_RULES)
settings = planning.PlanSettings(head="mlm", batch_size=32, length=32)
report = planning.plan(family, cfg, topology, partitioner, settings)

# The real program: allocated state, a real batch, the trainer's jit.
model = api.build_model("mlm", family=family, config=cfg)
prepared = trainer.prepare_model(model, partitioner)
optimizer = optimizer_lib.make_optimizer(1e-4, 1000)
shardings = trainer.state_shardings_of(prepared, optimizer)
params = prepared.init_params(0)
state = steps.TrainState(jax.device_put(np.int32(0), shardings.step), params,
                         jax.jit(optimizer.init,
                                 out_shardings=shardings.opt_state)(params))
device0 = jax.devices()[0]
held = lambda tree: sum(s.data.nbytes for x in jax.tree.leaves(tree)
                        for s in x.addressable_shards if s.device == device0)
measured = {"params": held(state.params),
            "optimizer_state": held(state.opt_state)}
batch = partitioning.host_local_to_global(
    random_batch(model, 32, 32), partitioner)
step = jax.jit(steps.make_train_step(model, optimizer, jax.random.PRNGKey(1)),
               in_shardings=(shardings, None),
               out_shardings=(shardings, None), donate_argnums=0)
with partitioner.context():
  compiled = step.lower(state, batch).compile()
  state, metrics = compiled(state, batch)
mem = compiled.memory_analysis()
measured["total"] = (mem.argument_size_in_bytes + mem.output_size_in_bytes -
                     mem.alias_size_in_bytes + mem.temp_size_in_bytes)
measured["loss_finite"] = bool(np.isfinite(float(metrics["loss"])))
print("RESULT=" + json.dumps({"plan": report, "real": measured}))
