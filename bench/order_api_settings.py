"""Settings of bench/order_api.py's server: the project's own (read from the environment as
in production), with the URLconf that adds the bench's bare view. Never shipped."""
from exchange_platform.settings import *  # noqa: F403

ROOT_URLCONF = "bench.order_api_urls"
