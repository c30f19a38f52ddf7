"""The account page's forms (web)."""
from datetime import date

from django import forms
from django.core.validators import RegexValidator

from apps.accounts.models import ApiKey, KycDocument


class KycApplicationForm(forms.Form):
    full_name = forms.CharField(max_length=200)
    date_of_birth = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    country = forms.CharField(
        min_length=2, max_length=2, help_text="Two-letter country code (ISO 3166-1), e.g. DE",
        validators=[RegexValidator(r"^[A-Z]{2}\Z", "Two capital letters, e.g. DE.")])
    id_front = forms.FileField(label=KycDocument.Kind.ID_FRONT.label)
    id_back = forms.FileField(label=KycDocument.Kind.ID_BACK.label, required=False)
    selfie = forms.FileField(label=KycDocument.Kind.SELFIE.label, required=False)
    proof_of_address = forms.FileField(label=KycDocument.Kind.PROOF_OF_ADDRESS.label,
                                       required=False)

    FILE_KINDS = {"id_front": KycDocument.Kind.ID_FRONT, "id_back": KycDocument.Kind.ID_BACK,
                  "selfie": KycDocument.Kind.SELFIE,
                  "proof_of_address": KycDocument.Kind.PROOF_OF_ADDRESS}

    def clean_date_of_birth(self) -> date:
        born = self.cleaned_data["date_of_birth"]
        if not date(1900, 1, 1) <= born <= date.today():
            raise forms.ValidationError("Enter your real date of birth.")
        return born

    def documents(self) -> list[tuple[str, object]]:
        return [(kind, self.cleaned_data[name]) for name, kind in self.FILE_KINDS.items()
                if self.cleaned_data.get(name)]


class ApiKeyForm(forms.Form):
    label = forms.CharField(max_length=100)
    scopes = forms.MultipleChoiceField(choices=ApiKey.Scope.choices,
                                       widget=forms.CheckboxSelectMultiple)
    allowed_ips = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
        label="Allowed addresses",
        help_text="IP addresses or networks (CIDR), one a line or comma-separated; empty: any.")
    expires_in_days = forms.IntegerField(required=False, min_value=1, max_value=3650,
                                         label="Expires in (days)",
                                         help_text="Empty: never.")

    def networks(self) -> list[str]:
        text = self.cleaned_data.get("allowed_ips") or ""
        return [entry for entry in text.replace(",", "\n").split() if entry]
