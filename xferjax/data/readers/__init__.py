"""Readers for the official file formats of datasets TFDS does not serve.

Each format module turns files (local or gs://) into plain dict examples and
declares their `FEATURES`; `layouts` knows where each dataset's files live and
where to download them; `seqio_source` turns any reader into a SeqIO source.
Malformed records raise `xferjax.errors.DataError` naming file and line, or
are skipped and counted in a `ReadStats` with on_error="skip".
"""

from xferjax.data.readers.common import ReadStats
