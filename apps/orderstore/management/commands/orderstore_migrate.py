from django.core.management.base import BaseCommand, CommandError

from apps.core import conf
from apps.orderstore.scylla import ScyllaOrderStore, migrate


class Command(BaseCommand):
    help = ("Create the ScyllaDB order store's keyspace (SCYLLA_KEYSPACE, SCYLLA_REPLICATION) "
            "and apply its versioned CQL schema files not applied yet.")

    def handle(self, *args, **options):
        store = ScyllaOrderStore.from_settings()
        try:
            done = migrate(store=store, replication=conf.SCYLLA_REPLICATION)
        except Exception as error:  # the driver's errors name the host and the statement
            raise CommandError(f"orderstore_migrate failed: {error}") from error
        finally:
            store.close()
        for version in done:
            self.stdout.write(f"applied {version}")
        self.stdout.write(f"keyspace {store.keyspace}: up to date")
