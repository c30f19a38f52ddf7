"""The account page and the KYC application form (thin: selectors read, services write)."""
from allauth.account.models import EmailAddress
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from apps.accounts import selectors, services
from apps.accounts.forms import KycApplicationForm
from apps.core.errors import DomainError


@login_required
def account(request):
    user = request.user
    return render(request, "accounts/account.html", {
        "title": "Account",
        "emails": EmailAddress.objects.filter(user_id=user.pk).order_by("-primary", "email"),
        "kyc_level": selectors.kyc_level(user_id=user.pk),
        "applications": selectors.kyc_applications(user_id=user.pk),
        "has_totp": selectors.has_totp(user_id=user.pk),
    })


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
