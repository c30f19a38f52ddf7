"""``manage.py run_engine [--runner NAME] [--markets venue:SYMBOL,...]``: run a runner.

It takes its markets' leases or refuses (exit status 2, saying who holds them), restores
and checks each book, then applies commands until SIGTERM/SIGINT.
"""
import signal

from django.core.management.base import BaseCommand, CommandError

from apps.engine.runner import LeaseHeld, RestoreRefused, Runner
from apps.engine.selectors import markets_of_runner


class Command(BaseCommand):
    help = "Run the matching engine for this runner's markets (one writer per market)."

    def add_arguments(self, parser):
        parser.add_argument("--runner", default="default",
                            help="The runner's name (ENGINE_RUNNER_MARKETS maps markets).")
        parser.add_argument("--markets", default="",
                            help="Comma-separated venue:SYMBOL markets (default: the runner's).")

    def handle(self, *args, runner: str, markets: str, **options):
        symbols = [s for s in markets.split(",") if s]
        found = markets_of_runner(runner=runner, symbols=symbols or None)
        if not found:
            raise CommandError(f"Runner {runner!r} has no market to run.")
        engine = Runner(name=runner, markets=found)
        try:
            engine.start()
        except (LeaseHeld, RestoreRefused) as exc:
            raise CommandError(f"refused: {exc}", returncode=2) from exc
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: engine.stop())
        self.stdout.write(f"runner {engine.owner}: {', '.join(str(m) for m in found)}",
                          ending="\n")
        self.stdout.flush()
        engine.run()
