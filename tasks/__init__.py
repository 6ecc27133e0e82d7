"""SeqIO task and mixture registrations shipped with xferjax.

Importing this package registers every task; `xferjax tasks list` shows them.
Installed as `xferjax_tasks` so the name cannot clash with a user's `tasks`.
Registration reads no data, model or TFDS metadata: sources and
vocabularies resolve their gin paths when first used.

  synthetic      the demo's synthetic world
  intermediate   English intermediate tasks and their size ladders
  xtreme         the nine XTREME target tasks in every language
  mixtures       the intermediate multi-task mixture and its ladders
"""

from xferjax_tasks import synthetic  # noqa: F401
from xferjax_tasks import intermediate  # noqa: F401
from xferjax_tasks import xtreme  # noqa: F401
from xferjax_tasks import mixtures  # noqa: F401
