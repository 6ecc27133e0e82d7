"""CoNLL-U (Universal Dependencies v2.5): tokens and UPOS tags per sentence.

Only syntactic words are kept: comment lines (`#`), multiword-token ranges
(`1-2`) and empty nodes (`8.1`) are skipped, so tokens and UPOS tags always
line up. Sentences whose text is withheld by the treebank licence (forms
written "_", e.g. UD_Arabic-NYUAD) are dropped and counted, with XTREME's
rule, because they carry tags but no words.
"""

import itertools
import os
from typing import Iterator

from xferjax.data.readers import common
from xferjax.data.readers import layouts

# The 17 universal part-of-speech tags of UD v2.
UPOS_TAGS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN",
             "NUM", "PART", "PRON", "PROPN", "PUNCT", "SCONJ", "SYM", "VERB",
             "X")
_UPOS_SET = frozenset(UPOS_TAGS)
_COLUMNS = "ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC"

FEATURES = {
    "sent_id": common.STRING,
    "treebank": common.STRING,
    "text": common.STRING,
    "tokens": common.STRINGS,
    "upos": common.STRINGS,
}


def read_conllu_file(path: str, *, on_error: str = "raise",
                     stats: common.ReadStats | None = None
                    ) -> Iterator[common.Example]:
  """Yields one dict per sentence of a .conllu file."""
  common.require_file(path)
  treebank = os.path.basename(path).split("-ud-")[0]
  return common.parse_each(
      path, common.iter_blocks(path),
      lambda block: _parse_sentence(block, path, treebank),
      on_error=on_error, stats=stats)


def _parse_sentence(block: common.Block, path: str,
                    treebank: str) -> common.Example:
  sent_id = f"{os.path.basename(path)}:{block[0][0]}"
  text = ""
  tokens, upos = [], []
  for line_no, line in block:
    if line.startswith("#"):
      key, _, value = line[1:].partition("=")
      if key.strip() == "sent_id":
        sent_id = value.strip()
      elif key.strip() == "text":
        text = value.strip()
      continue
    columns = common.split_columns(line, line_no, 10, _COLUMNS)
    token_id = columns[0]
    if "-" in token_id or "." in token_id:
      continue  # Multiword-token range or empty node.
    if not token_id.isdigit() or int(token_id) != len(tokens) + 1:
      raise common.MalformedRecord(
          "bad token id",
          f"expected ID {len(tokens) + 1}, found {token_id!r}", line=line_no)
    if columns[3] not in _UPOS_SET:
      raise common.MalformedRecord(
          "unknown UPOS tag",
          f"{columns[3]!r} is not one of the 17 UPOS tags", line=line_no)
    tokens.append(columns[1])
    upos.append(columns[3])
  if not tokens:
    raise common.MalformedRecord("sentence without tokens",
                                 line=block[0][0])
  withheld = sum(token == "_" for token in tokens)
  if withheld and withheld >= len(tokens) - 1:
    raise common.DropRecord("text withheld (forms are '_')")
  return {"sent_id": sent_id, "treebank": treebank, "text": text,
          "tokens": tokens, "upos": upos}


def read_udpos(data_dir: str, split: str, language: str, *,
               on_error: str = "raise",
               stats: common.ReadStats | None = None
              ) -> Iterator[common.Example]:
  """UD-POS as in XTREME: every v2.5 treebank of `language`, in name order."""
  paths = layouts.get_layout("udpos").resolve(data_dir, split, language)
  return itertools.chain.from_iterable(
      read_conllu_file(path, on_error=on_error, stats=stats)
      for path in paths)
