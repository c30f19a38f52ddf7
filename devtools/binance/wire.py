"""Binance's JSON shapes, rendered from the emulator's state.

Decimal amounts go out as Binance writes them: strings with eight decimals
(``"0.01000000"``); times are Unix milliseconds. See ``wire-formats.md`` Part 2.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .exchange import Book, Exchange, Fill, Order, OrderEvent, PublicTrade
from .markets import Perpetual, SpotSymbol


def d8(value: Decimal) -> str:
    """Binance's eight-decimal string."""
    return f"{value:.8f}"


def plain(value: Decimal) -> str:
    """A filter value without trailing zeros (``"0.10"`` stays as the listing wrote it)."""
    return f"{value:f}"


def spot_symbol(spec: SpotSymbol) -> dict[str, Any]:
    return {
        "symbol": spec.symbol, "status": spec.status,
        "baseAsset": spec.base, "baseAssetPrecision": spec.base_precision,
        "quoteAsset": spec.quote, "quotePrecision": spec.quote_precision,
        "quoteAssetPrecision": spec.quote_precision,
        "baseCommissionPrecision": spec.base_precision,
        "quoteCommissionPrecision": spec.quote_precision,
        "orderTypes": list(spec.order_types),
        "icebergAllowed": False, "ocoAllowed": False, "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": False,
        "cancelReplaceAllowed": False, "amendAllowed": False,
        "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": d8(spec.min_price),
             "maxPrice": d8(spec.max_price), "tickSize": d8(spec.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": d8(spec.min_qty),
             "maxQty": d8(spec.max_qty), "stepSize": d8(spec.step_size)},
            {"filterType": "NOTIONAL", "minNotional": d8(spec.min_notional),
             "applyMinToMarket": True, "maxNotional": d8(spec.max_notional),
             "applyMaxToMarket": False, "avgPriceMins": 5},
            {"filterType": "MARKET_LOT_SIZE", "minQty": d8(Decimal(0)),
             "maxQty": d8(spec.max_qty), "stepSize": d8(Decimal(0))},
        ],
        "permissions": [], "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER",
                                            "EXPIRE_BOTH"],
    }


def exchange_info(exchange: Exchange, symbols: list[str] | None) -> dict[str, Any]:
    specs = [book.spec for book in exchange.books.values()
             if symbols is None or book.spec.symbol in symbols]
    return {"timezone": "UTC", "serverTime": exchange.now_ms(),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                 "limit": 6000},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
                 "limit": 100},
            ],
            "exchangeFilters": [], "symbols": [spot_symbol(spec) for spec in specs]}


def perpetual(contract: Perpetual) -> dict[str, Any]:
    return {
        "symbol": contract.symbol, "pair": contract.symbol, "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000, "onboardDate": 1569398400000, "status": "TRADING",
        "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
        "baseAsset": contract.base, "quoteAsset": contract.quote,
        "marginAsset": contract.quote, "pricePrecision": contract.price_precision,
        "quantityPrecision": contract.quantity_precision, "baseAssetPrecision": 8,
        "quotePrecision": 8, "underlyingType": "COIN", "underlyingSubType": [],
        "settlePlan": 0, "triggerProtect": "0.0500", "liquidationFee": "0.012500",
        "marketTakeBound": "0.05", "maxMoveOrderLimit": 10000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": plain(contract.tick_size),
             "maxPrice": "4529764", "tickSize": plain(contract.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": plain(contract.min_qty),
             "maxQty": plain(contract.max_qty), "stepSize": plain(contract.step_size)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": plain(contract.min_qty),
             "maxQty": plain(contract.max_qty), "stepSize": plain(contract.step_size)},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": plain(contract.min_notional)},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500",
             "multiplierDown": "0.9500", "multiplierDecimal": "4"},
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT",
                       "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
    }


def futures_exchange_info(exchange: Exchange) -> dict[str, Any]:
    return {"timezone": "UTC", "serverTime": exchange.now_ms(), "futuresType": "U_MARGINED",
            "rateLimits": [], "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True,
                        "autoAssetExchange": "-10000"}],
            "symbols": [perpetual(contract) for contract in exchange.perpetuals]}


def ticker_24hr(book: Book) -> dict[str, Any]:
    bid = book.best_bid() or (Decimal(0), Decimal(0))
    ask = book.best_ask() or (Decimal(0), Decimal(0))
    change = book.last - book.open
    percent = (change / book.open * 100).quantize(Decimal("0.001")) if book.open else 0
    weighted = book.quote_volume / book.volume if book.volume else book.last
    return {
        "symbol": book.spec.symbol, "priceChange": d8(change),
        "priceChangePercent": f"{percent:.3f}", "weightedAvgPrice": d8(weighted),
        "prevClosePrice": d8(book.open), "lastPrice": d8(book.last),
        "lastQty": d8(book.last_qty), "bidPrice": d8(bid[0]), "bidQty": d8(bid[1]),
        "askPrice": d8(ask[0]), "askQty": d8(ask[1]), "openPrice": d8(book.open),
        "highPrice": d8(book.high), "lowPrice": d8(book.low), "volume": d8(book.volume),
        "quoteVolume": d8(book.quote_volume), "openTime": book.open_time,
        "closeTime": book.close_time, "firstId": book.first_trade_id,
        "lastId": book.last_trade_id, "count": book.count,
    }


