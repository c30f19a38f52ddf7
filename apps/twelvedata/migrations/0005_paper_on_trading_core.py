"""Paper trading moves onto the trading core: each TwelveData market gets its paper
venue ``trading.Market`` (currencies, steps from its precisions, fees, status, flags), and
every paper order with its history becomes a ``trading.Order`` (same id, so a trader's order
ids do not change) with, for a filled one, a ``trading.Fill`` holding its evidence. Holds and
journals keep their keys (``twd:order:<id>``, ``twd:fill:<id>``): nothing is re-settled and
nothing is re-imported. Reversible while no order has more than one fill."""
from decimal import Decimal

import apps.core.fields
import django.db.models.deletion
from django.core.management.color import no_style
from django.db import migrations, models

PAPER = "paper"
_CHUNK = 1000
_TO_CORE = {"OPEN": "OPEN", "CLOSED": "FILLED", "CANCELED": "CANCELED"}
_FROM_CORE = {"OPEN": "OPEN", "FILLED": "CLOSED", "CANCELED": "CANCELED"}


def _keep_timestamps(*models_):
    # Historical models still stamp auto_now(_add) fields on save: the moved rows keep
    # their own times instead.
    for model in models_:
        for field in model._meta.concrete_fields:
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                field.auto_now = field.auto_now_add = False


def _step(places):
    return Decimal(1).scaleb(-places)


def _places(step):
    return max(0, -step.normalize().as_tuple().exponent)


def _evidence(order):
    return {"quote": {
        "venue": PAPER, "symbol": order.market.symbol, "price": str(order.quote_price),
        "bid": None if order.quote_bid is None else str(order.quote_bid),
        "ask": None if order.quote_ask is None else str(order.quote_ask),
        "timestamp": order.quote_timestamp.isoformat() if order.quote_timestamp else None,
        "source": order.quote_source}}


def forward(apps, schema_editor):
    TwdMarket = apps.get_model("twelvedata", "TwdMarket")
    TwdOrder = apps.get_model("twelvedata", "TwdOrder")
    Market = apps.get_model("trading", "Market")
    Order = apps.get_model("trading", "Order")
    Fill = apps.get_model("trading", "Fill")
    _keep_timestamps(Market, Order, Fill)
    market_of = {}
    for twd in TwdMarket.objects.order_by("pk").iterator():
        market = Market.objects.create(
            venue=PAPER, symbol=twd.symbol, base_currency=twd.base_currency,
            quote_currency=twd.quote_currency, kind="spot",
            tick_size=_step(twd.price_precision), lot_size=_step(twd.amount_precision),
            maker_fee=twd.maker_fee, taker_fee=twd.taker_fee,
            status="enabled" if twd.status else "disabled", is_trending=twd.is_trending,
            is_hot=twd.is_hot, created_at=twd.created_at, updated_at=twd.updated_at)
        TwdMarket.objects.filter(pk=twd.pk).update(market=market)
        market_of[twd.pk] = market.pk
    orders = TwdOrder.objects.select_related("market").order_by("pk")
    last = 0
    while True:
        chunk = list(orders.filter(pk__gt=last)[:_CHUNK])
        if not chunk:
            break
        last = chunk[-1].pk
        Order.objects.bulk_create([Order(
            id=o.pk, user_id=o.user_id, market_id=market_of[o.market_id], venue=PAPER,
            client_order_id=o.client_order_id, type=o.type, side=o.side,
            time_in_force="GTC", status=_TO_CORE[o.status], price=o.price,
            # A MARKET order's hold was sized at the price it filled at, at once.
            reference_price=o.price if o.price is not None else o.fill_price, amount=o.amount,
            filled=o.filled, remaining=o.remaining, cost=o.cost, fee=o.fee,
            fee_currency=o.fee_currency, maker_fee_rate=o.maker_fee_rate,
            taker_fee_rate=o.taker_fee_rate, hold_key=f"twd:order:{o.pk}",
            settle_error=o.settle_error, settle_error_at=o.settle_error_at,
            created_at=o.created_at, updated_at=o.updated_at,
            closed_at=(o.filled_at if o.status == "CLOSED"
                       else o.updated_at if o.status == "CANCELED" else None))
            for o in chunk])
        Fill.objects.bulk_create([Fill(
            order_id=o.pk, venue=PAPER, trade_id=f"{o.pk}-1", price=o.fill_price,
            amount=o.filled, quote_amount=o.cost, liquidity=o.liquidity or "TAKER", fee=o.fee,
            fee_currency=o.fee_currency, settlement_key=f"twd:fill:{o.pk}",
            evidence=_evidence(o), executed_at=o.filled_at or o.updated_at,
            created_at=o.filled_at or o.updated_at)
            for o in chunk if o.status == "CLOSED"])
    # Explicit ids leave PostgreSQL's sequence behind (MariaDB and SQLite move on their own).
    with schema_editor.connection.cursor() as cursor:
        for sql in schema_editor.connection.ops.sequence_reset_sql(no_style(), [Order]):
            cursor.execute(sql)


