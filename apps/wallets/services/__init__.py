"""The only code that changes balances.

Every function here:
- runs in one transaction (joining the caller's, if any);
- locks every *user* wallet it touches with ``SELECT ... FOR UPDATE`` in primary-key order,
  then the holds it touches in primary-key order (so two writers can never deadlock on
  order); system wallets (FEES, PAPER_MARKET, CLEARING, ...) are never locked nor updated:
  their balance is the sum of their entries, so writers of disjoint users never wait on
  each other;
- is idempotent on its ``key``: a replay, concurrent or later, returns the first result
  and changes nothing (the key is a unique column, so this holds across processes); a
  replay whose content differs (other wallets, amounts or kind) is a Conflict
  ("idempotency_conflict"), logged, never a silent success;
- writes currency codes as stored (``Currency.code``), never as the caller spelled them;
- validates its amounts again (positive, within the currency's precision), whatever the
  caller checked, and raises ``apps.core.errors`` subclasses, never a bare exception.

Balances change only through journals whose entries sum to zero per currency, all written
by ``posting.post_journals`` (one journal or a batch). PAPER wallets only ever exchange
value with other PAPER wallets (demo money never meets real money).

Modules: ``posting`` (the engine), ``ledger`` (money in and out, holds, trades, admin),
``margin`` (futures position margin, PnL, funding, liquidation), ``fixed_time`` (the
outcome of a fixed-time trade against the house).
"""
from apps.wallets.services.fixed_time import fixed_time_house, settle_fixed_time
from apps.wallets.services.ledger import (
    TradeParty,
    TradeSettlement,
    admin_adjust,
    currencies_ensure,
    deposit,
    grant_paper_funds,
    hold_create,
    hold_release,
    holds_release,
    reverse_journal,
    settle_trade,
    settle_trades,
    transfer,
    withdraw,
)
from apps.wallets.services.margin import (
    ClearingFlow,
    insurance_float,
    insurance_float_return,
    insurance_settle,
    liquidate_position,
    liquidation_fee,
    margin_add,
    margin_release,
    settle_clearing,
)
from apps.wallets.services.posting import (
    InsufficientFunds,
    Leg,
    Posting,
    WalletOwner,
    post,
    post_journals,
    wallets_lock,
)

__all__ = [
    "ClearingFlow", "InsufficientFunds", "Leg", "Posting", "TradeParty", "TradeSettlement",
    "WalletOwner", "admin_adjust", "currencies_ensure", "deposit", "fixed_time_house",
    "grant_paper_funds",
    "hold_create", "hold_release", "holds_release", "insurance_float", "insurance_float_return",
    "insurance_settle",
    "liquidate_position",
    "liquidation_fee", "margin_add",
    "margin_release",
    "post", "post_journals", "reverse_journal", "settle_clearing", "settle_trade",
    "settle_fixed_time", "settle_trades", "transfer", "wallets_lock", "withdraw",
]
