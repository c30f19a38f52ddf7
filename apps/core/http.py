"""The API's errors outside DRF, in its one format: any unknown URL under ``/api/`` (a
catch-all route, so also in DEBUG, where Django would show its HTML 404 page) and Django's
own 400 and 500 there (exchange_platform/urls.py). Pages outside ``/api/`` keep Django's
HTML."""
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt

from apps.core.errors import error_body

API_PREFIX = "/api/"


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def error_response(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


# Exempt: it changes nothing, and a POST with a session cookie would otherwise get the CSRF
# check's HTML 403 instead of this 404.
@csrf_exempt
def not_found(request: HttpRequest, *args, **kwargs) -> JsonResponse:
    """Any URL under /api/ that no endpoint matches, including a malformed id in a path
    (``orders/abc/cancel/``): a JSON 404, in DEBUG too, and never a redirect."""
    message = f"No endpoint at {request.path}."
    if not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not not_found:
            message += f" Did you mean {request.path}/ ?"
    return error_response(404, "not_found", message)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: JSON under /api/, Django's page elsewhere."""
    if is_api_request(request):
        return error_response(400, "bad_request", "Malformed request.")
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: JSON under /api/, Django's page elsewhere. Reaching it is a bug."""
    if is_api_request(request):
        return error_response(500, "server_error", "Internal error; it has been logged.")
    return defaults.server_error(request)
