"""Wallet endpoints (thin: parse, call a selector or service, render)."""
import uuid

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import AmountField, CursorPage, paged_response
from apps.core.identifiers import IdentifierField, accepted_pattern
from apps.core.schema import error_responses
from apps.wallets import selectors, services
from apps.wallets.constants import WalletType


class WalletOutput(serializers.Serializer):
    type = serializers.CharField()
    currency = serializers.CharField(source="currency_id")
    balance = AmountField()
    held = AmountField()
    available = AmountField()
    updated_at = serializers.DateTimeField()


class WalletListApi(APIView):
    @extend_schema(responses=WalletOutput(many=True))
    def get(self, request):
        wallets = selectors.wallet_list(user_id=request.user.pk)
        return Response(WalletOutput(wallets, many=True).data)


class EntryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    journal = serializers.CharField(source="journal.key")
    kind = serializers.CharField(source="journal.kind")
    memo = serializers.CharField(source="journal.memo")
    amount = serializers.SerializerMethodField()
    balance_after = AmountField()
    created_at = serializers.DateTimeField()

    def get_amount(self, entry) -> str:
        return format(entry.amount.normalize(), "f") if entry.amount else "0"


class LedgerApi(APIView):
    pagination_class = CursorPage

    class PathInput(serializers.Serializer):
        currency = IdentifierField(kind="currency")

    @extend_schema(responses=EntryOutput(many=True), parameters=[
        OpenApiParameter("currency", str, OpenApiParameter.PATH,
                         pattern=accepted_pattern("currency"), description="e.g. USDT")])
    def get(self, request, wallet_type: str, currency: str):
        path = self.PathInput(data={"currency": currency})
        path.is_valid(raise_exception=True)
        wallet = selectors.wallet_get(user_id=request.user.pk, wallet_type=wallet_type,
                                      currency=path.validated_data["currency"])
        return paged_response(self, request, selectors.wallet_entries(wallet=wallet),
                              EntryOutput)


class TransferInput(serializers.Serializer):
    currency = IdentifierField(kind="currency")
    amount = AmountField()
    from_type = serializers.ChoiceField(choices=WalletType.choices)
    to_type = serializers.ChoiceField(choices=WalletType.choices)
    client_transfer_id = IdentifierField(
        kind="client_id", required=False,
        help_text="Your id for this transfer; a retry with the same id transfers once.",
    )


class TransferApi(APIView):
    @extend_schema(request=TransferInput,
                   responses={201: WalletOutput(many=True), **error_responses(409)})
    def post(self, request):
        data = TransferInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        client_id = v.get("client_transfer_id") or uuid.uuid4().hex
        journal = services.transfer(
            user_id=request.user.pk, currency=v["currency"], amount=v["amount"],
            from_type=v["from_type"], to_type=v["to_type"],
            key=f"transfer:{request.user.pk}:{client_id}",
        )
        wallets = selectors.wallet_list(user_id=request.user.pk).filter(entries__journal=journal)
        return Response(WalletOutput(wallets, many=True).data, status=status.HTTP_201_CREATED)
