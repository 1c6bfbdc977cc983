"""Keel's drift rule and its statistics (components/monitoring): hand-computed values, scipy agreement, the
decision on clean and shifted samples (large clean samples must not alarm), the offline report."""

from __future__ import annotations

import html
import math
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from components.config.monitor import MonitorConfig
from components.monitoring import drift as D
from components.monitoring import rule as R
from components.monitoring import stats as S
from components.monitoring.drift import DriftMonitor
from components.monitoring.rule import DriftResult


def _normal_frame(n: int, seed: int, shift: dict[str, float] | None = None, cols: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({f"c{i}": rng.normal(0, 1, n) for i in range(cols)})
    for c, s in (shift or {}).items():
        df[c] += s
    return df


# ---------------------------------------------------------------- hand-computed statistics


def test_psi_hand_computed():
    # edges: the reference median 2.5 -> bins (<=2.5, >2.5); reference [0.5, 0.5], current [0.75, 0.25]
    value, edges, r, c = S.psi(np.array([1.0, 2, 3, 4]), np.array([1.0, 1, 1, 4]), bins=2)
    assert edges.tolist() == [2.5] and r.tolist() == [0.5, 0.5] and c.tolist() == [0.75, 0.25]
    assert value == pytest.approx(0.25 * math.log(1.5) + 0.25 * math.log(2.0), abs=1e-12)  # 0.274653
    assert S.psi(np.arange(100.0), np.arange(100.0))[0] == 0.0


def test_psi_point_mass_keeps_its_own_bin():
    # 80 % zeros: every inner quantile up to 0.8 is 0, so the bin (<=0] holds exactly the zeros
    ref = np.r_[np.zeros(80), np.arange(1.0, 21.0)]
    value, edges, r, _ = S.psi(ref, ref + 0.0)
    assert edges[0] == 0 and r[0] == pytest.approx(0.8) and value == 0.0
    assert S.psi(ref, np.ones(100))[0] > 1.0  # the zeros disappear: large PSI


def test_js_distance_hand_computed():
    assert S.js_distance(np.array([1, 0]), np.array([0, 1])) == pytest.approx(1.0)
    assert S.js_distance(np.array([3, 7]), np.array([30, 70])) == pytest.approx(0.0, abs=1e-12)
    # p = (.5, .5), q = (1, 0), m = (.75, .25): JSD = (KL(p|m) + KL(q|m)) / 2 in bits
    kl_p = 0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(0.5 / 0.25)
    kl_q = math.log2(1 / 0.75)
    assert S.js_distance(np.array([1, 1]), np.array([2, 0])) == pytest.approx(math.sqrt((kl_p + kl_q) / 2))


def test_holm_and_bh_hand_computed():
    assert S.holm([0.01, 0.04, 0.03]).tolist() == pytest.approx([0.03, 0.06, 0.06])
    assert S.benjamini_hochberg([0.01, 0.04, 0.03]).tolist() == pytest.approx([0.03, 0.04, 0.04])
    assert S.holm([0.5, 0.9]).max() <= 1.0


@pytest.mark.parametrize("n,m,discrete", [(300, 200, False), (500, 20_000, True), (12_000, 15_000, False)])
def test_ks_wasserstein_matches_scipy(n, m, discrete):
    rng = np.random.default_rng(n)
    a, b = rng.normal(0, 1, n), rng.normal(0.1, 1.2, m)
    if discrete:
        a, b = np.round(a * 3), np.round(b * 3)
    d, p, w = S.ks_wasserstein(np.sort(a), b)
    ref = stats.ks_2samp(a, b)
    assert d == pytest.approx(ref.statistic, abs=1e-12) and p == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-300)
    assert w == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9)


def test_categorical_counts_and_chi2():
    cats, rc, cc = S.categorical_counts(["a", "a", "b"], ["b", "c"])
    assert cats == ["a", "b", "c"] and rc.tolist() == [2, 1, 0] and cc.tolist() == [0, 1, 1]
    stat, p = S.chi2_counts(np.array([50.0, 50]), np.array([50.0, 50]))
    assert stat == 0.0 and p == pytest.approx(1.0)


# ---------------------------------------------------------------- decisions


