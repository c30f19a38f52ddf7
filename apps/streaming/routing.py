"""WebSocket URL routes (mounted by exchange_platform.asgi)."""
from django.urls import path

from apps.streaming.consumers import StreamConsumer

websocket_urlpatterns = [path("ws/", StreamConsumer.as_asgi())]
