"""Multi-host: 2 processes x 2 CPU devices train like 1 process x 4."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from xferjax import distributed, errors

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "multihost_train.py")


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _start(num_processes, process_id, port, local):
  env = {k: v for k, v in os.environ.items()
         if not k.startswith(("XFERJAX_COORDINATOR", "XFERJAX_NUM_PROC",
                              "XFERJAX_PROCESS", "SLURM_", "TPU_"))}
  return subprocess.Popen(
      [sys.executable, SCRIPT, str(num_processes), str(process_id),
       str(port), str(local)], stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, text=True, env=env)


def _result(proc):
  out, err = proc.communicate(timeout=600)
  assert proc.returncode == 0, err[-3000:]
  lines = [l for l in out.splitlines() if l.startswith("LOSSES=")]
  return json.loads(lines[-1][len("LOSSES="):]) if lines else None


def test_two_processes_train_like_one():
  port = _free_port()
  procs = [_start(2, i, port, 2) for i in range(2)]
  single = _result(_start(1, 0, 0, 4))
  two = [_result(p) for p in procs]
  assert two[1] is None  # only process 0 reports
  assert two[0]["source"] == "explicit" and single["source"] == "single"
  assert len(single["losses"]) == 3
  np.testing.assert_allclose(two[0]["losses"], single["losses"], atol=1e-5,
                             rtol=0)
  assert len(set(np.round(single["losses"], 5))) == 3  # it trained


def test_cluster_resolution_from_the_environment():
  assert distributed.resolve({}).source == "single"
  c = distributed.resolve({"XFERJAX_COORDINATOR_ADDRESS": "h:1234",
                           "XFERJAX_NUM_PROCESSES": "4",
                           "XFERJAX_PROCESS_ID": "3"})
  assert (c.source, c.coordinator_address, c.num_processes,
          c.process_id) == ("explicit", "h:1234", 4, 3)
  slurm = distributed.resolve({"SLURM_JOB_ID": "7", "SLURM_NTASKS": "2",
                               "SLURM_PROCID": "1",
                               "SLURM_JOB_NODELIST": "gpu[03-04,9]"})
  assert (slurm.source, slurm.coordinator_address, slurm.num_processes,
          slurm.process_id) == ("slurm", "gpu03:8476", 2, 1)
  one_task = {"SLURM_JOB_ID": "7", "SLURM_NTASKS": "1", "SLURM_PROCID": "0"}
  assert distributed.resolve(one_task).source == "single"
  assert distributed.resolve(
      {"TPU_WORKER_HOSTNAMES": "t0,t1,t2,t3"}).source == "tpu_vm"
  assert distributed.first_host("node1") == "node1"


@pytest.mark.parametrize("env,match", [
    ({"XFERJAX_COORDINATOR_ADDRESS": "h:1"}, r"\['num_processes', "
     r"'process_id'\] are not"),
    ({"XFERJAX_COORDINATOR_ADDRESS": "h:1", "XFERJAX_NUM_PROCESSES": "2",
      "XFERJAX_PROCESS_ID": "2"}, "not in 0..1"),
    ({"XFERJAX_COORDINATOR_ADDRESS": "h", "XFERJAX_NUM_PROCESSES": "2",
      "XFERJAX_PROCESS_ID": "0"}, "has no port"),
    ({"XFERJAX_NUM_PROCESSES": "two"}, "not an integer"),
])
def test_bad_multihost_settings_are_explained(env, match):
  with pytest.raises(errors.ConfigError, match=match):
    distributed.resolve(env)
