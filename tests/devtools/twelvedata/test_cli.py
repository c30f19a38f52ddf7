"""``python -m devtools.twelvedata`` serves in the foreground until SIGTERM."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

from twelvedata import TDClient

ROOT = Path(__file__).resolve().parents[3]


def test_cli_serves_logs_its_address_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.twelvedata", "--port", "0", "--apikey",
         "cli-key", "--interval", "0.05", "--seed", "3"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        match = re.search(r"on (http://127\.0\.0\.1:\d+) ", banner)
        assert match, banner
        td = TDClient(apikey="cli-key", base_url=match.group(1))

        assert td.price(symbol="EUR/USD").as_json()["price"]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
