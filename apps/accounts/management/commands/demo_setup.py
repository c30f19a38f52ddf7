"""Create the development demo users and fund the trader (idempotent)."""
from datetime import date
from decimal import Decimal

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError

from apps.accounts import selectors as account_selectors
from apps.accounts import services as account_services
from apps.accounts.models import KycDocument, KycLevel
from apps.wallets import services
from apps.wallets.constants import WalletType

DEMO_USERS = {
    "trader": {"password": "trader-demo-pass", "is_staff": False},
    "admin": {"password": "admin-demo-pass", "is_staff": True},
}
# The demo trader's "identity document": a PNG's signature is all the check reads.
DEMO_ID_DOCUMENT = b"\x89PNG\r\n\x1a\n" + bytes(64)
DEMO_DEPOSITS = [(WalletType.SPOT, "USDT", Decimal("10000")),
                 (WalletType.SPOT, "BTC", Decimal("0.5"))]


class Command(BaseCommand):
    help = "DEBUG only: create the demo trader and admin (development credentials)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("demo_setup creates well-known passwords: DEBUG only.")
        User = get_user_model()
        for username, spec in DEMO_USERS.items():
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"is_staff": spec["is_staff"], "is_superuser": spec["is_staff"]},
            )
            if created:
                user.set_password(spec["password"])
                user.email = f"{username}@example.com"
                user.save(update_fields=["password", "email"])
            # Logins need a confirmed address (ACCOUNT_EMAIL_VERIFICATION): theirs is.
            EmailAddress.objects.get_or_create(
                user=user, email=user.email or f"{username}@example.com",
                defaults={"verified": True, "primary": True})
            self.stdout.write(f"  {username:8s} / {spec['password']}  (development only)")
        trader = User.objects.get(username="trader")
        self._review_identity(trader=trader, reviewer=User.objects.get(username="admin"))
        for wallet_type, currency, amount in DEMO_DEPOSITS:
            services.deposit(user_id=trader.pk, wallet_type=wallet_type, currency=currency,
                             amount=amount, key=f"demo:{trader.pk}:{wallet_type}:{currency}")

    def _review_identity(self, *, trader, reviewer) -> None:
        """The demo trader at KYC level 2, through the accounts' own path (an application
        with a document, approved by the demo admin): the internal markets (the ecosystem
        venue in ``make run``) are live venues, which ask for it."""
        if account_selectors.kyc_level(user_id=trader.pk) >= KycLevel.IDENTITY_REVIEWED:
            return
        document = SimpleUploadedFile("demo-id.png", DEMO_ID_DOCUMENT, content_type="image/png")
        application = account_services.kyc_application_submit(
            user_id=trader.pk, full_name="Demo Trader", date_of_birth=date(1990, 1, 1),
            country="GB", documents=[(KycDocument.Kind.ID_FRONT, document)])
        account_services.kyc_application_approve(application_id=application.pk,
                                                 reviewer_id=reviewer.pk)

