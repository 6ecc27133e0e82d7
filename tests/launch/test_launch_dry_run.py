"""`--dry-run` of a v4-64 TPU launch and a 2-node SLURM launch: every
command and generated script, checked by content and by `bash -n`; and
nothing is created."""

import re

import pytest

from launch_helpers import check_bash_syntax, launch, printed_files

XL_STUDY = ["study", "--gin_file=sweeps/scaling_xlmr.gin",
            "--gin.Study.model_presets=('models/xlmr_xl.gin',)",
            "--gin.OUTPUT_DIR='/mnt/xferjax/scaling_xl'"]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  return tmp_path


def test_tpu_v4_64_dry_run_prints_every_command(in_tmp, capsys,
                                               monkeypatch):
  user_gin = in_tmp / "mine.gin"
  user_gin.write_text("Study.seeds = (0,)\n")
  (in_tmp / "configs").mkdir()  # a search directory, with a file in it
  (in_tmp / "configs" / "extra.gin").write_text("Study.n_boot = 100\n")
  modules = in_tmp / "src"  # a user module (e.g. registering tasks)
  modules.mkdir()
  (modules / "pod_user_tasks.py").write_text("REGISTERED = True\n")
  monkeypatch.syspath_prepend(str(modules))
  code, out, err = launch(
      capsys, "tpu", "--name=xl", "--zone=us-central2-b", "--topology=v4-64",
      "--project=my-proj", "--teardown", "--dry-run", "--", *XL_STUDY,
      f"--gin_file={user_gin}", "--gin_search_paths=configs",
      "--gin_file=extra.gin", "--module=pod_user_tasks")
  assert code == 0, err
  assert "v4-64, 32 chips on 8 hosts" in out
  scope = "--zone=us-central2-b --project=my-proj"
  expected = [
      "pip wheel --no-deps --no-build-isolation",
      f"gcloud compute tpus tpu-vm describe xl '--format=value(state)' {scope}",
      "gcloud compute tpus tpu-vm create xl --accelerator-type=v4-64 "
      f"--version=tpu-ubuntu2204-base {scope}",
      # The scripts and wheel, then the job's own gin file, to every worker.
      "job.sh", "xferjax-0.1.0-py3-none-any.whl xl:xferjax_runs/xl/ "
      f"--worker=all {scope}",
      f"mine.gin xl:xferjax_runs/xl/mine.gin --worker=all {scope}",
      f"configs xl:xferjax_runs/xl/ --worker=all --recurse {scope}",
      f"src/pod_user_tasks.py xl:xferjax_runs/xl/pod_user_tasks.py "
      f"--worker=all {scope}",
      f"tpu-vm ssh xl --worker=all '--command=bash xferjax_runs/xl/setup.sh'",
      "tpu-vm ssh xl --worker=all '--command=cd xferjax_runs/xl && ",
      "nohup bash job.sh",
      "tpu-vm ssh xl --worker=0 '--command=bash xferjax_runs/xl/stream.sh",
      f"gcloud compute tpus tpu-vm delete xl --quiet {scope}",
  ]
  positions = [out.find(e) for e in expected]
  assert -1 not in positions, [e for e, p in zip(expected, positions)
                               if p == -1]
  assert positions == sorted(positions), "commands out of order"
  files = printed_files(out)
  assert set(files) == {"setup.sh", "job.sh", "stream.sh"}
  for text in files.values():
    check_bash_syntax(text)
  job = files["job.sh"]
  # The same command on every worker: topology first, the copied gin file
  # by its path in the job directory, overrides last.
  assert re.search(r"venv/bin/python -m xferjax\.cli study "
                   r"--gin_file=topologies/v4-64\.gin "
                   r"--gin_file=sweeps/scaling_xlmr\.gin "
                   r"--gin_file=mine\.gin --gin_search_paths=configs "
                   r"--gin_file=extra\.gin --module=pod_user_tasks "
                   r".*OUTPUT_DIR", job), job
  assert 'TPU_ACCELERATOR_TYPE="${TPU_ACCELERATOR_TYPE:-v4-64}"' in job
  assert "agent-worker-number" in job  # each host knows its worker id
  assert '"jax[tpu]==' in files["setup.sh"]
  assert not (in_tmp / "xferjax_launch").exists()  # a dry run writes nothing


