"""`xferjax launch tpu|slurm|local`: the same `xferjax train|eval|study`
command on every host of a Cloud TPU slice, a SLURM allocation, or N local
processes (see docs/pod.md). Everything a launch needs is checked here,
before anything is created: the job's arguments and gin files, the topology
and its mesh, and the tools (gcloud, sbatch)."""
