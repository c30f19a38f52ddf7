"""The API for a user's partner keys (thin: the services decide). Reached with a token or a
session only, never with an API key: a key does not make or revoke keys."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api_keys import selectors, services
from apps.accounts.apis import StringField
from apps.accounts.models import ApiKey
from apps.core.schema import error_responses


class ApiKeyInput(serializers.Serializer):
    label = StringField(max_length=100)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiKey.Scope.choices), min_length=1,
        max_length=3, help_text="read (GET endpoints), trade (orders), transfer (funds).")
    allowed_ips = serializers.ListField(
        child=StringField(max_length=43), required=False, default=list,
        max_length=services.MAX_ALLOWED_NETWORKS,
        help_text="IP addresses or networks (CIDR) the key may be used from; none: any.")
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class ApiKeyOutput(serializers.Serializer):
    key_id = serializers.CharField()
    label = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField(), source="scope_list")
    allowed_ips = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)


class ApiKeyCreatedOutput(ApiKeyOutput):
    secret = serializers.CharField(help_text="Shown this once: store it now. It signs "
                                             "requests (README \"Partner API keys\").")


_AUTHENTICATION = [TokenAuthentication, SessionAuthentication]


class ApiKeyListCreateApi(APIView):
    """GET the user's keys (never their secrets); POST makes one and answers with its
    secret, this once. Making one needs two-factor authentication set up and the KYC level
    of ``api_key_create`` (403 ``mfa_required`` / ``kyc_required``)."""

    authentication_classes = _AUTHENTICATION

    @extend_schema(responses={200: ApiKeyOutput(many=True)})
    def get(self, request):
        return Response(ApiKeyOutput(selectors.api_keys(user_id=request.user.pk),
                                     many=True).data)

    @extend_schema(request=ApiKeyInput, responses={201: ApiKeyCreatedOutput,
                                                   **error_responses(403, 409)})
    def post(self, request):
        data = ApiKeyInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        key, secret = services.api_key_create(
            user_id=request.user.pk, label=values["label"], scopes=values["scopes"],
            allowed_ips=values["allowed_ips"], expires_at=values["expires_at"],
            request=request)
        return Response({**ApiKeyOutput(key).data, "secret": secret}, status=201)


class ApiKeyRevokeApi(APIView):
    """Revoke one of the user's keys: refused from the next request on, in every worker."""

    authentication_classes = _AUTHENTICATION

    @extend_schema(request=None, responses={200: ApiKeyOutput})
    def post(self, request, key_id: str):
        key = services.api_key_revoke(user_id=request.user.pk, key_id=key_id,
                                      request=request)
        return Response(ApiKeyOutput(key).data)
