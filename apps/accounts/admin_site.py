"""The admin site: signed in through the accounts' login, with a second factor for staff.

Django's own admin login would check a password only, past the user's TOTP; here it is
allauth's login (``secure_admin_login``), which asks for the code of a user who has one.
With ``ADMIN_REQUIRE_MFA`` (on unless DEBUG) a staff session may use the admin only if it
was signed in with a second factor: a staff user without one is sent to set it up, one
who has it but signed in before (or without) using it is asked for a code again.

Every admin action run (a POST of the changelist's action form that the admin carried
out: it redirects back) is recorded in the audit trail with the objects it was run on:
Django logs the admin's adds, changes and deletes (``LogEntry``, recorded by
``apps.accounts.audit``), not its actions.
"""
from functools import wraps

from allauth.account.authentication import get_authentication_records
from allauth.account.decorators import secure_admin_login
from allauth.mfa.utils import is_mfa_enabled
from django.contrib import admin
from django.http import HttpRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from apps.core import conf


def session_used_mfa(request: HttpRequest) -> bool:
    """True if this session's login (or a later re-authentication) passed a second factor."""
    return any(record.get("method") == "mfa"
               for record in get_authentication_records(request, request.user))


class AdminSite(admin.AdminSite):
    # The app list in a sidebar left a 1366 px screen too narrow for the lists' columns
    # (with the filters on the right): the index and the breadcrumbs lead there instead.
    enable_nav_sidebar = False

    def has_permission(self, request: HttpRequest) -> bool:
        if not super().has_permission(request):
            return False
        return not conf.ADMIN_REQUIRE_MFA or session_used_mfa(request)

    def login(self, request: HttpRequest, extra_context=None):
        user = request.user
        if (user.is_authenticated and user.is_active and user.is_staff
                and not self.has_permission(request)):
            # Staff without the second factor this session: set one up, or give the code.
            step = "mfa_reauthenticate" if is_mfa_enabled(user) else "mfa_activate_totp"
            next_url = request.GET.get("next") or request.path
            return redirect(f"{reverse(step)}?{urlencode({'next': next_url})}")
        return secure_admin_login(super().login)(request, extra_context)


    def admin_view(self, view, cacheable=False):
        wrapped = super().admin_view(view, cacheable)

        @wraps(wrapped)
        def recorded(request: HttpRequest, *args, **kwargs):
            response = wrapped(request, *args, **kwargs)
            action = request.POST.get("action") if request.method == "POST" else None
            if action and response.status_code == 302 and request.user.is_authenticated:
                # Imported here: the audit's imports (allauth.mfa) reach admin.site, which
                # is being built from this module when it is first imported.
                from apps.accounts import audit

                selected = request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME)
                audit.record(kind=audit.ADMIN_ACTION, request=request,
                             object_type=request.path, object_id=",".join(selected),
                             message=f"action {action} on {len(selected)} object(s)")
            return response
        return recorded
