"""`fokus run` as a user starts it: web, worker and beat in one process; Ctrl+C stops all."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

T = "fokus.scheduler.tests.jobs_for_tests"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fokus(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fokus.cli", *args], env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )


def test_fokus_run_serves_pages_runs_the_beat_and_the_worker_and_stops_on_ctrl_c(
    tmp_path: Path,
) -> None:
    # Its own SQLite file, whatever database the test run uses: this is the embedded default.
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "FOKUS_TASKS"}}
    env |= {"FOKUS_DATA_DIR": str(tmp_path), "FOKUS_SCHEDULE": f"{T}.TICK_SCHEDULE"}

    refused = fokus(env, "run")
    assert refused.returncode == 1
    # The command line speaks the default language, Russian.
    assert "сначала выполните `fokus migrate`" in refused.stderr

    assert fokus(env, "migrate", "-v", "0").returncode == 0
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "fokus.cli", "run", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        status = None
        marks = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (status is None or not marks):
            time.sleep(0.3)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/") as page:
                    status = page.status
            except (urllib.error.URLError, ConnectionError):
                pass
            with sqlite3.connect(tmp_path / "fokus.sqlite3") as db:
                # The beat fired the minute job at start; the worker ran the task it enqueued.
                marks = db.execute(
                    "SELECT count(*) FROM scheduler_beatfiring WHERE job = 'ran:test.minute'"
                ).fetchone()[0]
        assert status == 200
        # One mark per minute slot: a run that crosses a minute boundary fires twice.
        assert marks >= 1
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "worker-1, beat (задачи: db)" in output
    assert output.rstrip().endswith("Остановлено.")
