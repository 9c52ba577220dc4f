from producers.demo_summary import WindowPoint, first_recovered, summarize


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


def test_recovery_is_the_first_window_after_the_onset_back_to_95_percent_of_before():
    windows = [_w(0, "1", 0.80), _w(60, "1", 0.79),  # the onset at 90 falls in [60, 120)
               _w(120, "1", 0.30), _w(180, "1", 0.31), _w(180, "2", 0.74),
               _w(240, "2", 0.77), _w(300, "2", 0.79)]
    # 95% of 0.80 is 0.76: v2's window [180, 240) is not back yet, [240, 300) is
    assert first_recovered(windows, onset=90.0, auc_before=0.80) == _w(240, "2", 0.77)
    # the window holding the onset never counts, however good its AUC
    assert first_recovered(windows[:2], onset=90.0, auc_before=0.80) is None
    assert first_recovered(windows, onset=90.0, auc_before=None) is None
    assert first_recovered(windows, onset=90.0, auc_before=0.80, share=0.9) == _w(180, "2", 0.74)
