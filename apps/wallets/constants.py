"""Names other apps use to talk to the wallet services (they never import the models)."""
from django.db import models


class WalletType(models.TextChoices):
    SPOT = "SPOT", "Spot"
    FUTURES = "FUTURES", "Futures"
    ECO = "ECO", "Ecosystem"
    PAPER = "PAPER", "Paper trading"


class SystemAccount(models.TextChoices):
    """The platform's own side of every journal.

    EXTERNAL is money outside the platform (deposits come from it, withdrawals go to it);
    PAPER_FAUCET issues demo money, only ever into PAPER wallets; FEES collects trading fees;
    EXCHANGE_OMNIBUS is our account at the spot venue; ADJUSTMENTS balances admin corrections;
    PAPER_MARKET is the counterparty of simulated paper fills; CLEARING is the counterparty of
    every futures PnL and funding payment (traders pay into it and are paid out of it);
    INSURANCE receives what is left of a liquidated position's margin and pays the loss a
    liquidation leaves beyond it. FIXED_TIME_HOUSE is the counterparty of LIVE fixed-time
    trades (it takes a lost stake and pays a win's profit); PAPER_FIXED_TIME_HOUSE is the
    same for DEMO trades, in PAPER wallets only.

    System wallets are never locked nor written in place: their balance is the sum of their
    entries (``selectors.system_balance``).
    """

    EXTERNAL = "EXTERNAL", "External (deposits/withdrawals)"
    PAPER_FAUCET = "PAPER_FAUCET", "Paper faucet"
    FEES = "FEES", "Fees"
    EXCHANGE_OMNIBUS = "EXCHANGE_OMNIBUS", "Exchange omnibus"
    ADJUSTMENTS = "ADJUSTMENTS", "Admin adjustments"
    PAPER_MARKET = "PAPER_MARKET", "Paper market"
    CLEARING = "CLEARING", "Futures clearing"
    INSURANCE = "INSURANCE", "Insurance fund"
    FIXED_TIME_HOUSE = "FIXED_TIME_HOUSE", "Fixed-time house (live)"
    PAPER_FIXED_TIME_HOUSE = "PAPER_FIXED_TIME_HOUSE", "Fixed-time house (demo)"


class JournalKind(models.TextChoices):
    DEPOSIT = "DEPOSIT", "Deposit"
    WITHDRAWAL = "WITHDRAWAL", "Withdrawal"
    TRANSFER = "TRANSFER", "Transfer"
    TRADE = "TRADE", "Trade settlement"
    FAUCET = "FAUCET", "Paper faucet grant"
    ADJUSTMENT = "ADJUSTMENT", "Admin adjustment"
    REVERSAL = "REVERSAL", "Reversal"
    PNL = "PNL", "Realised futures PnL"
    FUNDING = "FUNDING", "Futures funding"
    LIQUIDATION = "LIQUIDATION", "Futures liquidation"
    FIXED_TIME = "FIXED_TIME", "Fixed-time trade outcome"


class HoldKind(models.TextChoices):
    ORDER = "ORDER", "Open order"
    MARGIN = "MARGIN", "Position margin"


# Money in a PAPER wallet is not money: it may only come from and go to paper accounts.
PAPER_ONLY_SYSTEM_ACCOUNTS = frozenset(
    {SystemAccount.PAPER_FAUCET, SystemAccount.PAPER_MARKET, SystemAccount.PAPER_FIXED_TIME_HOUSE}
)