def book_ticker(book: Book) -> dict[str, Any]:
    bid = book.best_bid() or (Decimal(0), Decimal(0))
    ask = book.best_ask() or (Decimal(0), Decimal(0))
    return {"symbol": book.spec.symbol, "bidPrice": d8(bid[0]), "bidQty": d8(bid[1]),
            "askPrice": d8(ask[0]), "askQty": d8(ask[1])}


def price_ticker(book: Book) -> dict[str, Any]:
    return {"symbol": book.spec.symbol, "price": d8(book.last)}


def depth(book: Book, limit: int) -> dict[str, Any]:
    return {"lastUpdateId": book.update_id,
            "bids": [[d8(p), d8(q)] for p, q in book.bids[:limit]],
            "asks": [[d8(p), d8(q)] for p, q in book.asks[:limit]]}


def public_trade(trade: PublicTrade) -> dict[str, Any]:
    return {"id": trade.id, "price": d8(trade.price), "qty": d8(trade.qty),
            "quoteQty": d8(trade.price * trade.qty), "time": trade.time,
            "isBuyerMaker": trade.buyer_is_maker, "isBestMatch": True}


def aggregate_trade(trade: PublicTrade) -> dict[str, Any]:
    return {"a": trade.id, "p": d8(trade.price), "q": d8(trade.qty), "f": trade.id,
            "l": trade.id, "T": trade.time, "m": trade.buyer_is_maker, "M": True}


