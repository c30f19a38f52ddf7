"""``python -m devtools.cql --port 9042``: the CQL emulator in the foreground."""
import argparse
import asyncio
import logging

from .server import CqlServer


async def _main(host: str, port: int) -> None:
    server = CqlServer(host=host, port=port)
    await server.start()
    logging.getLogger(__name__).warning("CQL emulator listening on %s:%s", host, server.port)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="A loopback CQL (native protocol v4) emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9042)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    try:
        asyncio.run(_main(arguments.host, arguments.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
