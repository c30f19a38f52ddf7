"""Production settings come from the environment and pass Django's deployment checks."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def production_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_DEBUG", "SECRET_KEY"}}
    env.update({"SECRET_KEY": "k" * 20 + "-production-like-secret-" + "x9Z" * 10,
                "ALLOWED_HOSTS": "exchange.example.com", **extra})
    return env


def test_production_settings_pass_check_deploy():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = production_env()
    del env["SECRET_KEY"]
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_channel_layer_prefix_follows_the_redis_database():
    # Redis pub/sub ignores the database number: two deployments on one server (or CI and
    # a developer) must not hear each other's tickers and user events.
    show = ("from django.conf import settings; "
            "print(settings.CHANNEL_LAYERS['default']['CONFIG']['prefix'])")
    prefixes = [run_manage("shell", "-c", show,
                           env=production_env(REDIS_URL=f"redis://127.0.0.1:6379/{db}"))
                for db in (2, 5)]
    assert [p.stdout.split()[-1] for p in prefixes] == ["asgi.db2", "asgi.db5"], prefixes
