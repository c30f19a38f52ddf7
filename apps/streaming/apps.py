from django.apps import AppConfig


class StreamingConfig(AppConfig):
    name = "apps.streaming"
    label = "streaming"
    verbose_name = "Live streams (WebSocket)"
