"""A payment chain for ``make run`` and the tests: the page a deposit's payment link opens,
which "pays" by posting the signed webhook the platform verifies. Never shipped.

It speaks the platform's wire formats as a real chain would, from its own code (it
imports nothing of ``apps``, so a test through it checks the formats, not a copy of the
platform's functions):

- the payment link's ``token`` is a ``django.core.signing`` payload (salt
  ``deposits.payment-link``, key ``DEPOSIT_LINK_SECRET``: the secret the platform shares
  with the chain) of the intent's id, coin, amount to pay and expiry;
- the webhook is ``{"intent", "tx_hash", "amount"}`` with ``X-Deposit-Timestamp`` (Unix
  seconds) and ``X-Deposit-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``
  under one of ``DEPOSIT_WEBHOOK_SECRETS`` (README "Deposits").

``GET /pay?token=...`` shows what the link asks (a link not signed with the shared secret,
or past its expiry, is refused); ``POST /pay`` with the token and the amount to pay (the
form's default is the amount asked; less shows an underpayment) makes a transaction id
and delivers its webhook ``deliveries`` times (a real chain retries: the platform must
credit once), then shows what the platform answered.
"""
from .server import PayChain, PayChainConfig, running

__all__ = ["PayChain", "PayChainConfig", "running"]
