"""The drift report builder: sections, verdicts in words, evidence, size, nothing external."""

from __future__ import annotations

import dataclasses
import re

import msgspec
import numpy as np
import pytest

from driftline.events import Driver
from driftline.report import SECTIONS, ReportInput, build_report, read_windows
from driftline.report.digest import timeline
from driftline.report.inputs import DriftWindow, Judgement, WindowRecord
from driftline.report.live import within
from monitor.merging.merge import Judged
from tests.hostile import hostile_values
from tests.report_day import CATEGORICAL, MODEL, NUMERIC, synthetic_day


@pytest.fixture(scope="module")
def short_day():
    return synthetic_day(windows=60, rows=200, shift_at=20, flip_at=28, retrain_at=40)


@pytest.fixture(scope="module")
def page(short_day) -> str:
    return build_report(short_day.report_input(title="Drift report: credit-risk"))


def test_the_page_has_every_section_in_reading_order(page: str):
    found = [m.group(1) for m in re.finditer(r'<section id="([a-z]+)"', page)]
    assert found == list(SECTIONS)


def test_a_shifted_feature_is_said_to_have_moved_and_a_steady_one_to_have_held(page: str):
    assert re.search(r"loan_amount moved: past its threshold in \d+ windows in a row", page)
    assert "channel moved:" in page
    assert re.search(r"income held[:,]", page)


def test_the_summary_lists_what_moved_before_the_features_that_held(page: str):
    summary = page[page.index('id="summary"'):page.index('id="features"')]
    moved = summary[summary.index("What moved"):summary.index("Did it hurt")]
    assert "loan_amount" in moved and "channel" in moved
    assert moved.index("loan_amount") < moved.index("income") if "income" in moved else True
    assert "v1" in summary and "v2" in summary and "@champion" in summary


def test_each_drift_event_shows_its_evidence_and_the_retrain_it_started(short_day, page: str):
    events = page[page.index('id="events"'):]
    assert re.search(r"Evidence: predictions\[\d\] offsets \d+-\d+", events)
    assert "Retrain: v2 registered" in events
    assert "Alias: @champion moved to v2 (was v1)" in events


def test_each_feature_event_shows_its_drivers_with_their_importance(short_day):
    data = short_day.report_input(title="Drift report: credit-risk")
    windows = [msgspec.structs.replace(w, events=[
        msgspec.structs.replace(e, drivers=[
            Driver(feature="channel", effect=21.0, importance=0.004, severity="low")])
        if e.kind == "covariate" else e for e in w.events]) for w in data.windows]
    page = build_report(dataclasses.replace(data, windows=windows))
    events = page[page.index('id="events"'):]
    assert "<b>Drivers</b>" in events
    assert re.search(r"<td>channel</td><td class=\"n\">0\.4%</td><td class=\"n\">21x</td>",
                     events)


def test_performance_shows_each_versions_gate_and_the_label_coverage(page: str):
    perf = page[page.index('id="performance"'):page.index('id="events"')]
    assert "v1 gate 0.830" in perf and "v2 gate 0.810" in perf
    assert "label coverage" in perf


def test_the_page_loads_nothing_from_outside_the_file(page: str):
    assert "<script" not in page.lower()
    assert "<link" not in page.lower() and "@import" not in page
    # images are embedded: PNG data in the page itself
    inline = re.compile(r'"data:image/png;base64,[A-Za-z0-9+/=\s]*"')
    assert inline.search(page)
    page = inline.sub('""', page)
    without_namespaces = re.sub(r'xmlns(:\w+)?="[^"]*"', "", page)
    assert not re.search(r"(https?:|//[a-z])", without_namespaces)
    assert set(re.findall(r'(?:href|src)="([^"#]?)', page)) <= {""}
    assert all(ref.startswith("#") for ref in re.findall(r"url\(([^)]*)\)", page))


def test_a_day_of_ten_features_in_five_minute_windows_stays_under_two_megabytes():
    day = synthetic_day()
    page = build_report(day.report_input())
    assert len(NUMERIC) + 3 == 10
    assert len(page.encode()) < 2_000_000


