"""Compare the platform's spot orders and omnibus balances with the exchange account."""
from django.core.management.base import BaseCommand, CommandError

from apps.spot import services


class Command(BaseCommand):
    help = ("Report every difference between the platform's spot orders and balances and "
            "the exchange's (exit status 1 when there is any).")

    def handle(self, *args, **options):
        problems = services.reconcile()
        for line in problems:
            self.stdout.write(line)
        if problems:
            raise CommandError(f"{len(problems)} difference(s) with the exchange.")
        self.stdout.write("The platform and the exchange agree.")