def test_identical_samples_never_alarm():
    df = _normal_frame(500, 0).assign(cat=np.random.default_rng(1).choice(["x", "y", "z"], 500))
    emb = np.random.default_rng(2).normal(size=(500, 8))
    pred = np.random.default_rng(3).integers(0, 3, 500)
    res = DriftMonitor().fit(df, emb, pred).check(df, emb, pred)
    assert not res.drift and res.fired == []
    cols = [t for t in res.tests if t.family == R.COLUMNS]
    assert all(t.effect == 0 and t.p_value == pytest.approx(1.0) for t in cols)
    assert {t.test for t in res.tests} == {"ks", "chi2", "domain_classifier", "mmd", "prediction_chi2"}


def test_large_clean_sample_does_not_alarm_while_p_is_small():
    """200k vs 200k. Same distribution: no alarm. A negligible shift (0.02 sd) makes the KS p-value tiny
    (~4e-9) but the effect (D ~ 0.01) is far below its threshold: still no alarm (evidently#50)."""
    ref = _normal_frame(200_000, 10, cols=3)
    mon = DriftMonitor().fit(ref)
    same = mon.check(_normal_frame(200_000, 11, cols=3))
    assert not same.drift
    tiny = mon.check(_normal_frame(200_000, 12, shift={"c1": 0.02}, cols=3))
    t = next(t for t in tiny.tests if t.target == "c1")
    assert t.p_value < 1e-6 and t.p_adjusted < 1e-6  # "significant" (p ~ 4e-9)
    assert t.effect < 0.02 < MonitorConfig().ks_min
    assert not tiny.drift, tiny.summary_table()


def test_shifted_column_alarms_and_is_named():
    ref = _normal_frame(1000, 20, cols=6)
    res = DriftMonitor().fit(ref).check(_normal_frame(500, 21, shift={"c4": 1.0}, cols=6))
    assert res.drift
    assert [f for f in res.fired if f.startswith("column:")] == ["column:c4"]
    assert res.summary_table().startswith("DRIFT: 1 column(s) [c4]")


def test_effect_below_threshold_or_p_above_alpha_does_not_fire():
    base = dict(target="x", family=R.COLUMNS, statistic=0.5, effect_name="ks", effect=0.5, threshold=0.1,
                n_reference=10, n_current=10, extra={"ks_d": 0.05, "wasserstein_norm": 0.0, "psi": 0.0})
    t_small = R.TestResult(test="ks", p_value=1e-30, **base)  # significant, but D = 0.05 < ks_min
    t_big = R.TestResult(test="ks", p_value=0.2, **{**base, "extra": {"ks_d": 0.5, "wasserstein_norm": 0,
                                                                      "psi": 0}})  # big, not significant
    out = R.decide([t_small, t_big], MonitorConfig())
    assert [t.drift for t in out] == [False, False]
    assert R.decide([t_small], MonitorConfig(ks_min=0.04))[0].drift


def test_holm_split_keeps_multivariate_tests_reachable():
    """64 columns must not push the embedding test's permutation p (min 1/501) out of reach."""
    cols = [R.TestResult(test="ks", target=f"c{i}", family=R.COLUMNS, statistic=0, p_value=0.5, effect_name="ks",
                         effect=0, threshold=0.1, n_reference=1, n_current=1,
                         extra={"ks_d": 0, "wasserstein_norm": 0, "psi": 0}) for i in range(64)]
    mmd = R.TestResult(test="mmd", target="embedding", family=R.MULTI, statistic=0.1, p_value=1 / 501,
                       effect_name="mmd2", effect=0.1, threshold=0.01, n_reference=1, n_current=1)
    out = R.decide(cols + [mmd], MonitorConfig())
    assert out[-1].drift and out[-1].p_adjusted == pytest.approx(1 / 501)


def test_mmd_permutation_p_is_uniformish_under_the_null():
    rng = np.random.default_rng(0)
    ps = np.array([S.mmd_test(rng.normal(size=(30, 3)), rng.normal(size=(30, 3)), permutations=99, seed=i)[1]
                   for i in range(60)])
    assert stats.kstest(ps, "uniform").pvalue > 0.01
    assert 0.0 <= np.mean(ps < 0.1) <= 0.25
    shifted = S.mmd_test(rng.normal(size=(100, 3)), rng.normal(size=(100, 3)) + 1.0, permutations=99)
    assert shifted[1] == pytest.approx(0.01) and shifted[0] > 0.1


