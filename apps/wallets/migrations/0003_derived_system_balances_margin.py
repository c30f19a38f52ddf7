"""System wallets stop being hot rows; margin holds for futures positions.

No posting locks or writes a system wallet's row any more: its balance is the sum of its
entries. This migration checks that each system wallet's ``balance`` column equals the sum
of its entries (so that setting it aside loses nothing) and stops, naming them, if one does
not (a ledger to repair with reversals first); then sets the column to 0, which a
constraint keeps. System legs written from now on have ``balance_after`` NULL; those
written before keep the running balance they had then. Reversed, the columns are restored
from the entries (``balance_after`` of the NULL system legs as a running sum in id order).

Also: the CLEARING and INSURANCE accounts, the PNL, FUNDING and LIQUIDATION journal kinds,
``Hold.kind`` (ORDER or MARGIN) and ``HoldChange`` (each margin hold change, once per key).
"""
from collections import defaultdict
from decimal import Decimal, localcontext

import apps.core.fields
import django.db.models.deletion
from django.db import migrations, models

from apps.core.money import EXACT


def _entry_sums(apps) -> dict[int, Decimal]:
    sums: dict[int, Decimal] = defaultdict(Decimal)
    rows = apps.get_model("wallets", "Entry").objects.filter(wallet__user__isnull=True)
    with localcontext(EXACT):
        for wallet_id, amount in rows.values_list("wallet_id", "amount").iterator():
            sums[wallet_id] += amount
    return sums


def refuse_wrong_system_balances(apps, schema_editor):
    # First, before any schema change: MariaDB cannot roll DDL back.
    wallets = apps.get_model("wallets", "Wallet").objects.filter(user__isnull=True)
    sums = _entry_sums(apps)
    wrong = [(pk, str(balance), str(sums[pk]))
             for pk, balance in wallets.order_by("pk").values_list("pk", "balance")
             if balance != sums[pk]]
    if wrong:
        raise RuntimeError(
            f"system wallets whose balance is not the sum of their entries (id, balance, "
            f"sum): {wrong[:20]}; repair the ledger (wallets_reconcile), then migrate")


def derive_system_balances(apps, schema_editor):
    apps.get_model("wallets", "Wallet").objects.filter(user__isnull=True).update(balance=0)


def restore_system_balances(apps, schema_editor):
    wallet_model = apps.get_model("wallets", "Wallet")
    entries = apps.get_model("wallets", "Entry").objects.filter(wallet__user__isnull=True)
    running: dict[int, Decimal] = defaultdict(Decimal)
    with localcontext(EXACT):
        for pk, wallet_id, amount, after in entries.order_by("pk").values_list(
                "pk", "wallet_id", "amount", "balance_after").iterator():
            running[wallet_id] += amount
            if after is None:
                entries.filter(pk=pk).update(balance_after=running[wallet_id])
    for wallet_id, balance in running.items():
        wallet_model.objects.filter(pk=wallet_id).update(balance=balance)


class Migration(migrations.Migration):

    dependencies = [
        ('wallets', '0002_exact_identifiers'),
    ]

    operations = [
        migrations.RunPython(refuse_wrong_system_balances, migrations.RunPython.noop),
        migrations.CreateModel(
            name='HoldChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', apps.core.fields.ExactCharField(help_text='Idempotency key.', max_length=128, unique=True)),
                ('amount', models.DecimalField(decimal_places=18, help_text='Signed: added > 0, released < 0.', max_digits=36)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'abstract': False,
            },
        ),
        migrations.AddField(
            model_name='hold',
            name='kind',
            field=models.CharField(choices=[('ORDER', 'Open order'), ('MARGIN', 'Position margin')], default='ORDER', max_length=8),
        ),
        migrations.AlterField(
            model_name='entry',
            name='balance_after',
            field=models.DecimalField(blank=True, decimal_places=18, help_text="The user wallet's balance after it; NULL on a system wallet (derived from its entries).", max_digits=36, null=True),
        ),
        migrations.AlterField(
            model_name='journal',
            name='kind',
            field=apps.core.fields.ExactCharField(choices=[('DEPOSIT', 'Deposit'), ('WITHDRAWAL', 'Withdrawal'), ('TRANSFER', 'Transfer'), ('TRADE', 'Trade settlement'), ('FAUCET', 'Paper faucet grant'), ('ADJUSTMENT', 'Admin adjustment'), ('REVERSAL', 'Reversal'), ('PNL', 'Realised futures PnL'), ('FUNDING', 'Futures funding'), ('LIQUIDATION', 'Futures liquidation')], max_length=16),
        ),
        migrations.AlterField(
            model_name='wallet',
            name='system',
            field=apps.core.fields.ExactCharField(blank=True, choices=[('EXTERNAL', 'External (deposits/withdrawals)'), ('PAPER_FAUCET', 'Paper faucet'), ('FEES', 'Fees'), ('EXCHANGE_OMNIBUS', 'Exchange omnibus'), ('ADJUSTMENTS', 'Admin adjustments'), ('PAPER_MARKET', 'Paper market'), ('CLEARING', 'Futures clearing'), ('INSURANCE', 'Insurance fund')], max_length=32, null=True),
        ),
        migrations.RunPython(derive_system_balances, restore_system_balances),
        migrations.AddConstraint(
            model_name='wallet',
            constraint=models.CheckConstraint(condition=models.Q(('user__isnull', False), ('balance', 0), _connector='OR'), name='wallet_system_balance_0'),
        ),
        migrations.AddField(
            model_name='holdchange',
            name='hold',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='changes', to='wallets.hold'),
        ),
    ]
