"""Spot endpoints under /api/v1/spot/ (thin: parse, call, render). Orders use the trading
core's views and renderings (``apps.trading.apis``), as the paper venue's do."""
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.spot import selectors
from apps.trading.apis import (
    MarketFieldsOutput,
    VenueOrderCancelApi,
    VenueOrderListCancelApi,
    VenueOrderListDetailApi,
    VenueOrderListsApi,
    VenueOrdersApi,
)
from apps.trading.constants import Venue


class SpotMarketOutput(MarketFieldsOutput):
    """A spot market: the core's terms and what the exchange says of it."""

    exchange_symbol = serializers.CharField(source="spot.exchange_symbol")
    order_types = serializers.ListField(source="spot.order_types",
                                        child=serializers.CharField(),
                                        help_text="The exchange's order types for this market.")
    is_trending = serializers.BooleanField()
    is_hot = serializers.BooleanField()


class SpotMarketListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=SpotMarketOutput(many=True))
    def get(self, request):
        return Response(SpotMarketOutput(selectors.markets_enabled(), many=True).data)


class SpotOrdersApi(VenueOrdersApi):
    """The user's spot orders; a new one is held at once and sent to the exchange after
    commit (NEW until the exchange answers; UNKNOWN until reconciliation when it does
    not)."""

    venue = Venue.SPOT


class SpotOrderCancelApi(VenueOrderCancelApi):
    venue = Venue.SPOT


class SpotOrderListsApi(VenueOrderListsApi):
    """OCO pairs and brackets on the spot venue: their stop legs are the platform's
    (triggered on the spot quotes), their limit legs and entries the exchange's."""

    venue = Venue.SPOT


class SpotOrderListDetailApi(VenueOrderListDetailApi):
    venue = Venue.SPOT


class SpotOrderListCancelApi(VenueOrderListCancelApi):
    venue = Venue.SPOT
