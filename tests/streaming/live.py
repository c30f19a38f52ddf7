"""A real uvicorn server on a thread of the test process, a real WebSocket client, and a
private redis-server: the pieces of the live tests."""
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from websockets.sync.client import ClientConnection, connect


class ServerThread:
    """uvicorn serving exchange_platform.asgi on an ephemeral loopback port, on a thread
    of this process so that it sees the test database; the options of scripts/web.sh
    (the production command) that matter to the protocol."""

    def __init__(self) -> None:
        import uvicorn

        from exchange_platform.asgi import application

        # No proxy headers: web.sh's default (FORWARDED_ALLOW_IPS unset), and this test
        # client connects from loopback, which uvicorn would otherwise trust.
        config = uvicorn.Config(application, host="127.0.0.1", port=0, loop="uvloop",
                                http="httptools", ws="apps.streaming.server:WebSocketProtocol",
                                ws_per_message_deflate=False, lifespan="off",
                                proxy_headers=False, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def start(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start listening")
            time.sleep(0.02)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        return f"ws://{host}:{port}/ws/"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class WsClient:
    """A sync ``websockets`` client speaking the protocol's JSON frames."""

    def __init__(self, connection: ClientConnection) -> None:
        self.ws = connection

    def send(self, frame: dict) -> None:
        self.ws.send(json.dumps(frame))

    def recv(self, timeout: float = 3, *, heartbeats: bool = False) -> dict:
        """The next frame (heartbeats skipped unless asked for)."""
        deadline = time.monotonic() + timeout
        while True:
            frame = json.loads(self.ws.recv(timeout=max(0.0, deadline - time.monotonic())))
            if heartbeats or frame["op"] != "heartbeat":
                return frame

    def request(self, frame: dict) -> dict:
        self.send(frame)
        return self.recv()

    def quiet(self, seconds: float = 0.5) -> bool:
        """True if nothing but heartbeats arrives for ``seconds``."""
        try:
            frame = self.recv(seconds)
        except TimeoutError:
            return True
        raise AssertionError(f"unexpected frame {frame}")


@contextmanager
def ws_client(url: str, *, token: str | None = None,
              stalled: bool = False) -> Iterator[WsClient]:
    """A client; ``stalled``: one that stops reading once a few frames wait unread (tiny
    receive buffer and frame queue), so the server's writes to it back up."""
    headers = {"Authorization": f"Token {token}"} if token else None
    options: dict = {}
    if stalled:
        host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((host, int(port)))
        # No keepalive: its pong would wait behind the unread frames, and on a loaded
        # machine (a run past ping_interval + ping_timeout, 40 s) the client closed the
        # connection itself (1011) before reading the server's close.
        options = {"sock": sock, "max_queue": 2, "ping_interval": None}
    with connect(url, additional_headers=headers, open_timeout=5, **options) as connection:
        yield WsClient(connection)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A private redis-server on ``port`` that a test can kill and restart."""

    def __init__(self, *, port: int, workdir: Path) -> None:
        self.port = port
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "redis-server"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
        client = redis.Redis.from_url(self.url, socket_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
            finally:
                client.close()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
