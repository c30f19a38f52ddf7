from django.core.management.base import BaseCommand, CommandError

from apps.wallets.selectors import reconcile


class Command(BaseCommand):
    help = "Check every ledger invariant; exit non-zero naming each violation."

    def handle(self, *args, **options):
        problems = reconcile()
        for line in problems:
            self.stderr.write(line)
        if problems:
            raise CommandError(f"{len(problems)} ledger invariant violation(s)")
        self.stdout.write(self.style.SUCCESS("Ledger reconciled: no violations."))
