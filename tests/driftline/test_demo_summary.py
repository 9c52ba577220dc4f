from driftline.demo_summary import WindowPoint, summarize


def _w(start, version, auc):
    return WindowPoint(start=start, end=start + 60, version=version, auc=auc, rows=500)


def test_summary_splits_auc_by_onset_and_version():
    windows = [_w(0, "1", 0.80), _w(60, "1", 0.78), _w(120, "1", 0.40), _w(180, "1", 0.30),
               _w(180, "2", 0.70), _w(240, "2", 0.78), _w(300, "2", None)]
    s = summarize(windows, onset=120.0, detections=[(200.0, "concept", 50.0),
                                                     (180.0, "covariate", 40.0)],
                  promotions=[("2", 60.0)])
    assert s.auc_before == 0.79 and s.auc_worst == 0.30 and s.auc_after == 0.74
    assert s.first_detection == (180.0, "covariate", 40.0)
    assert s.promotion == ("2", 60.0)
    assert not s.recovered  # 0.74 < 0.95 * 0.79


def test_summary_without_a_promotion_has_no_after():
    s = summarize([_w(0, "1", 0.8), _w(60, "1", 0.5)], onset=60.0, detections=[],
                  promotions=[])
    assert s.promotion is None and s.auc_after is None and s.first_detection is None
    assert not s.recovered
