"""Deposit endpoints (thin: parse, call a selector or service, render): a user's intents,
and the payment chain's webhook."""
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from apps.accounts.lockout import client_address
from apps.core import conf
from apps.core.api import AmountField, CursorPage, ErrorOutput, paged_response
from apps.deposits import selectors, services, signatures
from apps.deposits.models import DepositIntent
from apps.deposits.tasks import process_event_task


class IntentOutput(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    amount = AmountField(help_text="Credited to your SPOT wallet once paid.")
    currency = serializers.CharField()
    coin = serializers.CharField()
    rate = AmountField(help_text="Units of currency per coin, fixed at creation.")
    pay_amount = AmountField(help_text="Coin to pay on the payment chain.")
    status = serializers.ChoiceField(choices=DepositIntent.Status.choices)
    expires_at = serializers.DateTimeField()
    payment_url = serializers.SerializerMethodField()
    tx_hash = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    confirmed_at = serializers.DateTimeField(allow_null=True)

    def get_payment_url(self, intent: DepositIntent) -> str:
        return selectors.payment_url(intent)


class IntentInput(serializers.Serializer):
    amount = AmountField(help_text="In the platform's deposit currency (e.g. USDT).")


class IntentListApi(APIView):
    pagination_class = CursorPage

    @extend_schema(responses=IntentOutput(many=True))
    def get(self, request):
        return paged_response(self, request, selectors.intent_list(user_id=request.user.pk),
                              IntentOutput)

    @extend_schema(request=IntentInput, responses={
        201: IntentOutput,
        409: OpenApiResponse(ErrorOutput, description="too_many_pending_intents: you hold "
                             "DEPOSIT_MAX_PENDING_INTENTS unpaid intents already.")})
    def post(self, request):
        data = IntentInput(data=request.data)
        data.is_valid(raise_exception=True)
        intent = services.intent_create(user_id=request.user.pk,
                                        amount=data.validated_data["amount"])
        return Response(IntentOutput(intent).data, status=status.HTTP_201_CREATED)


class IntentDetailApi(APIView):
    @extend_schema(responses=IntentOutput)
    def get(self, request, intent_id):
        intent = selectors.intent_get(user_id=request.user.pk, public_id=str(intent_id))
        return Response(IntentOutput(intent).data)


class WebhookInput(serializers.Serializer):
    """What the payment chain posts (documentation: the body is verified and read as raw
    bytes by the service, not by this serializer)."""

    intent = serializers.UUIDField(help_text="The intent's id, as the API gave it.")
    tx_hash = serializers.RegexField(services.TX_HASH.pattern,
                                     help_text="The chain transaction that paid it.")
    amount = AmountField(help_text="Coin paid.")


class WebhookAccepted(serializers.Serializer):
    event = serializers.IntegerField(help_text="The recorded delivery.")
    status = serializers.CharField(help_text="Always \"accepted\": decided by a task.")


class WebhookThrottle(SimpleRateThrottle):
    """At most ``DEPOSIT_WEBHOOK_RATE`` deliveries per source address (DRF's rate format,
    counted in the default cache like the API's other throttles)."""

    scope = "deposit_webhook"

    def get_rate(self) -> str:
        return conf.DEPOSIT_WEBHOOK_RATE

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def _refusal(text: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorOutput, description=text)


class WebhookApi(APIView):
    """The payment chain's confirmation of a payment (signed, see README "Deposits")."""

    # The HMAC signature is the authentication. Its own throttle, per source address: the
    # chain's retries must not meet the anonymous rate, a flood still meets a limit.
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [WebhookThrottle]

    @extend_schema(
        request=WebhookInput,
        parameters=[
            OpenApiParameter(signatures.TIMESTAMP_HEADER, str, OpenApiParameter.HEADER,
                             required=True, description="Unix time of signing, seconds."),
            OpenApiParameter(signatures.SIGNATURE_HEADER, str, OpenApiParameter.HEADER,
                             required=True,
                             description="sha256=<hex HMAC-SHA256 of '<timestamp>.<body>'>"),
        ],
        responses={
            202: WebhookAccepted,
            400: _refusal("Signed, but the body is not {intent, tx_hash, amount} (the "
                          "delivery is recorded as INVALID)."),
            401: _refusal("Refused, nothing recorded: missing or bad signature, a changed "
                          "body (invalid_signature) or a timestamp outside the window "
                          "(stale_timestamp)."),
            403: _refusal("Refused, nothing recorded: the source address is not in "
                          "DEPOSIT_WEBHOOK_ALLOWED_IPS."),
            413: _refusal("The body is over DEPOSIT_WEBHOOK_MAX_BODY_BYTES."),
        })
    def post(self, request):
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if declared.isdigit() and int(declared) > conf.DEPOSIT_WEBHOOK_MAX_BODY_BYTES:
            raise services.TooLarge(  # before reading it
                f"The body is over {conf.DEPOSIT_WEBHOOK_MAX_BODY_BYTES} bytes.")
        event = services.event_receive(
            body=request.body, timestamp=request.headers.get(signatures.TIMESTAMP_HEADER),
            signature=request.headers.get(signatures.SIGNATURE_HEADER),
            source_ip=client_address(request), enqueue=process_event_task.delay)
        return Response({"event": event.pk, "status": "accepted"},
                        status=status.HTTP_202_ACCEPTED)
