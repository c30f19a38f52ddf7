"""Who the client is, for the API throttles and the login lockout alike.

django-axes counts failed logins per account and per client address (settings: AXES_*);
``client_address`` is its AXES_CLIENT_IP_CALLABLE, so that a lockout and a throttle never
disagree about who is asking, and ``login_name`` its AXES_USERNAME_CALLABLE, so that an
account has one count whether its username or its e-mail address was typed.
"""
from collections.abc import Mapping

from allauth.account.utils import filter_users_by_email
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle


def client_address(request: HttpRequest | Request) -> str:
    """The client's address as DRF's throttles compute it: ``REMOTE_ADDR``, or with
    ``NUM_PROXIES`` > 0 the X-Forwarded-For entry that many places from the right (the one
    the nearest trusted proxy appended). A header the client sent itself is never read
    while ``NUM_PROXIES`` is 0."""
    return BaseThrottle().get_ident(request)


# What axes can record (its column); a longer name is cut to it rather than failing the
# insert (on MariaDB a 500): a name that long names no account anyway.
_NAME_MAX = AccessAttempt._meta.get_field("username").max_length


def login_name(request: HttpRequest | Request, credentials: Mapping | None) -> str | None:
    """The account a login attempt is for. allauth's login passes ``username`` or
    ``email`` (by what was typed), DRF's token login ``username``; the form field is
    ``login`` (allauth) or ``username``. An e-mail address of an account counts as that
    account's username; one of no account counts as itself."""
    name = None
    if credentials:
        name = credentials.get("username") or credentials.get("email")
    if name is None:
        data = getattr(request, "data", None)
        data = data if isinstance(data, Mapping) else request.POST
        name = data.get("login") or data.get("username")
    if not isinstance(name, str) or not name:
        return None
    if "@" in name:
        users = filter_users_by_email(name)
        if len(users) == 1:
            name = getattr(users[0], get_user_model().USERNAME_FIELD)
    return name[:_NAME_MAX]
