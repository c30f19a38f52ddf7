"""Login identifiers compare byte-exact (DESIGN.md rule 6).

Django's ``auth_user.username`` and DRF's ``authtoken_token.key`` are created under the
database's default collation, which on MariaDB folds case, accents, width and ignorable
characters: "USER1", a full-width or zero-width-prefixed name logged in as user1, and an
upper-cased token authenticated as the real one. Those tables belong to other apps, so
this changes only the two columns' collation (to ``apps.core.fields.binary_collation``),
on MySQL/MariaDB only: SQLite and PostgreSQL's defaults already compare exactly.
"""
from django.db import migrations

from apps.core.fields import binary_collation

COLUMNS = [("auth_user", "username", 150), ("authtoken_token", "key", 40)]


def _modify(schema_editor, *, exact: bool) -> None:
    connection = schema_editor.connection
    if connection.vendor != "mysql":
        return
    quote = schema_editor.quote_name
    # Without a COLLATE clause the column takes its table's default again.
    collate = f" COLLATE {binary_collation(connection)}" if exact else ""
    for table, column, length in COLUMNS:
        schema_editor.execute(
            f"ALTER TABLE {quote(table)} MODIFY {quote(column)} "
            f"varchar({length}) CHARACTER SET utf8mb4{collate} NOT NULL")


class Migration(migrations.Migration):
    atomic = False  # DDL: MySQL/MariaDB cannot run it inside a transaction

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    operations = [
        migrations.RunPython(lambda apps, editor: _modify(editor, exact=True),
                             lambda apps, editor: _modify(editor, exact=False)),
    ]
