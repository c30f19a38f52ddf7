"""``python -m devtools.twelvedata``: serve the emulator in the foreground.

The demo price feed of ``make run``: a random walk every ``--interval`` seconds, logged to
stdout, until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from devtools.background import serve_until_signalled

from .server import Emulator, EmulatorConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.twelvedata",
        description="Loopback TwelveData REST + WebSocket emulator (seeded random walk).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--apikey", default="demo")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="seconds between random-walk steps")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--paused", action="store_true",
                        help="start with the walk paused (resume via POST /_control/resume)")
    parser.add_argument("--credits-per-minute", type=int, default=None,
                        help="enforce TwelveData's per-minute credit limit (429 errors)")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(stream=sys.stdout, level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = EmulatorConfig(
        host=args.host,
        port=args.port,
        apikey=args.apikey,
        interval=args.interval,
        seed=args.seed,
        paused=args.paused,
        credits_per_minute=args.credits_per_minute,
    )
    asyncio.run(serve_until_signalled(Emulator(config)))


if __name__ == "__main__":
    main()
