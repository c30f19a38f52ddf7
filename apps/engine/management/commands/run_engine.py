"""``manage.py run_engine [--runner NAME] [--markets venue:SYMBOL,...]``: run a runner.

It takes its markets' leases or refuses (exit status 2, saying who holds them), restores
and checks each book, then applies commands until SIGTERM/SIGINT. It follows its markets
as they are listed, enabled, disabled or mapped (``Runner.markets_of``): a runner started
before any of its markets waits for them (given ``--markets``, one must run already).
"""
import signal

from django.core.management.base import BaseCommand, CommandError

from apps.engine.runner import LeaseHeld, RestoreRefused, Runner, freeze_heap
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

        def markets_of() -> list:
            return markets_of_runner(runner=runner, symbols=symbols or None)

        found = markets_of()
        if symbols and not found:  # named, none of them runs: a typo, not a market to come
            raise CommandError(f"None of {', '.join(symbols)} is an engine market that runs.")
        engine = Runner(name=runner, markets=found, markets_of=markets_of)
        try:
            engine.start()
        except (LeaseHeld, RestoreRefused) as exc:
            raise CommandError(f"refused: {exc}", returncode=2) from exc
        freeze_heap()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: engine.stop())
        running = ", ".join(str(m) for m in found) or "no market yet"
        self.stdout.write(f"runner {engine.owner}: {running}", ending="\n")
        self.stdout.flush()
        engine.run()
