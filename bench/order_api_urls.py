"""The project's URLs plus one bare DRF view, the floor bench/order_api.py compares order
placement with. Mounted only by bench/order_api_settings.py: the apps never ship it."""
from django.urls import path
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from exchange_platform import urls as project_urls


class BareApi(APIView):
    """The project's DRF defaults (token authentication, IsAuthenticated, the user throttle,
    the JSON renderer) around a constant: what every API request costs before its work."""

    def post(self, request):
        return Response({"ok": True}, status=status.HTTP_201_CREATED)


# First: the project's list ends in the catch-all JSON 404 for /api/.
urlpatterns = [path("api/v1/bench/bare/", BareApi.as_view()), *project_urls.urlpatterns]
handler400 = project_urls.handler400
handler500 = project_urls.handler500
