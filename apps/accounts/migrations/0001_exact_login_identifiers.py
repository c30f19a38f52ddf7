"""Login identifiers compare byte-exact (DESIGN.md rule 6).

The user model's login column (``auth_user.username`` by default) and DRF's
``authtoken_token.key`` are created under the
database's default collation, which on MariaDB folds case, accents, width and ignorable
characters: "USER1", a full-width or zero-width-prefixed name logged in as user1, and an
upper-cased token authenticated as the real one. Those tables belong to other apps, so
this changes only the two columns' collation (to ``apps.core.fields.binary_collation``),
on MySQL/MariaDB only: SQLite and PostgreSQL's defaults already compare exactly.

A host project may swap the user model (``AUTH_USER_MODEL``): the table, column and length
are read from that model's USERNAME_FIELD, and a login field that is not a plain
``CharField`` (an e-mail field is one; a foreign key is not) is left as its owner made it.
"""
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import migrations, models

from apps.core.fields import binary_collation


def _columns(apps) -> list[tuple[str, str, int]]:
    """(table, column, max_length) of the login identifiers to make exact."""
    columns = [("authtoken_token", "key", 40)]
    user = apps.get_model(settings.AUTH_USER_MODEL)
    # A historical model has the fields but not the class's USERNAME_FIELD: that name
    # comes from the model itself, the field (column, length) from this migration's state.
    login = user._meta.get_field(get_user_model().USERNAME_FIELD)
    if isinstance(login, models.CharField) and login.max_length:
        columns.insert(0, (user._meta.db_table, login.column, login.max_length))
    return columns


def _modify(apps, schema_editor, *, exact: bool) -> None:
    connection = schema_editor.connection
    if connection.vendor != "mysql":
        return
    quote = schema_editor.quote_name
    # Without a COLLATE clause the column takes its table's default again.
    collate = f" COLLATE {binary_collation(connection)}" if exact else ""
    for table, column, length in _columns(apps):
        schema_editor.execute(
            f"ALTER TABLE {quote(table)} MODIFY {quote(column)} "
            f"varchar({length}) CHARACTER SET utf8mb4{collate} NOT NULL")


class Migration(migrations.Migration):
    atomic = False  # DDL: MySQL/MariaDB cannot run it inside a transaction

    dependencies = [
        # Whatever model AUTH_USER_MODEL names; auth's own for the default auth.User.
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    operations = [
        migrations.RunPython(lambda apps, editor: _modify(apps, editor, exact=True),
                             lambda apps, editor: _modify(apps, editor, exact=False)),
    ]
