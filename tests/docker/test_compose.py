"""docker/compose.yml is valid for `docker compose config`, its healthchecks use the health
endpoints, and the probe they run (scripts/healthcheck.py) tells a healthy server from an
unhealthy one."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from apps.trading.constants import MarketStatus
from tests.factories import MarketFactory

ROOT = Path(__file__).resolve().parents[2]


def compose_command() -> list[str] | None:
    """`docker compose` (the v2 plugin) if it works here, else `docker-compose`, else None."""
    if shutil.which("docker") and subprocess.run(
            ["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.fixture
def compose_config(tmp_path) -> dict:
    command = compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed here")
    # A copy beside the .env it reads (README "Configuration"), so the repository's own
    # docker/.env, if any, is neither needed nor read.
    (tmp_path / "docker").mkdir()
    shutil.copy(ROOT / "docker" / "compose.yml", tmp_path / "docker" / "compose.yml")
    (tmp_path / "docker" / ".env").write_text(
        "SECRET_KEY=x\nMARIADB_PASSWORD=p\nMARIADB_ROOT_PASSWORD=r\n")
    result = subprocess.run([*command, "-f", str(tmp_path / "docker" / "compose.yml"),
                             "config"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "MARIADB_PASSWORD": "p",
                                 "MARIADB_ROOT_PASSWORD": "r"})
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_config_is_valid_and_probes_health(compose_config):
    services = compose_config["services"]
    assert services["web"]["healthcheck"]["test"] == [
        "CMD", "python", "scripts/healthcheck.py", "ready"]
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    # The others wait for the migration, which waits for both stores to answer.
    assert services["migrate"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["mariadb"]["condition"] == "service_healthy"


def probe(kind: str, live_server) -> subprocess.CompletedProcess:
    port = live_server.url.rsplit(":", 1)[1]
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "healthcheck.py"), kind],
                          capture_output=True, text=True, timeout=30,
                          env={**os.environ, "PORT": port, "ALLOWED_HOSTS": "localhost"})


def test_the_probe_passes_a_healthy_server_and_fails_an_unready_one(live_server, settings,
                                                                     currencies):
    settings.HEALTH_CELERY_REQUIRED = False
    assert probe("live", live_server).returncode == 0
    assert probe("ready", live_server).returncode == 0
    # An enabled market that never had a quote: the paper feed is down.
    MarketFactory(symbol="EUR/USD", status=MarketStatus.ENABLED)
    failed = probe("ready", live_server)
    assert failed.returncode == 1
    assert "health/ready: 500" in failed.stderr
    assert "no quote for any of its 1 enabled markets" in failed.stderr
    assert probe("live", live_server).returncode == 0


def test_the_probe_fails_when_nothing_listens():
    import socket

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "healthcheck.py"), "live"],
                            capture_output=True, text=True, timeout=30,
                            env={**os.environ, "PORT": str(port)})
    assert result.returncode == 1
    assert "health/live:" in result.stderr


def test_observability_profile_scrapes_with_the_token_and_the_dashboard_shows_each_metric(
        compose_config):
    services = compose_config["services"]
    assert services["prometheus"]["profiles"] == ["observability"]
    assert services["grafana"]["profiles"] == ["observability"]
    for name in ("web", "worker"):  # a fresh multiprocess directory in every container
        assert services[name]["environment"]["PROMETHEUS_MULTIPROC_DIR"] == "/run/prometheus"
        assert "/run/prometheus" in services[name]["tmpfs"]
    assert "9808" not in str(services["worker"].get("ports"))  # never published
    scrape = yaml.safe_load((ROOT / "docker" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in scrape["scrape_configs"]}
    assert jobs["web"]["static_configs"][0]["targets"] == ["web:8000"]
    assert jobs["worker"]["static_configs"][0]["targets"] == ["worker:9808"]
    assert all(job["authorization"]["type"] == "Bearer" for job in jobs.values())
    dashboard = json.loads((ROOT / "docker" / "grafana" / "dashboard.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for metric in ("django_http_requests_total_by_view_transport_method_total",
                   "exchange_orders_placed_total", "exchange_fills_total",
                   "exchange_settlement_lag_seconds_bucket", "exchange_quote_age_seconds",
                   "exchange_websocket_connections",
                   "exchange_websocket_slow_consumers_dropped_total",
                   "exchange_celery_queue_depth"):
        assert metric in exprs, metric
