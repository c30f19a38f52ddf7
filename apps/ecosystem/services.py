"""The ecosystem venue's writes: listing tokens and markets.

Each function runs in one transaction and raises ``apps.core.errors`` (InvalidInput,
Conflict), never a bare exception. Money never moves here (orders go through the trading
core, balances through ``apps.wallets.services``).
"""
from decimal import Decimal

from django.db import IntegrityError, transaction

from apps.core.errors import Conflict, InvalidInput
from apps.core.identifiers import IdentifierError, parse_identifier
from apps.core.money import EXACT
from apps.ecosystem.models import Blockchain, EcoMarket, Status, Token
from apps.engine.services import sequences_ensure
from apps.marketdata.quotes import Quote
from apps.matching import StpMode
from apps.trading import services as trading_services
from apps.trading.constants import MarketStatus, Venue
from apps.trading.models import Market
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as wallet_services


def token_list(*, chain: Blockchain, symbol: str, name: str, contract_address: str,
               decimals: int) -> Token:
    """List a token of ``chain``; its symbol becomes a wallet currency with its decimals
    (an existing currency keeps its own). Raises InvalidInput (bad symbol or decimals),
    Conflict (symbol or contract already listed); a refused token creates no currency."""
    try:
        with transaction.atomic():
            wallet_services.currencies_ensure(currencies=[(symbol, name, decimals)])
            return Token.objects.create(chain=chain, symbol=symbol, name=name,
                                        contract_address=contract_address, decimals=decimals)
    except IntegrityError:
        raise Conflict(f"Token {symbol} or its contract is already listed.",
                       code="token_exists") from None


def market_create(*, base_token: Token, quote_currency: str, tick_size: Decimal,
                  lot_size: Decimal, maker_fee: Decimal = Decimal("0.001"),
                  taker_fee: Decimal = Decimal("0.002"), min_amount: Decimal = Decimal(0),
                  min_notional: Decimal = Decimal(0), stp_default: str = "CANCEL_TAKER",
                  enabled: bool = True) -> EcoMarket:
    """Create the ecosystem market ``<token>/<quote>``: its core market and its details.

    The quote unit (one tick times one lot) must be exact in the quote currency and the
    lot in the token's decimals, so the engine's integer trades settle without rounding
    (and the CLEARING account, the other side of both fills of a trade, nets to zero).
    Raises InvalidInput (steps, a quote currency not in canonical form, mode), NotFound
    (unknown quote currency), Conflict (the market exists)."""
    if base_token.status != Status.ACTIVE:
        raise InvalidInput(f"Token {base_token.symbol} is not active.")
    if stp_default not in StpMode.__members__:
        raise InvalidInput(f"stp_default must be one of {', '.join(StpMode.__members__)}.")
    try:
        canonical = parse_identifier(quote_currency, kind="currency")
    except IdentifierError as exc:
        raise InvalidInput(str(exc), code="invalid_currency") from None
    if canonical != quote_currency:
        # Never folded here: the symbol is stored as given, and must be the currency's.
        raise InvalidInput(f"Quote currency {quote_currency!r} must be written {canonical!r}.",
                           code="invalid_currency")
    quote_decimals = wallet_selectors.currency_decimals(code=quote_currency)
    for step, what in ((tick_size, "tick_size"), (lot_size, "lot_size")):
        if not isinstance(step, Decimal) or not step.is_finite() or step <= 0:
            raise InvalidInput(f"{what} must be a positive amount.")
    unit = EXACT.multiply(tick_size, lot_size)
    if unit % Decimal(1).scaleb(-quote_decimals) != 0:
        raise InvalidInput(f"tick_size x lot_size ({unit.normalize():f}) must be a multiple "
                           f"of one unit of {quote_currency} ({quote_decimals} decimals).")
    if lot_size % Decimal(1).scaleb(-base_token.decimals) != 0:
        raise InvalidInput(f"lot_size must be a multiple of one unit of "
                           f"{base_token.symbol} ({base_token.decimals} decimals).")
    symbol = f"{base_token.symbol}/{quote_currency}"
    try:
        with transaction.atomic():
            market = Market.objects.create(
                venue=Venue.ECOSYSTEM, symbol=symbol, base_currency=base_token.symbol,
                quote_currency=quote_currency, tick_size=tick_size, lot_size=lot_size,
                min_amount=min_amount, min_notional=min_notional, maker_fee=maker_fee,
                taker_fee=taker_fee,
                status=MarketStatus.ENABLED if enabled else MarketStatus.DISABLED)
            eco = EcoMarket.objects.create(market=market, base_token=base_token,
                                           stp_default=stp_default)
            sequences_ensure(market_ids=[market.pk])
    except IntegrityError:
        raise Conflict(f"Market {symbol} already exists on the ecosystem venue.",
                       code="market_exists") from None
    return eco


def quote_trigger(*, quote: Quote) -> int:
    """Fire the PENDING conditional orders of the quote's ecosystem market that it
    reaches (``trading.services.conditional_trigger``: locks, idempotence and batches are
    its); a fired order's command goes to the engine in its firing transaction. Returns
    how many fired; an unknown or disabled market fires nothing."""
    market = Market.objects.filter(venue=Venue.ECOSYSTEM, symbol=quote.symbol,
                                   status=MarketStatus.ENABLED).first()
    if market is None or market.symbol != quote.symbol:
        return 0
    return trading_services.conditional_trigger(market=market, quote=quote)
