"""xferjax benchmarks against reference implementations (`make bench`)."""
