"""Shared reader plumbing: line reading, error policy, skip counting."""

import pytest

from xferjax.data.readers import common
from xferjax.data.readers import parallel
from xferjax.errors import ConfigError, DataError


def test_iter_lines_strips_crlf_bom_and_reads_last_line_without_newline(
    tmp_path):
  path = tmp_path / "f.txt"
  path.write_bytes("\ufeffeins\r\nzwei ü\n\n中文".encode("utf-8"))
  assert list(common.iter_lines(str(path))) == [
      (1, "eins"), (2, "zwei ü"), (3, ""), (4, "中文")]


def test_iter_lines_keep_ends_keeps_crlf(tmp_path):
  path = tmp_path / "f.csv"
  path.write_bytes(b"a,b\r\nc,d\r\n")
  assert [l for _, l in common.iter_lines(str(path), keep_ends=True)] == [
      "a,b\r\n", "c,d\r\n"]


def test_iter_lines_names_line_of_invalid_utf8(tmp_path):
  path = tmp_path / "latin1.txt"
  path.write_bytes("ok\nGrüße\n".encode("latin-1"))
  with pytest.raises(DataError, match=r"latin1\.txt:2: not valid UTF-8"):
    list(common.iter_lines(str(path)))


def test_iter_blocks_groups_lines_between_blank_lines(tmp_path):
  path = tmp_path / "blocks.txt"
  path.write_text("a\nb\n\n\nc\n", encoding="utf-8")
  assert list(common.iter_blocks(str(path))) == [
      [(1, "a"), (2, "b")], [(5, "c")]]


def test_read_json_reports_line_of_bad_json(tmp_path):
  path = tmp_path / "bad.json"
  path.write_text('{\n  "data": [\n    {"x": 1,}\n  ]\n}\n', encoding="utf-8")
  with pytest.raises(DataError, match=r"bad\.json:3: bad JSON"):
    common.read_json(str(path))


def test_missing_file_is_data_error(tmp_path):
  with pytest.raises(DataError, match="data file not found"):
    common.require_file(str(tmp_path / "nope.txt"))


def _parse_int(numbered):
  line_no, text = numbered
  if text == "drop":
    raise common.DropRecord("by design")
  if not text.isdigit():
    raise common.MalformedRecord("not a number", repr(text), line=line_no)
  return {"n": int(text)}


def test_parse_each_raise_names_file_and_line():
  records = [(1, "1"), (2, "x")]
  with pytest.raises(DataError) as err:
    list(common.parse_each("f.txt", records, _parse_int, on_error="raise",
                           stats=None))
  assert "f.txt:2: not a number: 'x'" in err.value.message
  assert "on_error='skip'" in err.value.fix


def test_parse_each_skip_counts_malformed_and_dropped_separately():
  stats = common.ReadStats()
  records = [(1, "1"), (2, "x"), (3, "drop"), (4, "y"), (5, "5")]
  examples = list(common.parse_each("f.txt", records, _parse_int,
                                    on_error="skip", stats=stats))
  assert examples == [{"n": 1}, {"n": 5}]
  assert stats.records == 2
  assert stats.skipped == 2
  assert stats.malformed == {"not a number": 2}
  assert stats.dropped == {"by design": 1}
  assert stats.problems[0] == "f.txt:2: not a number: 'x'"
  assert "2 malformed skipped" in stats.summary()


def test_parse_each_rejects_unknown_policy():
  with pytest.raises(ConfigError, match="on_error='ignore'"):
    list(common.parse_each("f", [], _parse_int, on_error="ignore",
                           stats=None))


@pytest.mark.parametrize("value, kind, ok", [
    ("s", str, True), (3, int, True), (True, int, False), (None, str, False),
    ([1], list, True), ("3", int, False)])
def test_json_field_checks_type(value, kind, ok):
  if ok:
    assert common.json_field({"k": value}, "k", kind) == value
  else:
    with pytest.raises(common.MalformedRecord, match="'k' should be"):
      common.json_field({"k": value}, "k", kind, where="here")


def test_write_text_then_read_round_trips_unicode(tmp_path):
  path = str(tmp_path / "sub" / "out.txt")
  common.write_text(path, "Größe\n中文\n")
  assert common.read_text(path) == "Größe\n中文\n"


def test_url_paths_go_through_tf_gfile_like_gs(tmp_path):
  """ram:// is served by tf.io.gfile in-process, as gs:// is remotely."""
  tf = pytest.importorskip("tensorflow")
  root = f"ram://xferjax-readers-test/{tmp_path.name}"
  tf.io.gfile.makedirs(root)
  for name, text in [("tatoeba.deu-eng.deu", "Grüß dich!\r\nJa.\r\n"),
                     ("tatoeba.deu-eng.eng", "Hi!\r\nYes.")]:
    with tf.io.gfile.GFile(f"{root}/{name}", "wb") as f:
      f.write(text.encode("utf-8"))
  pairs = list(parallel.read_tatoeba(root, "test", "de"))
  assert [(p["source"], p["target"]) for p in pairs] == [
      ("Grüß dich!", "Hi!"), ("Ja.", "Yes.")]
  assert common.glob(f"{root}/tatoeba.*.deu") == [f"{root}/tatoeba.deu-eng.deu"]
  with pytest.raises(DataError, match="does not exist"):
    parallel.read_tatoeba(f"{root}/missing", "test", "de")
