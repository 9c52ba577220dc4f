"""The drift report: one self-contained HTML page a person reads, for any time range.

Build it from judged windows and drift events, whatever produced them (the monitor's
reports topic, a backtest)::

    windows, unreadable = read_windows(records)
    html = build_report(ReportInput(windows=windows, events=events, versions=versions,
                                    profiles=profiles, unreadable=unreadable))

``driftline report`` reads a live range from Kafka and the registry
(:mod:`driftline.report.live`).
"""

from driftline.report.inputs import ReportInput, VersionInfo, WindowRecord, read_windows
from driftline.report.page import SECTIONS, build_report

__all__ = ["SECTIONS", "ReportInput", "VersionInfo", "WindowRecord", "build_report",
           "read_windows"]
