"""The operator lists blockchains, tokens and markets here. A token is added through
``services.token_list`` (its symbol checked and made a wallet currency) and a market
through ``services.market_create`` (its core market, steps checked): each add form calls
its service, whose refusal shows as the form's error with nothing written. A market's
tick, lot, fees and status are then edited on the core's market list."""
from django import forms
from django.contrib import admin

from apps.core.errors import DomainError
from apps.ecosystem import services
from apps.ecosystem.models import Blockchain, EcoMarket, Status, Token


class _ServiceAddForm(forms.ModelForm):
    """An add form whose ``clean`` creates the row through ``create`` (a service).

    The admin's add view runs in one transaction and the service in its own savepoint, so
    a refusal becomes a form error with nothing written. The created row becomes the
    form's instance: the model's own checks then see it as itself, not as a duplicate,
    and ``save_model`` has nothing left to write."""

    def create(self, data: dict):
        raise NotImplementedError

    def clean(self):
        data = super().clean()
        if self.instance.pk is None and not self.errors:
            try:
                self.instance = self.create(data)
            except DomainError as exc:  # a refusal, with its message for the operator
                raise forms.ValidationError(exc.message) from None
        return data


class TokenAddForm(_ServiceAddForm):
    class Meta:
        model = Token
        fields = ("chain", "symbol", "name", "contract_address", "decimals")

    def create(self, data: dict) -> Token:
        return services.token_list(chain=data["chain"], symbol=data["symbol"],
                                   name=data["name"], contract_address=data["contract_address"],
                                   decimals=data["decimals"])


class EcoMarketAddForm(_ServiceAddForm):
    quote_currency = forms.CharField(max_length=16, initial="USDT")
    tick_size = forms.DecimalField(max_digits=36, decimal_places=18)
    lot_size = forms.DecimalField(max_digits=36, decimal_places=18)
    maker_fee = forms.DecimalField(max_digits=36, decimal_places=18, initial="0.001")
    taker_fee = forms.DecimalField(max_digits=36, decimal_places=18, initial="0.002")
    min_amount = forms.DecimalField(max_digits=36, decimal_places=18, initial="0")
    min_notional = forms.DecimalField(max_digits=36, decimal_places=18, initial="0")
    enabled = forms.BooleanField(required=False, initial=True)

    class Meta:
        model = EcoMarket
        fields = ("base_token", "stp_default")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["base_token"].queryset = Token.objects.filter(status=Status.ACTIVE)

    def create(self, data: dict) -> EcoMarket:
        return services.market_create(
            base_token=data["base_token"], quote_currency=data["quote_currency"],
            tick_size=data["tick_size"], lot_size=data["lot_size"],
            maker_fee=data["maker_fee"], taker_fee=data["taker_fee"],
            min_amount=data["min_amount"], min_notional=data["min_notional"],
            stp_default=data["stp_default"], enabled=data["enabled"])


class _ServiceAddAdmin(admin.ModelAdmin):
    add_form: type[_ServiceAddForm]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
            kwargs["fields"] = None  # the add form's own fields, extra ones included
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": list(self.add_form.base_fields)})]
        return super().get_fieldsets(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        # Added: the form's service has created the row.


@admin.register(Blockchain)
class BlockchainAdmin(admin.ModelAdmin):
    list_display = ("name", "chain_id", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("name",)


@admin.register(Token)
class TokenAdmin(_ServiceAddAdmin):
    add_form = TokenAddForm
    list_display = ("symbol", "name", "chain", "contract_address", "decimals", "status")
    list_filter = ("status", "chain")
    search_fields = ("symbol", "name", "contract_address")

    def get_readonly_fields(self, request, obj=None):
        # A listed token's symbol and decimals are its wallet currency's: fixed.
        return ("symbol", "decimals") if obj is not None else ()


@admin.register(EcoMarket)
class EcoMarketAdmin(_ServiceAddAdmin):
    add_form = EcoMarketAddForm
    list_display = ("market", "base_token", "stp_default", "market_status", "created_at")
    list_select_related = ("market", "base_token")

    def get_readonly_fields(self, request, obj=None):
        return ("market", "base_token") if obj is not None else ()

    @admin.display(description="status")
    def market_status(self, obj: EcoMarket) -> str:
        return obj.market.get_status_display()
