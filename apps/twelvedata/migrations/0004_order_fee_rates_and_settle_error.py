"""Orders keep the fee rates they were placed with, and the reason an order was set aside
because it could not settle.

Existing orders take their market's current rates (what their holds were most likely
sized with: rates could change before only through the admin)."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def rates_from_market(apps, schema_editor):
    TwdMarket = apps.get_model("twelvedata", "TwdMarket")
    TwdOrder = apps.get_model("twelvedata", "TwdOrder")
    market = TwdMarket.objects.filter(pk=OuterRef("market_id"))
    TwdOrder.objects.update(maker_fee_rate=Subquery(market.values("maker_fee")[:1]),
                            taker_fee_rate=Subquery(market.values("taker_fee")[:1]))


class Migration(migrations.Migration):

    dependencies = [
        ('twelvedata', '0003_exact_identifiers'),
    ]

    operations = [
        migrations.AddField(
            model_name='twdorder',
            name='maker_fee_rate',
            field=models.DecimalField(decimal_places=6, max_digits=8, null=True),
        ),
        migrations.AddField(
            model_name='twdorder',
            name='taker_fee_rate',
            field=models.DecimalField(decimal_places=6, max_digits=8, null=True),
        ),
        migrations.RunPython(rates_from_market, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='twdorder',
            name='maker_fee_rate',
            field=models.DecimalField(decimal_places=6, max_digits=8),
        ),
        migrations.AlterField(
            model_name='twdorder',
            name='taker_fee_rate',
            field=models.DecimalField(decimal_places=6, max_digits=8),
        ),
        migrations.AddField(
            model_name='twdorder',
            name='settle_error',
            field=models.TextField(blank=True, default=''),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='twdorder',
            name='settle_error_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddConstraint(
            model_name='twdorder',
            constraint=models.CheckConstraint(condition=models.Q(('maker_fee_rate__gte', 0), ('maker_fee_rate__lt', 1), ('taker_fee_rate__gte', 0), ('taker_fee_rate__lt', 1)), name='twd_order_fee_rates'),
        ),
    ]
