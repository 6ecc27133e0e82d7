"""SeqIO task and mixture registrations shipped with xferjax.

Importing this package registers every task; `xferjax tasks list` shows them.
Installed as `xferjax_tasks` so the name cannot clash with a user's `tasks`.
"""

from xferjax_tasks import synthetic  # noqa: F401