def test_hostile_records_are_left_out_and_named_at_the_end(short_day):
    hostile = hostile_values(short_day.records[0])
    refused = {name for name, value in hostile.items() if read_windows([value])[1]}
    assert refused >= {"tombstone", "empty", "two events", "wrong types", "deeply nested"}
    windows, unreadable = read_windows([*short_day.records, *hostile.values()])
    assert len(windows) + len(unreadable) == len(short_day.records) + len(hostile)
    assert len(unreadable) == len(refused)
    page = build_report(ReportInput(windows=windows, unreadable=unreadable))
    assert f"{len(refused)} records could not be read" in page
    assert "nested too deeply" in page


def test_window_counts_are_drawn_against_the_reference_when_a_report_carries_them(
        short_day):
    profile = short_day.profiles[(MODEL, "1")]
    ref = profile.numeric_by_name["income"]
    counts = [c // 10 for c in ref.counts]
    window = WindowRecord(kind="drift", model_name=MODEL, model_version="1",
                          window_start=0.0, window_end=300.0, drift=DriftWindow(
                              rows=sum(counts), features=[Judgement(
                                  feature="income", method="psi", value=0.01, threshold=0.2,
                                  ratio=0.05, rows=sum(counts), counts=counts)]))
    with_counts = build_report(ReportInput(windows=[window], profiles=short_day.profiles))
    without = build_report(ReportInput(
        windows=[msgspec.structs.replace(window, drift=msgspec.structs.replace(
            window.drift, features=[msgspec.structs.replace(window.drift.features[0],
                                                            counts=None)]))],
        profiles=short_day.profiles))
    assert "last window Jan 01 00:00" in with_counts
    assert "carry no bin counts" in without and "last window Jan 01 00:00" not in without


def test_a_backtest_feeds_the_monitors_judged_windows_in_process(short_day):
    decoded = [msgspec.json.decode(r, type=Judged) for r in short_day.records[:6]]
    from_objects, bad = read_windows(decoded)
    from_json, _ = read_windows(short_day.records[:6])
    assert not bad and from_objects == from_json


def test_one_model_is_kept_when_the_report_is_for_one_model(short_day):
    page = build_report(short_day.report_input(model="another-model"))
    assert "No drift window in this range" in page and "loan_amount" not in page


def test_a_retrain_and_its_promotion_on_another_clock_sit_where_the_traffic_was(short_day):
    """Simulated traffic: the registry stamps the retrain and the move hours after the event
    times; the page places them at the retrain's newest row and v2's first window."""
    data = short_day.report_input()
    later = 10 * 86_400.0
    v2 = next(v for v in data.versions if v.version == "2")
    first_v2 = min(w.window_start for w in data.windows if w.model_version == "2")
    data_end = first_v2 - 150.0
    moved = dataclasses.replace(v2, created_at=v2.created_at + later, tags={
        **v2.tags, "driftline.data_window": f"{first_v2 - 3600:.3f}-{data_end:.3f}"})
    update = msgspec.structs.replace(data.updates[0],
                                     event_time=data.updates[0].event_time + later)
    data = dataclasses.replace(data, versions=[data.versions[0], moved], updates=[update])
    start = min(w.window_start for w in data.windows)
    end = max(w.window_end for w in data.windows)
    markers = {m.lane: m.time for m in timeline(data, [], data.windows, start, end)}
    assert markers == {"retrain": data_end, "alias": first_v2}
    # a live range cut to the traffic's event time keeps the move stamped after its end
    cut = within(data, start, end, None)
    assert cut.updates == [update]
    assert {m.lane for m in timeline(cut, [], cut.windows, start, end)} == {"retrain", "alias"}
    # trained on rows from inside v2's first window: the move is not drawn before them
    late = first_v2 + 60.0
    data = dataclasses.replace(data, versions=[data.versions[0], dataclasses.replace(
        moved, tags={**moved.tags, "driftline.data_window": f"{first_v2 - 3600:.3f}-{late:.3f}"})])
    markers = {m.lane: m.time for m in timeline(data, [], data.windows, start, end)}
    assert markers == {"retrain": late, "alias": late}


def _one_feature(ratios: list[float]) -> list[WindowRecord]:
    return [WindowRecord(kind="drift", model_name=MODEL, model_version="1",
                         window_start=60.0 * i, window_end=60.0 * (i + 1),
                         drift=DriftWindow(rows=500, features=[Judgement(
                             feature="x", method="psi", value=0.2 * r, threshold=0.2, ratio=r,
                             drifted=r >= 1.0, rows=500)]))
            for i, r in enumerate(ratios)]


def test_one_window_far_past_its_threshold_counts_as_moved_and_one_just_past_does_not():
    far = build_report(ReportInput(windows=_one_feature([0.1, 0.2, 9.0, 0.1])))
    near = build_report(ReportInput(windows=_one_feature([0.1, 0.2, 1.2, 0.1])))
    assert "x moved: past its threshold in the window from Jan 01 00:02" in far
    assert "x held, apart from 1 scattered window of 4" in near


def test_performance_shows_the_last_windows_estimate_before_its_labels():
    import numpy as np

    from driftline.calibration import fit_calibration
    from monitor.drift.estimation import estimate_performance
    from monitor.drift.performance import PerformanceAccumulator

    rng = np.random.default_rng(9)
    s = rng.random(4_000)
    y = (rng.random(4_000) < s).astype(int)
    calibration = fit_calibration(s[:2_000], y[:2_000])
    assert calibration is not None
    perf = PerformanceAccumulator()
    perf.add_predictions(2_000, s[2_000:].tolist())
    perf.update_many(s[2_000:2_400].tolist(), y[2_000:2_400].tolist())
    estimate = estimate_performance(perf, calibration)
    judged = Judged("performance", MODEL, "1", 0.0, 300.0, partitions=1,
                    performance=perf.evaluate(), estimate=estimate)
    windows, bad = read_windows([msgspec.json.encode(judged)])
    assert not bad and windows[0].estimate is not None
    page = build_report(ReportInput(windows=windows))
    perf_section = page[page.index('id="performance"'):page.index('id="events"')]
    assert f"Estimated AUC of the last window (v1, Jan 01 00:00): {estimate.roc_auc:.3f}" \
        in perf_section
    assert "with 20% of labels in" in perf_section
    # the next window's first estimate, none of its labels in by its end
    newer = estimate_performance(perf.predictions_only(), calibration)
    early = Judged("estimate", MODEL, "1", 300.0, 600.0, partitions=1, estimate=newer)
    windows, bad = read_windows([msgspec.json.encode(judged), msgspec.json.encode(early)])
    page = build_report(ReportInput(windows=windows))
    perf_section = page[page.index('id="performance"'):page.index('id="events"')]
    assert (f"Estimated AUC of the last window (v1, Jan 01 00:05): {newer.roc_auc:.3f} with 0% "
            "of labels in by the window's end (from the holdout calibration)") in perf_section


def test_the_brier_band_comes_from_the_windows_standard_error_and_is_absent_without_one():
    from driftline.report.digest import PerfPoint
    from driftline.report.inputs import Performance
    from driftline.report.page import _intervals

    with_error = Performance(labeled=400, brier=0.15, standard_errors={"brier": 0.01})
    without = Performance(labeled=400, brier=0.15)
    bands = _intervals([PerfPoint(0.0, 300.0, "1", with_error),
                        PerfPoint(300.0, 600.0, "1", without)])["brier"]
    assert bands[0] == pytest.approx((0.15 - 0.0196, 0.15 + 0.0196))
    assert bands[1] is None


def test_the_auc_band_is_delongs_when_the_window_carries_it_else_hanley_mcneils():
    from driftline.intervals import auc_interval
    from driftline.report.digest import PerfPoint
    from driftline.report.inputs import Performance
    from driftline.report.page import _intervals

    with_error = Performance(labeled=400, roc_auc=0.8, positive_rate=0.25,
                             standard_errors={"roc_auc": 0.02})
    without = Performance(labeled=400, roc_auc=0.8, positive_rate=0.25)
    bands = _intervals([PerfPoint(0.0, 300.0, "1", with_error),
                        PerfPoint(300.0, 600.0, "1", without)])["roc_auc"]
    assert bands[0] == pytest.approx((0.8 - 0.0392, 0.8 + 0.0392))
    assert bands[1] == pytest.approx(auc_interval(0.8, 100, 300))


def test_every_statistic_the_monitor_reports_has_a_label_and_a_side():
    from driftline.features import CREDIT_RISK
    from driftline.profile import build_profile
    from driftline.report.digest import STATISTICS
    from monitor.drift.accumulator import WindowAccumulator
    from monitor.drift.evidence import WindowEvidence
    from monitor.drift.judge import DriftConfig
    from monitor.drift.windows import Window
    from producers.generator import LoanGenerator, default_probability

    reference = LoanGenerator(seed=11).sample(5_000)
    profile = build_profile(
        reference.columns, default_probability(reference.columns),
        numeric=CREDIT_RISK.numeric_names, categorical=CREDIT_RISK.categorical_names,
        model_name="credit-risk", model_version="1")
    evidence, config, names = WindowEvidence(), DriftConfig(look_every=300.0), set()
    gen = LoanGenerator(seed=4)
    for i in range(3):  # the third window has pools and e-CUSUMs behind it
        batch = gen.sample(600)
        acc = WindowAccumulator(profile, Window(300.0 * i, 300.0 * (i + 1)))
        acc.update_many(batch.rows(), default_probability(batch.columns).tolist())
        report = evidence.judge(acc, config)
        names |= {s.statistic for j in [*report.features, report.score] for s in j.statistics}
    assert {"pooled", "e_cusum", "rank_sum_p_value"} <= names
    assert names <= set(STATISTICS)


def test_every_windows_score_is_drawn_as_one_embedded_heat_map(page: str):
    score = page[page.index('id="score"'):page.index('id="performance"')]
    heat = score[score.index("score of every window"):]
    assert heat.count("<image") == 1 and "data:image/png;base64," in heat
    assert "share of the window" in heat and "reference median" in heat


def test_every_features_windows_are_drawn_as_a_heat_map_in_its_own_block(page: str):
    features = page[page.index('id="features"'):page.index('id="score"')]
    blocks = features.split('<div class="feature"')[1:]
    names = [block[block.index("<h3>") + 4:block.index(" <span")] for block in blocks]
    assert sorted(names) == sorted(NUMERIC + CATEGORICAL)
    for name, block in zip(names, blocks, strict=True):
        assert f"{name} of every window" in block, name
        assert "data:image/png;base64," in block  # (the map's mesh is the one raster)
    channel = blocks[names.index("channel")]
    title = channel.index("channel of every window")
    chart = channel[channel.rindex("<svg", 0, title):channel.index("</svg>", title)]
    assert all(f">{c}<" in chart for c in ("web", "branch", "broker", "(other)"))


def test_the_category_grid_puts_unlisted_categories_and_the_monitors_other_in_one_row():
    from driftline.report.charts import category_grid

    xs, z = category_grid([(0.0, 60.0, {"web": 2, "(other)": 1, "kiosk": 1}),
                           (60.0, 120.0, {"web": 5}), (60.0, 120.0, {"app": 1}),
                           (120.0, 180.0, {})], ["web", "app"])
    assert xs == [0.0, 60.0, 120.0, 180.0]
    assert z[:, 0].tolist() == [0.5, 0.0, 0.5]
    assert z[:, 1].tolist() == [1.0, 0.0, 0.0]  # the fuller of two windows at one start
    assert np.isnan(z[:, 2]).all()  # a window without rows: not drawn


def test_the_heat_map_keeps_the_fuller_of_two_windows_at_one_start_and_blanks_bad_counts(
        short_day):
    from driftline.report.charts import window_grid

    ref = short_day.profiles[(MODEL, "1")].score
    bins = len(ref.cuts) + 1
    top, bottom = [0] * (bins - 1) + [50], [30] + [0] * (bins - 1)
    xs, _, z = window_grid([(0.0, 60.0, ref, bottom), (0.0, 60.0, ref, top),
                            (60.0, 120.0, ref, [1, 2])], ref.minimum, ref.maximum, steps=10)
    assert xs == [0.0, 60.0, 120.0]
    assert z[-1, 0] > 0 and z[0, 0] == 0  # the window of 50 rows, not the one of 30
    assert np.isnan(z[:, 1]).all()  # counts on other bins than its profile's: not drawn
