"""Currency codes (and the wallet columns referencing them), wallet types, system accounts,
journal and hold keys compare byte-exact (a binary collation on MariaDB/MySQL and
PostgreSQL: see apps.core.fields). Django re-creates the foreign keys to
Currency.code around the change, so both sides share the collation MariaDB requires."""

import apps.core.fields
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('wallets', '0001_initial'),
    ]

    operations = [
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
