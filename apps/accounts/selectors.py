"""Reads about accounts: KYC level and limits, applications, second factors."""
from decimal import Decimal

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.contrib.auth import get_user_model

from apps.accounts.models import KycApplication, KycLevel
from apps.core import conf

# The group that tags an account as a bot (a market maker, the futures liquidation engine:
# ``services.bot_account_ensure``).
BOT_GROUP = "market makers"


def bot_user_ids() -> set[int]:
    """The ids of the accounts tagged as bots (one query)."""
    return set(get_user_model().objects.filter(groups__name=BOT_GROUP)
               .values_list("pk", flat=True))


def kyc_level(*, user_id: int) -> KycLevel:
    """0 unverified, 1 a verified e-mail address, 2 an approved identity application."""
    if KycApplication.objects.filter(user_id=user_id,
                                     status=KycApplication.Status.APPROVED).exists():
        return KycLevel.IDENTITY_REVIEWED
    if EmailAddress.objects.filter(user_id=user_id, verified=True).exists():
        return KycLevel.EMAIL_VERIFIED
    return KycLevel.UNVERIFIED


def kyc_daily_withdrawal_limit(*, user_id: int) -> Decimal:
    """The most the user may withdraw per day at their level (KYC_DAILY_WITHDRAWAL_LIMIT,
    in KYC_LIMIT_CURRENCY)."""
    return Decimal(conf.KYC_DAILY_WITHDRAWAL_LIMIT[kyc_level(user_id=user_id)])


def kyc_applications(*, user_id: int) -> list[KycApplication]:
    """The user's applications, newest first, with their documents."""
    return list(KycApplication.objects.filter(user_id=user_id).prefetch_related("documents"))


def has_totp(*, user_id: int) -> bool:
    """True if the user has an authenticator app (TOTP) set up. Recovery codes alone do not
    count: they are the spare key of a second factor, not one."""
    return Authenticator.objects.filter(user_id=user_id,
                                        type=Authenticator.Type.TOTP).exists()
