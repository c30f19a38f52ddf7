"""Fixed-time (up/down) trade outcomes in the ledger.

A fixed-time trade's stake is an ordinary hold (``hold_create``) in the user's wallet
(PAPER for a demo trade, a real wallet type for a live one). Its outcome is paid by one
journal (``settle_fixed_time``) between the user and the house account of that money: the
stake leaves the hold and the user is paid back ``payout`` (nothing for a loss, the stake
for a draw or a void, stake plus profit for a win); the house takes or pays the
difference. FIXED_TIME_HOUSE serves real wallets, PAPER_FIXED_TIME_HOUSE only PAPER ones
(``PAPER_ONLY_SYSTEM_ACCOUNTS``): demo and live money never meet. House accounts are
system accounts: never locked, their balances derived from their entries.

Keeps the contract of ``apps.wallets.services``: one transaction, the user wallet locked
(then the hold), exactly once per ``key``, a replay with other content a logged Conflict
("idempotency_conflict").
"""
from decimal import Decimal, localcontext

from apps.core.errors import InvalidInput
from apps.core.money import EXACT, AmountError, quantize_exact
from apps.wallets.constants import JournalKind, SystemAccount, WalletType
from apps.wallets.models import Journal
from apps.wallets.services.posting import Leg, exact, post
from apps.wallets.services.posting import currency as _currency
from apps.wallets.services.posting import wallet_type as _wallet_type


def fixed_time_house(wallet_type: str) -> str:
    """The house account that is the counterparty of fixed-time trades in ``wallet_type``."""
    if _wallet_type(wallet_type) == WalletType.PAPER:
        return SystemAccount.PAPER_FIXED_TIME_HOUSE
    return SystemAccount.FIXED_TIME_HOUSE


def settle_fixed_time(*, key: str, user_id: int, wallet_type: str, currency: str,
                      hold_key: str, stake: Decimal, payout: Decimal,
                      memo: str = "") -> Journal:
    """Settle one fixed-time trade as one journal: ``stake`` is paid out of the hold
    ``hold_key`` (which is then closed), ``payout`` (zero or more) is credited to the same
    wallet's available balance, and the house account of ``wallet_type``
    (``fixed_time_house``) receives ``stake - payout`` (pays it when negative).

    Locks the user's wallet, then the hold; never the house account. Exactly once per
    ``key``: a replay with the same content returns the first journal and writes nothing,
    one with another payout is a logged Conflict ("idempotency_conflict"). Raises
    InvalidInput (stake not positive, payout negative, beyond the currency's precision,
    paper separation), Conflict ("hold_exhausted": the hold is closed or holds less than
    the stake, "idempotency_conflict"). On any raise nothing is written.
    """
    house = fixed_time_house(wallet_type)
    cur = _currency(currency)
    with localcontext(EXACT):
        stake = exact(stake, cur, what="Stake")
        if not isinstance(payout, Decimal) or not payout.is_finite() or payout < 0:
            raise InvalidInput("A payout is a finite Decimal, zero or more.")
        try:
            payout = quantize_exact(payout, decimals=cur.decimals)
        except AmountError as exc:
            raise InvalidInput(f"Payout {exc} for {cur.code}.") from None
        legs = [Leg(wallet_type, cur.code, stake.copy_negate(), user_id=user_id,
                    hold_key=hold_key, close_hold=True)]
        if payout:
            legs.append(Leg(wallet_type, cur.code, payout, user_id=user_id))
        if payout != stake:
            legs.append(Leg(wallet_type, cur.code, stake - payout, system=house))
        return post(key=key, kind=JournalKind.FIXED_TIME, memo=memo, legs=legs)
