"""``python -m devtools.paychain``: serve the payment chain emulator in the foreground.

The secrets come from the environment, not the command line (where ``ps`` shows them):
``PAYCHAIN_LINK_SECRET`` (the platform's ``DEPOSIT_LINK_SECRET``) and
``PAYCHAIN_WEBHOOK_SECRET`` (one of its ``DEPOSIT_WEBHOOK_SECRETS``). ``make run`` makes
both afresh on each start and hands them to the dev server alone.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from .server import PayChainConfig, server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools.paychain",
                                     description="Loopback payment chain emulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--webhook-url", required=True,
                        help="the platform's webhook, e.g. "
                             "http://127.0.0.1:8000/api/v1/deposits/webhook/")
    parser.add_argument("--deliveries", type=int, default=1,
                        help="send each payment's webhook this many times (retries)")
    args = parser.parse_args(argv)
    secrets = {name: os.environ.get(name, "") for name in ("PAYCHAIN_LINK_SECRET",
                                                          "PAYCHAIN_WEBHOOK_SECRET")}
    missing = [name for name, value in secrets.items() if not value]
    if missing:
        parser.error(f"set {' and '.join(missing)} in the environment")
    logging.basicConfig(stream=sys.stdout, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    httpd = server(PayChainConfig(
        webhook_url=args.webhook_url, link_secret=secrets["PAYCHAIN_LINK_SECRET"],
        webhook_secret=secrets["PAYCHAIN_WEBHOOK_SECRET"], host=args.host, port=args.port,
        deliveries=args.deliveries))
    logging.getLogger("devtools.paychain").info("serving http://%s:%s/pay", args.host,
                                                args.port)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()


if __name__ == "__main__":
    main()