def test_tpu_queued_spot_dry_run(in_tmp, capsys):
  code, out, err = launch(
      capsys, "tpu", "--name=xl", "--zone=us-east5-a", "--topology=v5e-16",
      "--queued", "--spot", "--pip_spec=git+https://example.org/xferjax",
      "--dry-run", "--", "train", "--gin_file=models/tiny.gin",
      "--gin_file=runs/finetune.gin", "--gin.MODEL_DIR='/mnt/x'",
      "--gin.TASK='synthetic_nli.en'",
      "--gin.TASK_FEATURE_LENGTHS={'text_a': 14, 'text_b': 7}")
  assert code == 0, err
  assert ("gcloud alpha compute tpus queued-resources create xl --node-id=xl "
          "--accelerator-type=v5litepod-16 --runtime-version=v2-alpha-tpuv5-"
          "lite --spot --zone=us-east5-a") in out
  assert "queued-resources describe xl '--format=value(state.state)'" in out
  assert "pip wheel" not in out  # installed from the spec instead
  assert "git+https://example.org/xferjax" in printed_files(out)["setup.sh"]


STUDY = ["study", "--gin_file=demo.gin", "--gin.OUTPUT_DIR='/shared/demo'"]


def test_slurm_two_nodes_dry_run_is_an_array_over_cells(in_tmp, capsys):
  code, out, err = launch(
      capsys, "slurm", "--nodes=2", "--gpus_per_node=8", "--partition=gpu",
      "--time=12:00:00", "--max_parallel=4",
      "--setup=source /shared/venv/bin/activate", "--python=python",
      "--dry-run", "--", *STUDY)
  assert code == 0, err
  files = printed_files(out)
  script, collect = files["xferjax.sbatch"], files["xferjax-collect.sbatch"]
  for text in (script, collect):
    check_bash_syntax(text)
  for line in ("#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=1",
               "#SBATCH --gpus-per-node=8", "#SBATCH --partition=gpu",
               "#SBATCH --time=12:00:00",
               "#SBATCH --array=0-11%4",  # demo.gin has 12 cells
               "#SBATCH --signal=TERM@300", "#SBATCH --requeue",
               "source /shared/venv/bin/activate",
               "export XFERJAX_COORDINATOR_PORT=$((20000 + SLURM_JOB_ID",
               "srun --label --kill-on-bad-exit=1 --ntasks-per-node=1",
               "python -m xferjax.cli study --gin_file=demo.gin",
               '--cell "$SLURM_ARRAY_TASK_ID"', 'scontrol requeue'):
    assert line in script, line
  assert "%x-%A_%a.out" in script
  assert "#SBATCH --nodes=1" in collect and "--collect" in collect
  assert "--array" not in collect and "srun" not in collect
  assert re.search(r"\nsbatch --parsable \S+/xferjax\.sbatch\n", out)
  assert "sbatch --parsable '--dependency=afterany:<job id>' " in out
  assert not (in_tmp / "xferjax_launch").exists()


def test_slurm_train_job_is_one_multi_node_step(in_tmp, capsys):
  code, out, err = launch(
      capsys, "slurm", "--nodes=2", "--gpus_per_node=8", "--dry-run", "--",
      "train", "--gin_file=models/tiny.gin", "--gin_file=runs/finetune.gin",
      "--gin.MODEL_DIR='/shared/run'", "--gin.TASK='synthetic_nli.en'",
      "--gin.TASK_FEATURE_LENGTHS={'text_a': 14, 'text_b': 7}")
  assert code == 0, err
  files = printed_files(out)
  assert set(files) == {"xferjax.sbatch"}  # no array, no collect job
  script = files["xferjax.sbatch"]
  assert "--array" not in script and "--cell" not in script
  assert "xferjax.cli train --gin_file=models/tiny.gin" in script
  assert "%x-%j.out" in script


def test_local_dry_run_shows_each_process_environment(capsys):
  code, out, err = launch(
      capsys, "local", "--num_processes=2", "--devices_per_process=2",
      "--port=12345", "--dry-run", "--", "train",
      "--gin_file=models/tiny.gin", "--gin_file=runs/finetune.gin",
      "--gin.MODEL_DIR='/tmp/x'", "--gin.TASK='synthetic_nli.en'",
      "--gin.TASK_FEATURE_LENGTHS={'text_a': 14, 'text_b': 7}")
  assert code == 0, err
  for i in range(2):
    assert (f"XFERJAX_COORDINATOR_ADDRESS=127.0.0.1:12345 "
            f"XFERJAX_NUM_PROCESSES=2 XFERJAX_PROCESS_ID={i}") in out
  assert out.count("--xla_force_host_platform_device_count=2") == 2
