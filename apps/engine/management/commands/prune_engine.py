"""``manage.py prune_engine [--keep-snapshots K] [--outbox-hours H]``: delete the engine's
commands, snapshots and sent outbox rows that no restore or delivery needs
(``services.engine_prune``; the beat task ``engine.prune`` runs the same)."""
from datetime import timedelta

from django.core.management.base import BaseCommand

from apps.core import conf
from apps.engine.services import engine_prune


class Command(BaseCommand):
    help = "Prune the engine's command log, snapshots and sent outbox rows."

    def add_arguments(self, parser):
        parser.add_argument("--keep-snapshots", type=int,
                            default=conf.ENGINE_PRUNE_KEEP_SNAPSHOTS,
                            help="Snapshots kept per market (at least 1).")
        parser.add_argument("--outbox-hours", type=float,
                            default=conf.ENGINE_OUTBOX_RETENTION_HOURS,
                            help="Sent outbox rows are kept this long.")

    def handle(self, *args, keep_snapshots: int, outbox_hours: float, **options):
        pruned = engine_prune(keep_snapshots=keep_snapshots,
                              outbox_retention=timedelta(hours=outbox_hours))
        self.stdout.write(f"pruned {pruned.commands} commands, {pruned.snapshots} "
                          f"snapshots, {pruned.outbox} outbox rows")
