"""Container health probe (docker/compose.yml): GET /health/<live|ready> of the web server
in this container; exit 0 on 200, 1 otherwise, printing the failing checks' reasons.

The request carries the first of ALLOWED_HOSTS as its Host (a production host list may not
include the loopback address) and X-Forwarded-Proto: https (SECURE_SSL_REDIRECT would
otherwise answer the plain-HTTP probe with a redirect). Standard library only.

Usage: python scripts/healthcheck.py live|ready
"""
import http.client
import os
import sys


def main(kind: str) -> int:
    hosts = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
    host = next((h.lstrip(".") for h in hosts if h != "*"), "localhost")
    connection = http.client.HTTPConnection("127.0.0.1", int(os.environ.get("PORT", "8000")),
                                            timeout=10)
    try:
        connection.request("GET", f"/health/{kind}?format=json",
                           headers={"Host": host, "X-Forwarded-Proto": "https",
                                    "Accept": "application/json"})
        response = connection.getresponse()
        body = response.read().decode(errors="replace")
    except OSError as error:
        print(f"health/{kind}: {error}", file=sys.stderr)  # noqa: T201
        return 1
    if response.status != 200:
        print(f"health/{kind}: {response.status} {body}", file=sys.stderr)  # noqa: T201
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "live"))
