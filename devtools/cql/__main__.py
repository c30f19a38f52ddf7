"""``python -m devtools.cql --port 9042``: the CQL emulator in the foreground, until SIGINT
or SIGTERM."""
import argparse
import asyncio
import logging

from devtools.background import serve_until_signalled

from .server import CqlServer


def main() -> None:
    parser = argparse.ArgumentParser(description="A loopback CQL (native protocol v4) emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9042)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    logging.getLogger(__name__).info("CQL emulator on %s:%s", arguments.host, arguments.port)
    asyncio.run(serve_until_signalled(CqlServer(host=arguments.host, port=arguments.port)))


if __name__ == "__main__":
    main()
