"""CCGbank `.auto` files: tokens and CCG supertags, plus the tag inventory.

Each sentence is two lines: `ID=wsj_0001.1 PARSER=GOLD NUMPARSE=1` and its
derivation tree, whose leaves read `(<L CAT POS POS word PredArgCat>)`. The
supertag of a token is the leaf's CAT. Supertagging uses a closed label set
built from training data: tags seen fewer than `min_count` times map to one
OOV tag, as is standard (the 425 categories seen >= 10 times in 02-21).
"""

import collections
import dataclasses
import itertools
import re
from typing import Iterable, Iterator, Sequence

from xferjax.data.readers import common
from xferjax.data.readers import layouts
from xferjax.errors import ConfigError, DataError

_LEAF = re.compile(r"\(<L (\S+) (\S+) (\S+) (\S+) (\S+)>\)")
_LEAF_START = "(<L "
DEFAULT_OOV_TAG = "<OOV>"

FEATURES = {"id": common.STRING, "tokens": common.STRINGS,
            "supertags": common.STRINGS, "pos": common.STRINGS}


def read_ccgbank_auto_file(path: str, *, on_error: str = "raise",
                           stats: common.ReadStats | None = None
                          ) -> Iterator[common.Example]:
  """Yields {id, tokens, supertags, pos} per sentence of a .auto file."""
  common.require_file(path)
  return common.parse_each(path, _header_tree_pairs(path), _parse_sentence,
                           on_error=on_error, stats=stats)


def _header_tree_pairs(path: str) -> Iterator[tuple]:
  """Yields ((line, header) | None, (line, tree) | None) per sentence."""
  header = None
  for line_no, line in common.iter_lines(path):
    if not line.strip():
      continue
    if line.startswith("ID="):
      if header is not None:
        yield header, None
      header = (line_no, line)
    else:
      yield header, (line_no, line)
      header = None
  if header is not None:
    yield header, None


def _parse_sentence(pair) -> common.Example:
  header, tree = pair
  if tree is None:
    raise common.MalformedRecord("header without tree",
                                 "next line is not a derivation",
                                 line=header[0])
  line_no, text = tree
  if header is None:
    raise common.MalformedRecord("tree without header",
                                 "no ID= line before this derivation",
                                 line=line_no)
  leaves = _LEAF.findall(text)
  if not leaves or len(leaves) != text.count(_LEAF_START):
    raise common.MalformedRecord(
        "bad leaf",
        f"{text.count(_LEAF_START)} leaves start, {len(leaves)} read as "
        "(<L CAT POS POS word PredArgCat>)", line=line_no)
  sentence_id = header[1].split()[0][len("ID="):]
  return {"id": sentence_id,
          "tokens": [leaf[3] for leaf in leaves],
          "supertags": [leaf[0] for leaf in leaves],
          "pos": [leaf[1] for leaf in leaves]}


def read_ccgbank(data_dir: str, split: str, *, on_error: str = "raise",
                 stats: common.ReadStats | None = None
                ) -> Iterator[common.Example]:
  """CCGbank split by WSJ section (train 02-21, validation 00, test 23)."""
  paths = layouts.get_layout("ccgbank").resolve(data_dir, split)
  return itertools.chain.from_iterable(
      read_ccgbank_auto_file(path, on_error=on_error, stats=stats)
      for path in paths)


# ------------------------------------------------------ supertag inventory ---


@dataclasses.dataclass(frozen=True)
class SupertagInventory:
  """The closed supertag label set; index 0 is the OOV tag."""

  tags: tuple[str, ...]
  _index: dict[str, int] = dataclasses.field(init=False, repr=False,
                                             compare=False)

  def __post_init__(self):
    if not self.tags or len(set(self.tags)) != len(self.tags):
      raise ValueError("supertag inventory needs distinct tags, OOV first")
    object.__setattr__(self, "_index",
                       {tag: i for i, tag in enumerate(self.tags)})

  @property
  def oov_tag(self) -> str:
    return self.tags[0]

  def __len__(self) -> int:
    return len(self.tags)

  def normalize(self, tag: str) -> str:
    """`tag` if in the inventory, else the OOV tag."""
    return tag if tag in self._index else self.oov_tag

  def index(self, tag: str) -> int:
    """Label id of `tag`; unknown tags get the OOV id 0."""
    return self._index.get(tag, 0)

  def save(self, path: str) -> None:
    """One tag per line, OOV first (local or gs://)."""
    common.write_text(path, "".join(tag + "\n" for tag in self.tags))

  @classmethod
  def load(cls, path: str) -> "SupertagInventory":
    tags = tuple(line for _, line in common.iter_lines(path) if line)
    if not tags or len(set(tags)) != len(tags):
      raise DataError(f"{path}: not a supertag inventory (empty or repeated "
                      "tags)", fix="Rebuild it with build_supertag_inventory.")
    return cls(tags)


def build_supertag_inventory(supertag_sequences: Iterable[Sequence[str]], *,
                             min_count: int = 10,
                             oov_tag: str = DEFAULT_OOV_TAG
                            ) -> SupertagInventory:
  """Tags seen >= `min_count` times, most frequent first, after `oov_tag`.

  Build it from the training split only, so dev/test tags never leak into
  the label set.
  """
  if min_count < 1:
    raise ConfigError(f"min_count={min_count} must be >= 1",
                      fix="Use min_count >= 1 (10 is standard).")
  counts = collections.Counter(
      tag for tags in supertag_sequences for tag in tags)
  counts.pop(oov_tag, None)
  kept = sorted((tag for tag, n in counts.items() if n >= min_count),
                key=lambda tag: (-counts[tag], tag))
  return SupertagInventory((oov_tag, *kept))
