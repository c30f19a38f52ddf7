"""The account page, the KYC application form and the partner API keys (thin: selectors
read, services write)."""
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from apps.accounts import selectors, services
from apps.accounts.api_keys import selectors as key_selectors
from apps.accounts.api_keys import services as key_services
from apps.accounts.forms import ApiKeyForm, KycApplicationForm
from apps.core.errors import DomainError


def _account_page(request, *, key_form: ApiKeyForm | None = None, new_secret: str = "",
                  new_key_id: str = "", status: int = 200):
    user = request.user
    return render(request, "accounts/account.html", status=status, context={
        "title": "Account",
        "emails": EmailAddress.objects.filter(user_id=user.pk).order_by("-primary", "email"),
        "kyc_level": selectors.kyc_level(user_id=user.pk),
        "applications": selectors.kyc_applications(user_id=user.pk),
        "has_totp": selectors.has_totp(user_id=user.pk),
        "api_keys": key_selectors.api_keys(user_id=user.pk),
        "key_form": key_form or ApiKeyForm(),
        "new_secret": new_secret, "new_key_id": new_key_id,
    })


@login_required
def account(request):
    return _account_page(request)


@never_cache
@login_required
@require_POST
def api_key_create(request):
    """Make a key; its secret is in this response only (never in a redirect, a message
    or the session, which would keep it)."""
    form = ApiKeyForm(request.POST)
    if form.is_valid():
        days = form.cleaned_data.get("expires_in_days")
        try:
            key, secret = key_services.api_key_create(
                user_id=request.user.pk, label=form.cleaned_data["label"],
                scopes=form.cleaned_data["scopes"], allowed_ips=form.networks(),
                expires_at=timezone.now() + timedelta(days=days) if days else None,
                request=request)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            return _account_page(request, new_secret=secret, new_key_id=key.key_id)
    return _account_page(request, key_form=form, status=400)


@login_required
@require_POST
def api_key_revoke(request, key_id: str):
    try:
        key_services.api_key_revoke(user_id=request.user.pk, key_id=key_id, request=request)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"API key {key_id} is revoked.")
    return redirect("accounts:account")


@login_required
def kyc_apply(request):
    form = KycApplicationForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.kyc_application_submit(
                user_id=request.user.pk, full_name=data["full_name"],
                date_of_birth=data["date_of_birth"], country=data["country"],
                documents=form.documents())
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Your application is filed; we review it shortly.")
            return redirect("accounts:account")
    return render(request, "accounts/kyc_apply.html", {"title": "Identity verification",
                                                        "form": form})
