"""PAN-X / WikiAnn NER in XTREME's split: `token<TAB>tag` lines per sentence.

Sentences are separated by blank lines. The released files prefix each token
with its language (`en:London`); XTREME's preprocessed copies do not. The
prefix is removed only when it is exactly `<language>:`, so a token that
merely contains a colon (`http://...`, `12:30`) stays intact.
"""

from typing import Iterator

from xferjax.data.readers import common
from xferjax.data.readers import layouts

# The 7 IOB2 tags of PAN-X (persons, organisations, locations).
PANX_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
_TAG_SET = frozenset(PANX_TAGS)

FEATURES = {"tokens": common.STRINGS, "tags": common.STRINGS}


def read_panx_file(path: str, language: str, *, with_tags: bool = True,
                   on_error: str = "raise",
                   stats: common.ReadStats | None = None
                  ) -> Iterator[common.Example]:
  """Yields {"tokens", "tags"} per sentence of a PAN-X file.

  Args:
    path: local or gs:// path.
    language: the file's language code (strips the `<language>:` prefix).
    with_tags: False for XTREME's preprocessed test files, which have one
      column (tokens only); "tags" is then an empty list.
    on_error: "raise" or "skip" (a malformed line skips its sentence).
    stats: optional ReadStats updated with counts.
  """
  common.require_file(path)
  prefix = f"{language}:"
  return common.parse_each(
      path, common.iter_blocks(path),
      lambda block: _parse_sentence(block, prefix, with_tags),
      on_error=on_error, stats=stats)


def _parse_sentence(block: common.Block, prefix: str,
                    with_tags: bool) -> common.Example:
  tokens, tags = [], []
  for line_no, line in block:
    if with_tags:
      if "\t" not in line:
        raise common.MalformedRecord(
            "token/tag count mismatch", f"token {line!r} has no tag",
            line=line_no)
      token, tag = common.split_columns(line, line_no, 2, "token, tag")
      if tag not in _TAG_SET:
        raise common.MalformedRecord(
            "unknown tag",
            f"{tag!r} is not one of {', '.join(PANX_TAGS)}", line=line_no)
      tags.append(tag)
    else:
      (token,) = common.split_columns(line, line_no, 1, "token")
    if token.startswith(prefix):
      token = token[len(prefix):]
    if not token.strip():
      raise common.MalformedRecord("empty token", line=line_no)
    tokens.append(token)
  return {"tokens": tokens, "tags": tags}


def read_panx(data_dir: str, split: str, language: str, *,
              on_error: str = "raise",
              stats: common.ReadStats | None = None
             ) -> Iterator[common.Example]:
  """PAN-X `split` of `language` (released `<lang>-<split>` files first)."""
  (path,) = layouts.get_layout("panx").resolve(data_dir, split, language)
  return read_panx_file(path, language, on_error=on_error, stats=stats)
