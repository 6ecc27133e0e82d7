"""Bad launches fail with a clear message before anything is created (a fake
gcloud/sbatch records every call: there must be none), and a real (non-dry)
TPU and SLURM launch runs the commands the dry run shows, against fakes."""

import pytest

from launch_helpers import calls, fake_tools, launch

TRAIN = ["train", "--gin_file=models/tiny.gin", "--gin_file=runs/finetune.gin",
         "--gin.MODEL_DIR='/mnt/x'", "--gin.TASK='synthetic_nli.en'",
         "--gin.TASK_FEATURE_LENGTHS={'text_a': 14, 'text_b': 7}"]
TPU = ["tpu", "--name=xl", "--zone=us-central2-b"]


@pytest.fixture
def tools(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  return fake_tools(tmp_path, monkeypatch)


@pytest.mark.parametrize("argv,message,fix", [
    (TPU + ["--topology=v4-48", "--"] + TRAIN,
     "unknown topology 'v4-48'", "v4-64"),
    (TPU + ["--topology=gpu-8xh100", "--"] + TRAIN,
     "'gpu-8xh100' is not a Cloud TPU slice", "launch slurm"),
    (TPU + ["--topology=v4-64", "--"] + TRAIN +
     ["--gin.create_partitioner.fsdp=16"],
     "mesh does not fit topology v4-64 (32 devices)", "fsdp=32"),
    (TPU + ["--topology=v4-64", "--", "train", "--gin_file=runs/nope.gin"],
     "gin file 'runs/nope.gin' is not here", "copies local gin files"),
    (TPU + ["--topology=v4-64", "--", "train", "--gin_file=runs/finetune.gin"],
     "required value MODEL_DIR is not set", "--gin.MODEL_DIR"),
    (TPU + ["--topology=v4-64", "--", "plan", "--gin_file=x.gin"],
     "cannot launch 'plan'", "train|eval|study"),
    (TPU + ["--topology=v4-64", "--", "train", "--bogus"],
     "unrecognized arguments: --bogus", "xferjax train --help"),
    (TPU + ["--topology=v4-64"], "no job given", "-- study"),
    (TPU + ["--topology=v4-64", "--wheel=missing.whl", "--"] + TRAIN,
     "--wheel missing.whl is not a wheel file", "pip wheel"),
    (["slurm", "--nodes=2", "--gpus_per_node=8", "--topology=gpu-8xh100",
      "--"] + TRAIN, "topology gpu-8xh100 has 8 devices but 2 node(s) x 8 "
     "GPU(s) has 16", "nothing was created"),
    (["local", "--num_processes=2", "--devices_per_process=2", "--"] + TRAIN +
     ["--gin.create_partitioner.fsdp=3"], "does not divide the 4", "-1"),
    (["slurm", "--cells=0-3", "--"] + TRAIN,
     "--cells is for a study job", "--cell"),
])
def test_bad_launch_is_explained_and_creates_nothing(tools, capsys, argv,
                                                     message, fix):
  code, out, err = launch(capsys, *argv)
  assert code == 2, (out, err)
  assert message in err and fix in err.split("fix:", 1)[1], err
  assert calls(tools) == []  # neither gcloud nor sbatch was called
  assert "Traceback" not in err


@pytest.mark.parametrize("backend,tool", [
    (TPU + ["--topology=v4-8"], "gcloud"), (["slurm"], "sbatch")])
def test_missing_tool_is_reported_before_anything(tmp_path, monkeypatch,
                                                  capsys, backend, tool):
  monkeypatch.chdir(tmp_path)
  monkeypatch.setenv("PATH", str(tmp_path))  # neither gcloud nor sbatch
  code, _, err = launch(capsys, *backend, "--", *TRAIN)
  assert code == 2
  assert f"{tool} is not installed (not found on PATH); nothing was " \
         "created" in err and "--dry-run" in err
  assert not (tmp_path / "xferjax_launch").exists()


def test_tpu_launch_runs_create_install_start_stream_teardown(
    tools, tmp_path, capsys):
  wheel = tmp_path / "xferjax-0.1.0-py3-none-any.whl"
  wheel.write_text("not a real wheel: the fake gcloud only copies it")
  (tmp_path / "stream_codes").write_text("75\n")  # preempted once
  code, out, err = launch(capsys, *TPU, "--topology=v4-64",
                          f"--wheel={wheel}", "--max_restarts=1",
                          "--teardown", "--", *TRAIN)
  assert code == 0, err
  log = calls(tools)
  verbs = [next(w for w in ("describe", "create", "scp", "ssh", "delete")
                if f" {w} " in line) for line in log]
  first = ["describe", "create", "describe", "ssh", "scp", "ssh", "ssh",
           "ssh", "scp"]
  # The restart after exit 75 finds the TPU READY and reuses it.
  again = ["describe", "ssh", "scp", "ssh", "ssh", "ssh", "scp"]
  assert verbs == first + again + ["delete"], log
  assert "preempted (75): restart 1 of 1" in out
  assert all("--worker=all" in line for line in log
             if " scp " in line or "setup.sh" in line or "job.sh" in line)
  staged = tmp_path / "xferjax_launch" / "xl" / "staged"
  job = (staged / "job.sh").read_text()
  assert "xferjax.cli train --gin_file=topologies/v4-64.gin" in job
  assert (tmp_path / "xferjax_launch" / "xl" / "logs").is_dir()


def test_tpu_job_failure_is_the_launch_exit_code(tools, tmp_path, capsys):
  (tmp_path / "state").write_text("READY\n")
  (tmp_path / "stream_codes").write_text("2\n")
  wheel = tmp_path / "xferjax-0.1.0-py3-none-any.whl"
  wheel.write_text("fake")
  code, out, _ = launch(capsys, *TPU, "--topology=v4-8", f"--wheel={wheel}",
                        "--", *TRAIN)
  assert code == 2
  assert "xl is READY: reusing it" in out
  assert "the job failed with exit code 2" in out
  assert not any(" create " in line for line in calls(tools))


def test_slurm_launch_writes_and_submits_with_dependency(tools, tmp_path,
                                                         capsys):
  code, out, err = launch(capsys, "slurm", "--nodes=2", "--", "study",
                          "--gin_file=demo.gin",
                          "--gin.OUTPUT_DIR='/shared/demo'")
  assert code == 0, err
  workdir = tmp_path / "xferjax_launch" / "xferjax"
  script = (workdir / "xferjax.sbatch").read_text()
  assert "#SBATCH --array=0-11" in script and "--cell" in script
  assert calls(tools) == [
      f"sbatch --parsable {workdir}/xferjax.sbatch",
      f"sbatch --parsable --dependency=afterany:4242 "
      f"{workdir}/xferjax-collect.sbatch"]
  assert "submitted job 4242" in out
