"""The emulator's HTTP server (the standard library's threading server: one page, one
form, one outgoing POST per delivery)."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html import escape
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from django.core import signing

log = logging.getLogger("devtools.paychain")

LINK_SALT = "deposits.payment-link"  # the platform's payment-link format
_AMOUNT = re.compile(r"[0-9]{1,30}(\.[0-9]{1,18})?", re.ASCII)
_MAX_FORM_BYTES = 8192
WEBHOOK_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class PayChainConfig:
    webhook_url: str  # the platform's POST /api/v1/deposits/webhook/
    link_secret: str  # DEPOSIT_LINK_SECRET
    webhook_secret: str  # one of DEPOSIT_WEBHOOK_SECRETS
    host: str = "127.0.0.1"
    port: int = 8766  # 0 picks a free port
    deliveries: int = 1  # each payment's webhook is sent this many times

    def __post_init__(self) -> None:
        if urlsplit(self.webhook_url).scheme not in ("http", "https"):
            raise ValueError(f"webhook_url must be http(s): {self.webhook_url!r}")


@dataclass(frozen=True)
class Delivery:
    status: int
    answer: str


class PayChain:
    """The chain's behaviour, apart from HTTP: read a link, pay it."""

    def __init__(self, config: PayChainConfig) -> None:
        self.config = config

    def read_link(self, token: str) -> dict:
        """The link's payload; ValueError if it is not signed with the shared secret, is
        malformed, or is past its expiry."""
        try:
            payload = signing.loads(token, key=self.config.link_secret, salt=LINK_SALT,
                                    fallback_keys=[])
        except signing.BadSignature:
            raise ValueError("This payment link is not signed by the platform.") from None
        if not isinstance(payload, dict) or not {"intent", "coin", "pay_amount",
                                                 "expires_at"} <= set(payload):
            raise ValueError("This payment link does not name a payment.")
        if payload["expires_at"] < time.time():
            raise ValueError("This payment link has expired.")
        return payload

    def pay(self, *, intent: str, amount: str) -> tuple[str, list[Delivery]]:
        """Make a transaction paying ``amount`` for ``intent`` and deliver its webhook;
        returns the transaction id and what the platform answered each delivery."""
        tx_hash = "0x" + secrets.token_hex(32)
        body = json.dumps({"intent": intent, "tx_hash": tx_hash, "amount": amount}).encode()
        answers = [self._deliver(body) for _ in range(self.config.deliveries)]
        log.info("paid %s %s tx %s: %s", intent, amount, tx_hash,
                 [answer.status for answer in answers])
        return tx_hash, answers

    def _deliver(self, body: bytes) -> Delivery:
        stamp = str(int(time.time()))
        mac = hmac.new(self.config.webhook_secret.encode(), stamp.encode() + b"." + body,
                       hashlib.sha256)
        # The URL's scheme is http(s), checked in PayChainConfig.
        request = urllib.request.Request(  # noqa: S310
            self.config.webhook_url, data=body, method="POST",
            headers={"Content-Type": "application/json", "X-Deposit-Timestamp": stamp,
                     "X-Deposit-Signature": f"sha256={mac.hexdigest()}"})
        try:
            with urllib.request.urlopen(request,  # noqa: S310 - http(s) only, as above
                                        timeout=WEBHOOK_TIMEOUT_S) as answer:
                return Delivery(answer.status, answer.read().decode(errors="replace"))
        except urllib.error.HTTPError as error:
            return Delivery(error.code, error.read().decode(errors="replace"))
        except OSError as error:  # the platform is not listening: the chain would retry
            return Delivery(0, str(error))


def _page(title: str, body: str) -> bytes:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"</head><body><h1>{escape(title)}</h1>{body}"
            "<p><small>SGChain emulator (devtools/paychain): development only.</small></p>"
            "</body></html>").encode()


class _Handler(BaseHTTPRequestHandler):
    chain: PayChain  # set on the subclass made per server

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        url = urlsplit(self.path)
        if url.path != "/pay":
            return self._answer(HTTPStatus.NOT_FOUND, _page("Not found", ""))
        token = (parse_qs(url.query).get("token") or [""])[0]
        try:
            link = self.chain.read_link(token)
        except ValueError as exc:
            return self._refuse(str(exc))
        form = (f"<p>Deposit intent <code id='intent'>{escape(str(link['intent']))}</code>: "
                f"pay <strong id='asked'>{escape(str(link['pay_amount']))}</strong> "
                f"{escape(str(link['coin']))}.</p>"
                "<form method='post' action='/pay'>"
                f"<input type='hidden' name='token' value='{escape(token)}'>"
                "<label>Amount to send <input name='amount' "
                f"value='{escape(str(link['pay_amount']))}'></label> "
                "<button type='submit'>Pay</button></form>")
        return self._answer(HTTPStatus.OK, _page("Pay with SGChain", form))

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        if urlsplit(self.path).path != "/pay":
            return self._answer(HTTPStatus.NOT_FOUND, _page("Not found", ""))
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= _MAX_FORM_BYTES:
            return self._refuse("No form.")
        form = parse_qs(self.rfile.read(length).decode(errors="replace"))
        amount = (form.get("amount") or [""])[0].strip()
        try:
            link = self.chain.read_link((form.get("token") or [""])[0])
            if not _AMOUNT.fullmatch(amount):
                raise ValueError("The amount must be a plain decimal number.")
        except ValueError as exc:
            return self._refuse(str(exc))
        tx_hash, deliveries = self.chain.pay(intent=str(link["intent"]), amount=amount)
        rows = "".join(f"<li class='delivery'>{answer.status} "
                       f"{escape(answer.answer[:300])}</li>" for answer in deliveries)
        body = (f"<p>Sent {escape(amount)} {escape(str(link['coin']))} in transaction "
                f"<code id='tx'>{tx_hash}</code>. The platform answered:</p><ul>{rows}</ul>")
        return self._answer(HTTPStatus.OK, _page("Paid", body))

    def _refuse(self, why: str) -> None:
        self._answer(HTTPStatus.BAD_REQUEST, _page("Refused", f"<p>{escape(why)}</p>"))

    def _answer(self, status: HTTPStatus, content: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        log.info("%s " + format, self.address_string(), *args)


def server(config: PayChainConfig) -> ThreadingHTTPServer:
    """A bound server for ``config`` (call ``serve_forever``)."""
    handler = type("Handler", (_Handler,), {"chain": PayChain(config)})
    return ThreadingHTTPServer((config.host, config.port), handler)


@contextmanager
def running(config: PayChainConfig) -> Iterator[str]:
    """The emulator serving on a background thread; yields its ``/pay`` URL (the
    platform's ``DEPOSIT_PAYMENT_URL``)."""
    httpd = server(config)
    thread = threading.Thread(target=httpd.serve_forever, name="paychain", daemon=True)
    thread.start()
    try:
        host, port = httpd.server_address[:2]
        yield f"http://{host}:{port}/pay"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(WEBHOOK_TIMEOUT_S)
