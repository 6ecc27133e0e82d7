"""The synthetic multilingual world that the default demo studies."""

from xferjax_tasks.synthetic import tasks  # noqa: F401  (registers tasks)