def order(order: Order) -> dict[str, Any]:
    """A query / openOrders / allOrders entry."""
    return {
        "symbol": order.symbol, "orderId": order.order_id, "orderListId": -1,
        "clientOrderId": order.client_order_id, "price": d8(order.price),
        "origQty": d8(order.orig_qty), "executedQty": d8(order.executed_qty),
        "cummulativeQuoteQty": d8(order.cumm_quote_qty), "status": order.status,
        "timeInForce": order.time_in_force, "type": order.type, "side": order.side,
        "stopPrice": d8(order.stop_price), "icebergQty": d8(Decimal(0)), "time": order.time,
        "updateTime": order.update_time, "isWorking": order.working_time != -1,
        "workingTime": order.working_time, "origQuoteOrderQty": d8(order.orig_quote_qty),
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


def new_order(order: Order, response_type: str) -> dict[str, Any]:
    """``POST /api/v3/order``'s reply in the ACK, RESULT or FULL form."""
    reply: dict[str, Any] = {"symbol": order.symbol, "orderId": order.order_id,
                             "orderListId": -1, "clientOrderId": order.client_order_id,
                             "transactTime": order.time}
    if response_type == "ACK":
        return reply
    reply.update({
        "price": d8(order.price), "origQty": d8(order.orig_qty),
        "executedQty": d8(order.executed_qty), "origQuoteOrderQty": d8(order.orig_quote_qty),
        "cummulativeQuoteQty": d8(order.cumm_quote_qty), "status": order.status,
        "timeInForce": order.time_in_force, "type": order.type, "side": order.side,
        "workingTime": order.working_time, "selfTradePreventionMode": "EXPIRE_MAKER",
    })
    if order.stop_price:
        reply["stopPrice"] = d8(order.stop_price)
    if response_type == "FULL":
        reply["fills"] = [{"price": d8(f.price), "qty": d8(f.qty),
                           "commission": d8(f.commission),
                           "commissionAsset": f.commission_asset, "tradeId": f.id}
                          for f in order.fills if not f.is_maker]
    return reply


def canceled_order(order: Order, cancel_client_id: str, now: int) -> dict[str, Any]:
    return {
        "symbol": order.symbol, "origClientOrderId": order.client_order_id,
        "orderId": order.order_id, "orderListId": -1, "clientOrderId": cancel_client_id,
        "transactTime": now, "price": d8(order.price), "origQty": d8(order.orig_qty),
        "executedQty": d8(order.executed_qty), "origQuoteOrderQty": d8(order.orig_quote_qty),
        "cummulativeQuoteQty": d8(order.cumm_quote_qty), "status": order.status,
        "timeInForce": order.time_in_force, "type": order.type, "side": order.side,
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


def my_trade(fill: Fill) -> dict[str, Any]:
    return {"symbol": fill.symbol, "id": fill.id, "orderId": fill.order_id,
            "orderListId": -1, "price": d8(fill.price), "qty": d8(fill.qty),
            "quoteQty": d8(fill.quote_qty), "commission": d8(fill.commission),
            "commissionAsset": fill.commission_asset, "time": fill.time,
            "isBuyer": fill.is_buyer, "isMaker": fill.is_maker, "isBestMatch": True}


def account(exchange: Exchange, omit_zero: bool) -> dict[str, Any]:
    maker = d8(exchange.maker_fee)
    taker = d8(exchange.taker_fee)
    balances = [{"asset": asset, "free": d8(free), "locked": d8(locked)}
                for asset, (free, locked) in exchange.balances().items()
                if not omit_zero or free or locked]
    return {
        "makerCommission": int(exchange.maker_fee * 10000),
        "takerCommission": int(exchange.taker_fee * 10000),
        "buyerCommission": 0, "sellerCommission": 0,
        "commissionRates": {"maker": maker, "taker": taker, "buyer": d8(Decimal(0)),
                            "seller": d8(Decimal(0))},
        "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
        "requireSelfTradePrevention": False, "preventSor": False,
        "updateTime": exchange.now_ms(), "accountType": "SPOT", "balances": balances,
        "permissions": ["SPOT"], "uid": 354937868,
    }


# -- WebSocket events ----------------------------------------------------------------------

def ws_ticker(book: Book, now: int) -> dict[str, Any]:
    rest = ticker_24hr(book)
    return {"e": "24hrTicker", "E": now, "s": book.spec.symbol, "p": rest["priceChange"],
            "P": rest["priceChangePercent"], "w": rest["weightedAvgPrice"],
            "x": rest["prevClosePrice"], "c": rest["lastPrice"], "Q": rest["lastQty"],
            "b": rest["bidPrice"], "B": rest["bidQty"], "a": rest["askPrice"],
            "A": rest["askQty"], "o": rest["openPrice"], "h": rest["highPrice"],
            "l": rest["lowPrice"], "v": rest["volume"], "q": rest["quoteVolume"],
            "O": book.open_time, "C": now, "F": book.first_trade_id,
            "L": book.last_trade_id, "n": book.count}


def ws_mini_ticker(book: Book, now: int) -> dict[str, Any]:
    return {"e": "24hrMiniTicker", "E": now, "s": book.spec.symbol, "c": d8(book.last),
            "o": d8(book.open), "h": d8(book.high), "l": d8(book.low),
            "v": d8(book.volume), "q": d8(book.quote_volume)}


def ws_book_ticker(book: Book) -> dict[str, Any]:
    rest = book_ticker(book)
    return {"u": book.update_id, "s": book.spec.symbol, "b": rest["bidPrice"],
            "B": rest["bidQty"], "a": rest["askPrice"], "A": rest["askQty"]}


def ws_depth_update(symbol: str, first_id: int, last_id: int, now: int,
                    bids: list[tuple[Decimal, Decimal]],
                    asks: list[tuple[Decimal, Decimal]]) -> dict[str, Any]:
    return {"e": "depthUpdate", "E": now, "s": symbol, "U": first_id, "u": last_id,
            "b": [[d8(p), d8(q)] for p, q in bids], "a": [[d8(p), d8(q)] for p, q in asks]}


def ws_partial_depth(book: Book, levels: int) -> dict[str, Any]:
    return depth(book, levels)


def ws_trade(trade: PublicTrade) -> dict[str, Any]:
    return {"e": "trade", "E": trade.time, "s": trade.symbol, "t": trade.id,
            "p": d8(trade.price), "q": d8(trade.qty), "T": trade.time,
            "m": trade.buyer_is_maker, "M": True}


def ws_execution_report(event: OrderEvent, now: int) -> dict[str, Any]:
    """The user data stream's ``executionReport`` for one change of an order (for a cancel,
    ``c`` is the cancel's own client id and ``C`` the order's, as Binance sends them)."""
    order, exec_type, fill = event.order, event.exec_type, event.fill
    client_id, original = order.client_order_id, ""
    if event.cancel_id is not None:
        client_id, original = event.cancel_id, order.client_order_id
    return {
        "e": "executionReport", "E": now, "s": order.symbol, "c": client_id,
        "S": order.side, "o": order.type, "f": order.time_in_force, "q": d8(order.orig_qty),
        "p": d8(order.price), "P": d8(order.stop_price), "F": d8(Decimal(0)), "g": -1,
        "C": original, "x": exec_type, "X": order.status, "r": "NONE", "i": order.order_id,
        "l": d8(fill.qty if fill else Decimal(0)),
        "z": d8(order.executed_qty), "L": d8(fill.price if fill else Decimal(0)),
        "n": d8(fill.commission if fill else Decimal(0)),
        "N": fill.commission_asset if fill else None, "T": order.update_time,
        "t": fill.id if fill else -1, "v": 0, "I": 0, "w": order.is_open,
        "m": fill.is_maker if fill else False, "M": False, "O": order.time,
        "Z": d8(order.cumm_quote_qty),
        "Y": d8(fill.quote_qty if fill else Decimal(0)),
        "Q": d8(order.orig_quote_qty), "W": order.working_time, "V": "EXPIRE_MAKER",
    }


def ws_account_position(exchange: Exchange, assets: set[str], now: int) -> dict[str, Any]:
    return {"e": "outboundAccountPosition", "E": now, "u": now,
            "B": [{"a": asset, "f": d8(exchange.free[asset]), "l": d8(exchange.locked[asset])}
                  for asset in sorted(assets) if asset in exchange.free]}
