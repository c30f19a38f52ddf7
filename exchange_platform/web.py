"""The production web server (``scripts/web.sh``): uvicorn's command line and supervisor,
with each worker process listening on a socket of its own.

Why: uvicorn's workers share the one socket its supervisor binds, and the worker whose
event loop wakes first accepts every connection waiting (uvloop, like asyncio, accepts
until none is left). Connections that queued while the workers were busy, as a proxy's
keep-alive pool or a load test opens them, then all went to one worker, which served them
on one core while the other worker idled: bench/order_api.py's 32 connections, 10.2 CPU
seconds against 0.0 in one of its runs. Here every worker binds its own socket to the address with
``SO_REUSEPORT`` and the kernel spreads new connections across them (a hash of each
client's address and port). The supervisor's socket is bound the same way, so that the
address is held, a port already taken fails at once (unless its holder is another server
of the same user that also set ``SO_REUSEPORT``: the kernel would then share it) and an
ephemeral port (``--port 0``) is one port for all; it never listens, so it gets no
connection.

Everything else is uvicorn's: its options, its signals (HUP restarts the workers, TTIN and
TTOU add or remove one, TERM and INT stop), a worker that dies restarted. With one worker,
or on a Unix socket or a file descriptor, uvicorn runs exactly as it does alone.
"""
import logging
import socket

import uvicorn.main
from uvicorn.config import Config
from uvicorn.supervisors import multiprocess

logger = logging.getLogger("uvicorn.error")


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


class ReusePortConfig(Config):
    def bind_socket(self) -> socket.socket:
        if self.workers <= 1 or self.uds is not None or self.fd is not None:
            return super().bind_socket()
        try:
            sock = _reuse_port_socket(self.host, self.port)
        except OSError as exc:
            logger.error(exc)
            raise SystemExit(uvicorn.main.STARTUP_FAILURE) from exc
        host, port = sock.getsockname()[:2]
        logger.info("Uvicorn running on %s://%s:%d, %d workers with a socket each "
                    "(Press CTRL+C to quit)", "https" if self.is_ssl else "http", host, port,
                    self.workers)
        return sock


class ReusePortProcess(multiprocess.Process):
    def target(self, sockets: list[socket.socket] | None = None) -> None:
        # In the worker: a socket of its own on the supervisor's socket's address (the
        # supervisor's is not listened on, so it takes no connection).
        (shared,) = sockets or ()
        own = _reuse_port_socket(*shared.getsockname()[:2])
        shared.close()
        super().target([own])


def main() -> None:
    # uvicorn.main.run builds its Config, and its Multiprocess supervisor its worker
    # Processes, by these module names: the two classes above replace them here.
    uvicorn.main.Config = ReusePortConfig
    multiprocess.Process = ReusePortProcess
    uvicorn.main.main()


if __name__ == "__main__":
    main()
