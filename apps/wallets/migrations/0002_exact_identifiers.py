"""Currency codes (and the wallet columns referencing them), wallet types, system accounts,
journal and hold keys compare byte-exact (a binary collation on MariaDB/MySQL and
PostgreSQL: see apps.core.fields). Django re-creates the foreign keys to
Currency.code around the change, so both sides share the collation MariaDB requires.

A wallet written under a look-alike of its currency's code (which a folding collation let
through) would no longer find its currency: the migration stops first and names it, for
an operator to correct with reversals, rather than fail half-way on the foreign key."""

import apps.core.fields
from django.db import migrations


def refuse_look_alike_wallets(apps, schema_editor):
    codes = set(apps.get_model("wallets", "Currency").objects.values_list("code", flat=True))
    strays = [(pk, currency) for pk, currency in apps.get_model("wallets", "Wallet").objects
              .values_list("pk", "currency_id") if currency not in codes]
    if strays:
        raise RuntimeError(
            f"wallets whose currency matches no Currency.code exactly: {strays[:20]}; move "
            "their balances to the real currency's wallets and remove them, then migrate")


class Migration(migrations.Migration):

    dependencies = [
        ('wallets', '0001_initial'),
    ]

    operations = [
        migrations.RunPython(refuse_look_alike_wallets, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='currency',
            name='code',
            field=apps.core.fields.ExactCharField(max_length=16, primary_key=True, serialize=False),
        ),
        migrations.AlterField(
            model_name='hold',
            name='key',
            field=apps.core.fields.ExactCharField(max_length=128, unique=True),
        ),
        migrations.AlterField(
            model_name='journal',
            name='key',
            field=apps.core.fields.ExactCharField(help_text='Idempotency key.', max_length=128, unique=True),
        ),
        migrations.AlterField(
            model_name='journal',
            name='kind',
            field=apps.core.fields.ExactCharField(choices=[('DEPOSIT', 'Deposit'), ('WITHDRAWAL', 'Withdrawal'), ('TRANSFER', 'Transfer'), ('TRADE', 'Trade settlement'), ('FAUCET', 'Paper faucet grant'), ('ADJUSTMENT', 'Admin adjustment'), ('REVERSAL', 'Reversal')], max_length=16),
        ),
        migrations.AlterField(
            model_name='wallet',
            name='system',
            field=apps.core.fields.ExactCharField(blank=True, choices=[('EXTERNAL', 'External (deposits/withdrawals)'), ('PAPER_FAUCET', 'Paper faucet'), ('FEES', 'Fees'), ('EXCHANGE_OMNIBUS', 'Exchange omnibus'), ('ADJUSTMENTS', 'Admin adjustments'), ('PAPER_MARKET', 'Paper market')], max_length=32, null=True),
        ),
        migrations.AlterField(
            model_name='wallet',
            name='type',
            field=apps.core.fields.ExactCharField(choices=[('SPOT', 'Spot'), ('FUTURES', 'Futures'), ('ECO', 'Ecosystem'), ('PAPER', 'Paper trading')], max_length=8),
        ),
    ]
