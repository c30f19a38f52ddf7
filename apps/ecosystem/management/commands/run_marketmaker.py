"""``manage.py run_marketmaker SYMBOL [options]``: quote an ecosystem market with a bot
account until SIGTERM/SIGINT (``apps.ecosystem.marketmaker``)."""
import signal
import threading
from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError

from apps.core.errors import Conflict, InvalidInput
from apps.ecosystem.marketmaker import VENUE, MarketMaker, Quoting, bot_setup, run
from apps.trading.constants import MarketStatus
from apps.trading.models import Market


def _amount(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CommandError(f"{text!r} is not a decimal amount.") from None
    if not value.is_finite() or value < 0:
        raise CommandError(f"{text!r} is not an amount.")
    return value


class Command(BaseCommand):
    help = "Quote an ecosystem market with a market-maker bot (one per market)."

    def add_arguments(self, parser):
        parser.add_argument("symbol", help="The ecosystem market, e.g. DEMO/USDT.")
        parser.add_argument("--username", default="marketmaker",
                            help="The bot account (created and tagged as a bot if missing).")
        parser.add_argument("--reference", default="10",
                            help="The price to start quoting around (later: the last price).")
        parser.add_argument("--levels", type=int, default=3, help="Orders per side.")
        parser.add_argument("--spread-ticks", type=int, default=5,
                            help="Ticks from the reference to the first level.")
        parser.add_argument("--step-ticks", type=int, default=5, help="Ticks between levels.")
        parser.add_argument("--amount", default="1", help="Each order's amount (base).")
        parser.add_argument("--walk-ticks", type=int, default=3,
                            help="How far the reference may move per refresh, in ticks.")
        parser.add_argument("--interval", type=float, default=2.0,
                            help="Seconds between refreshes.")
        parser.add_argument("--rounds", type=int, default=None,
                            help="Stop after this many refreshes (default: run until stopped).")
        parser.add_argument("--seed", type=int, default=0, help="The random walk's seed.")
        parser.add_argument("--fund-base", default="0",
                            help="Deposit this much base into the bot once (demo only).")
        parser.add_argument("--fund-quote", default="0",
                            help="Deposit this much quote currency into the bot once (demo).")

    def handle(self, *args, symbol: str, username: str, reference: str, levels: int,
               spread_ticks: int, step_ticks: int, amount: str, walk_ticks: int,
               interval: float, rounds: int | None, seed: int, fund_base: str,
               fund_quote: str, **options):
        market = Market.objects.filter(venue=VENUE, symbol=symbol,
                                       status=MarketStatus.ENABLED).first()
        if market is None:
            raise CommandError(f"No enabled ecosystem market {symbol!r}.")
        reference_price = _amount(reference)
        if reference_price <= 0:
            raise CommandError("--reference must be above zero.")
        try:
            quoting = Quoting(levels=levels, spread_ticks=spread_ticks, step_ticks=step_ticks,
                              amount=_amount(amount), walk_ticks=walk_ticks)
            user_id = bot_setup(username=username, market=market,
                                base_amount=_amount(fund_base), quote_amount=_amount(fund_quote))
        except (Conflict, InvalidInput) as exc:
            raise CommandError(str(exc)) from exc
        maker = MarketMaker(user_id=user_id, market=market, reference=reference_price,
                            quoting=quoting, seed=seed)
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stop.set())
                    for sig in (signal.SIGTERM, signal.SIGINT)}
        self.stdout.write(f"market maker {username} (user {user_id}) on ecosystem:{symbol}")
        try:
            run(maker=maker, interval=interval, stop=stop, rounds=rounds)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
