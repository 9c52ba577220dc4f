"""The worker's faust app keeps its local data under driftline's home."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

_BUILD = """
import json, sys
from pathlib import Path
from monitor.settings import MonitorSettings
from monitor.worker.app import build_monitor

settings = MonitorSettings(home=Path(sys.argv[1]), source_processes=1,
                           kafka={"bootstrap_servers": "127.0.0.1:1"})
conf = build_monitor(settings, profiles=lambda n, v: None, baselines=lambda n, v: None).app.conf
print(json.dumps([str(conf.datadir), str(conf.appdir), str(conf.tabledir)]))
"""


def test_the_monitor_app_keeps_its_data_under_the_home(tmp_path: Path) -> None:
    """build_monitor in a process of its own (its metrics register once per process), started
    in another folder than the home: faust's folders are all under the home, none in the
    current directory."""
    home, cwd = tmp_path / "home {x}", tmp_path / "cwd"  # braces: faust formats the path
    cwd.mkdir()
    out = subprocess.run([sys.executable, "-c", _BUILD, str(home)], cwd=cwd, check=True,
                         capture_output=True, text=True, timeout=120)
    folders = json.loads(out.stdout.strip().splitlines()[-1])
    for folder in folders:
        assert Path(folder).resolve().is_relative_to(home.resolve()), folder
    assert list(cwd.iterdir()) == []


def test_the_session_timeout_sets_faust_s_session_and_a_heartbeat_within_a_third(
    tmp_path: Path,
) -> None:
    from monitor.settings import MonitorSettings
    from monitor.worker.app import faust_app

    for seconds, heartbeat in ((45.0, 3.0), (6.0, 2.0)):
        settings = MonitorSettings(home=tmp_path, monitor_session_timeout=seconds,
                                   kafka={"bootstrap_servers": "127.0.0.1:1"})
        conf = faust_app(settings, "session-test").conf
        assert conf.broker_session_timeout == seconds
        assert conf.broker_heartbeat_interval == heartbeat
