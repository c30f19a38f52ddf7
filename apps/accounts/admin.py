"""KYC review in the admin: applications are read-only rows; the decisions are two actions
(approve; reject, which asks for the reason) that call the services, so every decision is
recorded with its reviewer and time. Documents download through ``document_download``, an
admin view: the private storage has no URL of its own."""
from django import forms
from django.contrib import admin, messages
from django.http import FileResponse, Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from apps.accounts import services
from apps.accounts.api_keys import services as key_services
from apps.accounts.models import ApiKey, AuditEvent, KycApplication, KycDocument
from apps.core.admin import ReadOnlyAdmin
from apps.core.errors import DomainError


class RejectForm(forms.Form):
    reason = forms.CharField(max_length=1000, widget=forms.Textarea(attrs={"rows": 3}),
                             help_text="The applicant reads this.")


@admin.register(KycApplication)
class KycApplicationAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "full_name", "country", "status", "submitted_at",
                    "decided_by", "decided_at")
    list_filter = ("status", "country")
    search_fields = ("user__username", "user__email", "full_name")
    readonly_fields = ("user", "full_name", "date_of_birth", "country", "status",
                       "submitted_at", "decided_by", "decided_at", "reason", "document_links")
    actions = ["approve", "reject"]

    def get_urls(self):
        return [path("document/<int:document_id>/",
                     self.admin_site.admin_view(self.document_download),
                     name="accounts_kycdocument_download"),
                *super().get_urls()]

    def document_download(self, request, document_id: int):
        """The file of one document, to staff who may view applications; as an attachment,
        never rendered inline (an uploaded file is not trusted content)."""
        if not self.has_view_permission(request):
            raise Http404
        document = KycDocument.objects.filter(pk=document_id).first()
        if document is None:
            raise Http404
        response = FileResponse(document.file.open("rb"), as_attachment=True,
                                filename=f"kyc-{document.application_id}-{document.kind}"
                                         f"{document.file.name[document.file.name.rfind('.'):]}",
                                content_type=document.content_type)
        response["Cache-Control"] = "private, no-store"
        return response

    @admin.display(description="documents")
    def document_links(self, application: KycApplication):
        return format_html("<ul>{}</ul>", format_html_join(
            "", '<li><a href="{}">{}</a> ({} bytes, sha256 {})</li>',
            ((reverse("admin:accounts_kycdocument_download", args=[document.pk]),
              document.get_kind_display(), document.size, document.sha256[:12])
             for document in application.documents.all())))

    def _decide(self, request, queryset, decide) -> None:
        for application in queryset:
            try:
                decide(application)
            except DomainError as exc:
                self.message_user(request, f"{application}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"KYC #{application.pk}: decided.",
                                  messages.SUCCESS)

    @admin.action(description="Approve (identity reviewed: level 2)", permissions=["decide"])
    def approve(self, request, queryset):
        self._decide(request, queryset, lambda application: services.kyc_application_approve(
            application_id=application.pk, reviewer_id=request.user.pk, request=request))

    @admin.action(description="Reject (asks for the reason)", permissions=["decide"])
    def reject(self, request, queryset):
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return TemplateResponse(request, "admin/accounts/kyc_reject.html", {
                **self.admin_site.each_context(request), "title": "Reject KYC applications",
                "form": form, "objects": queryset, "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME})
        self._decide(request, queryset, lambda application: services.kyc_application_reject(
            application_id=application.pk, reviewer_id=request.user.pk,
            reason=form.cleaned_data["reason"], request=request))
        return None

    def has_decide_permission(self, request) -> bool:
        return request.user.has_perm("accounts.change_kycapplication")


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    """Keys are made by their users (account page, API); staff see them (never a secret)
    and may revoke them."""

    list_display = ("key_id", "user", "label", "scopes", "created_at", "expires_at",
                    "revoked_at", "last_used_at", "last_used_ip")
    list_filter = ("scopes",)
    search_fields = ("key_id", "label", "user__username", "user__email")
    exclude = ("secret_encrypted",)
    actions = ["revoke"]

    @admin.action(description="Revoke (refused from the next request on)",
                  permissions=["revoke"])
    def revoke(self, request, queryset):
        for key in queryset:
            key_services.api_key_revoke(user_id=key.user_id, key_id=key.key_id,
                                        request=request)
        self.message_user(request, f"{queryset.count()} key(s) revoked.", messages.SUCCESS)

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("accounts.change_apikey")


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The audit trail: searchable, never changed or deleted (no permission for either,
    whatever the user's rights: ReadOnlyAdmin)."""

    list_display = ("created_at", "kind", "actor", "ip", "object_type", "object_repr",
                    "message")
    list_filter = ("kind", "object_type")
    search_fields = ("actor", "object_id", "object_repr", "message", "ip")
    date_hierarchy = "created_at"
    actions = None