def test_domain_classifier_null_and_shift():
    rng = np.random.default_rng(5)
    auc, p, _, _ = S.domain_classifier(rng.normal(size=(400, 5)), rng.normal(size=(400, 5)))
    assert auc < 0.6 and p > 0.01
    auc, p, _, _ = S.domain_classifier(rng.normal(size=(400, 5)), rng.normal(size=(400, 5)) + [1, 0, 0, 0, 0])
    assert auc > 0.7 and p < 1e-6


def test_prediction_and_performance_drift():
    rng = np.random.default_rng(7)
    ref_pred = rng.integers(0, 4, 2000)
    df = _normal_frame(2000, 8, cols=2)
    mon = DriftMonitor().fit(df, predictions=ref_pred)
    cur_pred = np.r_[np.zeros(500, int), rng.integers(0, 4, 500)]  # class 0: 25 % -> 62 %
    labels = np.where(rng.random(1000) < 0.7, cur_pred, (cur_pred + 1) % 4)  # 70 % accurate vs test 0.9
    res = mon.check(_normal_frame(1000, 9, cols=2), predictions=cur_pred, labels=labels, test_score=0.9)
    assert "prediction" in res.fired and "performance:accuracy" in res.fired
    perf = next(t for t in res.tests if t.test == "performance")
    assert perf.extra["ci_high"] < 0.9 and perf.effect == pytest.approx(0.9 - perf.statistic)
    ok = D.performance_test(labels, labels, 0.9)  # a perfect window does not "degrade"
    assert not ok.drift and ok.effect < 0


def test_result_json_round_trip_and_report_is_offline(tmp_path):
    from components.monitoring.report import to_html, write_report

    ref = _normal_frame(300, 30).assign(cat=np.random.default_rng(1).choice(["x", "y"], 300))
    cur = _normal_frame(300, 31, shift={"c0": 2.0}).assign(cat="x")
    res = DriftMonitor().fit(ref).check(cur)
    assert res.drift and {"column:c0", "column:cat"} <= set(res.fired)
    paths = write_report(res, tmp_path)
    page = paths["html"].read_text()
    assert "<svg" in page and "<script" not in page and "http://" not in page and "https://" not in page
    assert "<link" not in page and html.escape(res.fired_brief(columns=20)) in page
    again = DriftResult.model_validate_json(paths["json"].read_text())
    assert again.fired == res.fired and len(again.tests) == len(res.tests)
    assert "DRIFT" in paths["text"].read_text().splitlines()[0]
    assert "&lt;b&gt;" in to_html(res.model_copy(update={"fired": ["<b>"]}))  # names are escaped
    assert res.fired_brief() == "2 column(s) [c0, cat]" or res.fired_brief().startswith("2 column(s) [c0, cat]; ")


def test_report_renders_in_headless_chromium_with_every_host_unresolvable(tmp_path):
    if shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from components.monitoring.report import write_report

    res = DriftMonitor().fit(_normal_frame(300, 30)).check(_normal_frame(300, 31, shift={"c0": 2.0}))
    page = write_report(res, tmp_path)["html"].resolve().as_uri()
    browser = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--host-resolver-rules=MAP * ~NOTFOUND",
               f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*browser, "--dump-dom", page], capture_output=True, text=True, timeout=120).stdout
    assert "<svg" in dom and "column:c0" in res.fired and html.escape(res.fired_brief()) in dom, dom[:500]
    shot = tmp_path / "shot.png"
    subprocess.run([*browser, f"--screenshot={shot}", "--window-size=1200,900", page], capture_output=True, timeout=120)
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one


def test_config_is_frozen_and_strict():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        MonitorConfig(ks_mni=0.1)  # typo: extra=forbid
    cfg = MonitorConfig()
    with pytest.raises(ValidationError):
        cfg.alpha = 0.1  # frozen




def test_a_window_that_is_not_a_duration_is_named(tmp_path):
    from components.core.errors import ParamsError
    from components.monitoring.check import window_bounds

    now = pd.Timestamp("2026-12-04T12:00:00Z")
    assert window_bounds("24h", tmp_path, "m", now)["since"] == "2026-12-03T12:00:00+00:00"
    with pytest.raises(ParamsError, match="window '24x' is not new, all or a duration such as 24h or 7D"):
        window_bounds("24x", tmp_path, "m", now)  # `keel monitor --window 24x`: was a pandas ValueError