def refuse_irreversible(apps, schema_editor):
    # The last operation, so the first reversed: MariaDB cannot roll back the schema
    # changes a refusal after them would leave half done.
    Order = apps.get_model("trading", "Order")
    Fill = apps.get_model("trading", "Fill")
    if Order.objects.filter(venue=PAPER).exclude(status__in=_FROM_CORE).exists() or (
            Fill.objects.filter(venue=PAPER).values("order_id")
            .annotate(n=models.Count("id")).filter(n__gt=1).exists()):
        raise RuntimeError("Paper orders with partial fills or states the old table cannot "
                           "hold exist: this migration cannot be reversed.")


def backward(apps, schema_editor):
    TwdMarket = apps.get_model("twelvedata", "TwdMarket")
    TwdOrder = apps.get_model("twelvedata", "TwdOrder")
    Order = apps.get_model("trading", "Order")
    Fill = apps.get_model("trading", "Fill")
    _keep_timestamps(TwdOrder)
    orders = Order.objects.filter(venue=PAPER)
    for twd in TwdMarket.objects.select_related("market"):
        m = twd.market
        TwdMarket.objects.filter(pk=twd.pk).update(
            base_currency=m.base_currency, quote_currency=m.quote_currency,
            price_precision=_places(m.tick_size), amount_precision=_places(m.lot_size),
            maker_fee=m.maker_fee, taker_fee=m.taker_fee, status=m.status == "enabled",
            is_trending=m.is_trending, is_hot=m.is_hot)
    twd_of = dict(TwdMarket.objects.values_list("market_id", "pk"))
    fills = {f.order_id: f for f in Fill.objects.filter(venue=PAPER)}
    for o in orders.order_by("pk").iterator():
        fill = fills.get(o.pk)
        quote = (fill.evidence.get("quote") or {}) if fill else {}
        TwdOrder.objects.create(
            id=o.pk, user_id=o.user_id, market_id=twd_of[o.market_id],
            client_order_id=o.client_order_id, type=o.type, side=o.side,
            status=_FROM_CORE[o.status], price=o.price, amount=o.amount, filled=o.filled,
            remaining=o.remaining, cost=o.cost, fee=o.fee, fee_currency=o.fee_currency,
            liquidity=fill.liquidity if fill else "", maker_fee_rate=o.maker_fee_rate,
            taker_fee_rate=o.taker_fee_rate, settle_error=o.settle_error,
            settle_error_at=o.settle_error_at, fill_price=fill.price if fill else None,
            quote_price=quote.get("price"), quote_bid=quote.get("bid"),
            quote_ask=quote.get("ask"), quote_timestamp=quote.get("timestamp"),
            quote_source=quote.get("source") or "", filled_at=fill.executed_at if fill else None,
            created_at=o.created_at, updated_at=o.updated_at)
    Fill.objects.filter(venue=PAPER).delete()
    orders.delete()
    TwdMarket.objects.update(market=None)
    apps.get_model("trading", "Market").objects.filter(venue=PAPER).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('trading', '0001_initial'),
        ('twelvedata', '0004_order_fee_rates_and_settle_error'),
    ]

    operations = [
        migrations.AddField(
            model_name='twdmarket',
            name='market',
            field=models.OneToOneField(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='twd', to='trading.market'),
        ),
        migrations.RunPython(forward, backward),
        # Defaults only so that reversing can add these columns back to a table with rows
        # (SQLite refuses a NOT NULL column without one); ``backward`` then fills them.
        migrations.AlterField(
            model_name='twdmarket',
            name='base_currency',
            field=apps.core.fields.ExactCharField(default='', max_length=16),
        ),
        migrations.AlterField(
            model_name='twdmarket',
            name='quote_currency',
            field=apps.core.fields.ExactCharField(default='', max_length=16),
        ),
        migrations.RemoveConstraint(
            model_name='twdmarket',
            name='twd_market_fee_rates',
        ),
        migrations.RemoveConstraint(
            model_name='twdmarket',
            name='twd_market_precisions',
        ),
        migrations.RemoveIndex(
            model_name='twdmarket',
            name='twelvedata__type_b90593_idx',
        ),
        migrations.RemoveField(
            model_name='twdmarket',
            name='amount_precision',
        ),
        migrations.RemoveField(
            model_name='twdmarket',
            name='base_currency',
        ),
        migrations.RemoveField(
            model_name='twdmarket',
            name='is_hot',
        ),
        migrations.RemoveField(
            model_name='twdmarket',
            name='is_trending',
        ),
        migrations.RemoveField(
            model_name='twdmarket',
            name='maker_fee',
        ),
        migrations.RemoveField(
            model_name='twdmarket',
            name='price_precision',
        ),
        migrations.RemoveField(
            model_name='twdmarket',
            name='quote_currency',
        ),
        migrations.RemoveField(
            model_name='twdmarket',
            name='status',
        ),
        migrations.RemoveField(
            model_name='twdmarket',
            name='taker_fee',
        ),
        migrations.AddIndex(
            model_name='twdmarket',
            index=models.Index(fields=['type'], name='twd_market_type'),
        ),
        migrations.AlterField(
            model_name='twdmarket',
            name='market',
            field=models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='twd', to='trading.market'),
        ),
        migrations.DeleteModel(
            name='TwdOrder',
        ),
        migrations.RunPython(migrations.RunPython.noop, refuse_irreversible),
    ]
