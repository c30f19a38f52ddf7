"""API authentication: exchange a username and password for a token (DRF authtoken)."""
from axes.helpers import get_cool_off
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import exceptions, serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


class LockedOut(exceptions.APIException):
    """Too many failed logins for the account or the address (django-axes); ``wait``
    becomes the Retry-After header."""

    status_code = 429
    default_code = "locked_out"

    def __init__(self, *, wait: int) -> None:
        self.wait = wait
        super().__init__(f"Too many failed logins: this account or address is locked "
                         f"for {wait // 60} minutes.")


@extend_schema_serializer(component_name="AuthToken")
class TokenInput(AuthTokenSerializer):
    # Bounded like the user model's field (the web and admin login forms are): a longer
    # name names no one, and django-axes would try to record it as a failed attempt.
    username = serializers.CharField(
        write_only=True, max_length=get_user_model()._meta.get_field("username").max_length)


class TokenOutput(serializers.Serializer):
    token = serializers.CharField()


class TokenApi(APIView):
    """POST username and password; use the answer as ``Authorization: Token <token>``.

    Failed attempts count towards the login lockout shared with the web login and the
    admin: past AXES_FAILURE_LIMIT the answer is 429 ``locked_out``, right password or not.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=TokenInput, responses=TokenOutput)
    def post(self, request):
        data = TokenInput(data=request.data, context={"request": request})
        if not data.is_valid():
            # Set by django-axes while authenticating, on this (DRF) request object.
            if getattr(request, "axes_locked_out", False):
                raise LockedOut(wait=int(get_cool_off(request).total_seconds()))
            raise exceptions.ValidationError(data.errors)
        user = data.validated_data["user"]
        # A login like the web's: django-axes clears the account's failures (and logs the
        # access), Django records last_login.
        user_logged_in.send(sender=user.__class__, request=request, user=user)
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})
