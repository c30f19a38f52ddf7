"""Symbols, currency codes, the provider name and client order ids compare byte-exact
(a binary collation on MariaDB/MySQL and PostgreSQL: see apps.core.fields)."""

import apps.core.fields
import django.core.validators
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('twelvedata', '0002_provider_and_sweep_schedule'),
    ]

    operations = [
        migrations.AlterField(
            model_name='twdmarket',
            name='base_currency',
            field=apps.core.fields.ExactCharField(max_length=16),
        ),
        migrations.AlterField(
            model_name='twdmarket',
            name='quote_currency',
            field=apps.core.fields.ExactCharField(max_length=16),
        ),
        migrations.AlterField(
            model_name='twdmarket',
            name='symbol',
            field=apps.core.fields.ExactCharField(max_length=32, unique=True),
        ),
        migrations.AlterField(
            model_name='twdorder',
            name='client_order_id',
            field=apps.core.fields.ExactCharField(max_length=64),
        ),
        migrations.AlterField(
            model_name='twdorder',
            name='fee_currency',
            field=apps.core.fields.ExactCharField(blank=True, max_length=16),
        ),
        migrations.AlterField(
            model_name='twdprovider',
            name='name',
            field=apps.core.fields.ExactCharField(max_length=32, unique=True, validators=[django.core.validators.validate_slug]),
        ),
    ]
