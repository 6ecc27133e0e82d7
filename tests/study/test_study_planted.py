"""The analysis on tables with a planted answer (`planted_tables`).

For each scenario, 100 seeded trials: the verdict must be the planted answer
and every planted parameter (the gains below and above the threshold, their
difference, the overall and per-model gains, the saturating curve's A and
B) must lie inside its reported 95% interval in at least 90 of them; the
report's first paragraph must say the right thing. n_boot is 200 here (the
report default is 2000) so that the 300 analyses stay cheap.
"""

import collections

import pytest

from planted_tables import planted_tables, truth_of
from xferjax.study import analysis, report

TRIALS = 100
REQUIRED = 90
N_BOOT = 200
# What "recovering the planted answer" means per scenario, and how the
# report's first paragraph must open for each verdict.
ANSWERS = {
    "saturating": {analysis.SMALLER_ABOVE},
    "not_saturating": {analysis.LARGER_ABOVE, analysis.NO_DIFFERENCE},
    "no_gain": {analysis.NO_GAIN},
}
OPENINGS = {
    analysis.SMALLER_ABOVE: "Yes: in this study the gain from "
                            "intermediate-task training is smaller",
    analysis.LARGER_ABOVE: "No: in this study the gain from intermediate-"
                           "task training is larger, not smaller",
    analysis.NO_DIFFERENCE: "Not shown:",
    analysis.NO_GAIN: "No measurable gain:",
}


def _inside(low, value, high) -> bool:
  return bool(low <= value <= high)


def _trials(scenario):
  truth = truth_of(scenario)
  verdicts, hits, openings = collections.Counter(), collections.Counter(), []
  for trial in range(TRIALS):
    results, examples = planted_tables(scenario, seed=1000 + trial)
    a = analysis.analyze(results, examples,
                         analysis.Options(n_boot=N_BOOT, seed=trial))
    verdicts[a.verdict] += 1
    t = a.threshold
    for name, est, value in (
        ("difference", t.difference, truth.difference),
        ("below", t.gain_below, truth.gain_below),
        ("above", t.gain_above, truth.gain_above),
        ("overall", a.overall, truth.overall)):
      hits[name] += _inside(est.low, value, est.high)
    for r in a.models.itertuples():
      hits[f"gain {r.model}"] += _inside(r.low, truth.models[r.model], r.high)
    for r in a.fits.itertuples():
      hits[f"A {r.model}"] += _inside(r.A_low, truth.a[r.model], r.A_high)
      if truth.a[r.model] != 0:  # with no gain, B is not defined
        hits[f"B {r.model}"] += _inside(r.B_low, truth.b[r.model], r.B_high)
    openings.append((a.verdict, report.answer(a)))
  return verdicts, hits, openings


@pytest.fixture(scope="module", params=sorted(ANSWERS))
def scenario(request):
  return request.param, _trials(request.param)


def test_recovers_planted_answer(scenario):
  name, (verdicts, _, _) = scenario
  right = sum(verdicts[v] for v in ANSWERS[name])
  assert right >= REQUIRED, (name, dict(verdicts))


def test_planted_parameters_inside_intervals(scenario):
  name, (_, hits, _) = scenario
  # 4 models: 4 gains, 4 A's (and 4 B's where A != 0), plus 4 summaries.
  assert len(hits) == (16 if name != "no_gain" else 12), hits
  low = {k: v for k, v in hits.items() if v < REQUIRED}
  assert not low, (name, dict(hits))


def test_first_paragraph_says_the_verdict(scenario):
  name, (_, _, openings) = scenario
  for verdict, text in openings:
    assert text.startswith(OPENINGS[verdict]), (verdict, text[:120])
    assert "95% CI" in text and "5 seeds" in text
  right = [t for v, t in openings if v in ANSWERS[name]]
  assert len(right) >= REQUIRED
