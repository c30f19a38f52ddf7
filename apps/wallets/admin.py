"""Wallets and journals are read-only here; money moves only through the actions, which
call the services (and so lock, validate and journal like every other writer)."""
import uuid
from decimal import Decimal

from django import forms
from django.contrib import admin, messages

from apps.core.admin import ReadOnlyAdmin, ReasonForm, confirm_page, fixed
from apps.core.errors import DomainError
from apps.core.identifiers import is_canonical
from apps.core.money import MAX_AMOUNT
from apps.wallets import selectors, services
from apps.wallets.models import Currency, Entry, Hold, HoldChange, Journal, Wallet


class AdjustForm(forms.Form):
    # One token per rendered form, the idempotency key of what it applies: a form submitted
    # twice (a double click, a resent POST) adjusts each wallet once.
    token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
    amount = forms.DecimalField(
        max_digits=36, decimal_places=18, min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT,
        help_text="Signed: positive credits the wallet, negative debits it.",
    )
    reason = forms.CharField(max_length=255, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_amount(self) -> Decimal:
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError("The adjustment must not be zero.")
        return amount


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "system", "type", "currency", "ledger_balance",
                    "held_amount", "available", "updated_at")
    list_filter = ("type", "currency", "system")
    list_select_related = ("user", "currency")
    search_fields = ("user__username", "user__email")
    actions = ["adjust_balance"]

    @admin.display(description="balance")
    def ledger_balance(self, wallet: Wallet) -> str:
        """A system wallet's balance is the sum of its entries (its row keeps 0)."""
        if wallet.user_id is not None:
            return fixed(wallet.balance, wallet.currency.decimals)
        return fixed(selectors.system_balances(wallet_ids=[wallet.pk])[wallet.pk],
                     wallet.currency.decimals)

    @admin.display(description="held", ordering="held")
    def held_amount(self, wallet: Wallet) -> str:
        return fixed(wallet.held, wallet.currency.decimals)

    @admin.display(description="available")
    def available(self, wallet: Wallet) -> str:
        """What the user may spend: the balance less what open orders hold."""
        if wallet.user_id is None:
            return "—"
        return fixed(wallet.balance - wallet.held, wallet.currency.decimals)

    @admin.action(description="Adjust balance (asks for amount and reason)",
                  permissions=["adjust"])
    def adjust_balance(self, request, queryset):
        queryset = queryset.filter(user__isnull=False)
        form = AdjustForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return confirm_page(request, queryset=queryset, form=form,
                                title="Adjust balance", action="adjust_balance",
                                empty_text="nothing (system wallets cannot be adjusted)")
        token = form.cleaned_data["token"].hex
        for wallet in queryset:
            key = f"adjust:{token}:{wallet.pk}"
            if Journal.objects.filter(key=key).exists():
                self.message_user(request, f"{wallet}: already adjusted by this form.",
                                  messages.WARNING)
                continue
            try:
                services.admin_adjust(
                    user_id=wallet.user_id, wallet_type=wallet.type,
                    currency=wallet.currency_id, amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"], admin_id=request.user.pk, key=key,
                )
            except DomainError as exc:
                self.message_user(request, f"{wallet}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{wallet}: adjusted.", messages.SUCCESS)
        return None

    def has_adjust_permission(self, request) -> bool:
        return request.user.is_superuser


class EntryInline(admin.TabularInline):
    model = Entry
    fields = ("wallet", "entry_amount", "entry_balance_after", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("wallet__currency")

    @admin.display(description="amount")
    def entry_amount(self, entry: Entry) -> str:
        return fixed(entry.amount, entry.wallet.currency.decimals)

    @admin.display(description="balance after")
    def entry_balance_after(self, entry: Entry) -> str:
        return fixed(entry.balance_after, entry.wallet.currency.decimals)


@admin.register(Journal)
class JournalAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "key", "memo", "created_by", "created_at")
    list_filter = ("kind",)
    search_fields = ("key", "memo")
    inlines = [EntryInline]
    actions = ["reverse"]

    @admin.action(description="Reverse (asks for a reason)", permissions=["adjust"])
    def reverse(self, request, queryset):
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return confirm_page(request, queryset=queryset, form=form,
                                title="Reverse journals", action="reverse")
        for journal in queryset:
            try:
                services.reverse_journal(journal_id=journal.pk, admin_id=request.user.pk,
                                         reason=form.cleaned_data["reason"])
            except DomainError as exc:
                self.message_user(request, f"{journal}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{journal}: reversed.", messages.SUCCESS)
        return None

    def has_adjust_permission(self, request) -> bool:
        return request.user.is_superuser


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ("key", "kind", "wallet", "hold_amount", "hold_remaining", "status",
                    "updated_at")
    list_filter = ("status", "kind")
    search_fields = ("key",)
    list_select_related = ("wallet__currency",)

    @admin.display(description="amount", ordering="amount")
    def hold_amount(self, hold: Hold) -> str:
        return fixed(hold.amount, hold.wallet.currency.decimals)

    @admin.display(description="remaining", ordering="remaining")
    def hold_remaining(self, hold: Hold) -> str:
        return fixed(hold.remaining, hold.wallet.currency.decimals)


@admin.register(HoldChange)
class HoldChangeAdmin(ReadOnlyAdmin):
    list_display = ("key", "hold", "change_amount", "created_at")
    search_fields = ("key", "hold__key")
    list_select_related = ("hold__wallet__currency",)

    @admin.display(description="amount", ordering="amount")
    def change_amount(self, change: HoldChange) -> str:
        return fixed(change.amount, change.hold.wallet.currency.decimals)


class CurrencyForm(forms.ModelForm):
    class Meta:
        model = Currency
        fields = ("code", "name", "decimals")

    def clean_code(self) -> str:
        code = self.cleaned_data["code"]
        if not is_canonical(code, kind="currency"):
            raise forms.ValidationError(
                "A code is upper-case ASCII letters and digits, with inner '.', '-' or '_' "
                "(e.g. USD, BRK.A): what the API accepts and stores.")
        return code


@admin.register(Currency)
class CurrencyAdmin(admin.ModelAdmin):
    form = CurrencyForm
    list_display = ("code", "name", "decimals")

    def get_readonly_fields(self, request, obj=None):
        # Changing a currency's precision under existing balances would misstate them.
        return ("code", "decimals") if obj else ()
