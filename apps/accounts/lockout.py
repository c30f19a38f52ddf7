"""Who the client is, for the API throttles and the login lockout alike.

django-axes counts failed logins per account and per client address (settings: AXES_*);
``client_address`` is its AXES_CLIENT_IP_CALLABLE, so that a lockout and a throttle never
disagree about who is asking.
"""
from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle


def client_address(request: HttpRequest | Request) -> str:
    """The client's address as DRF's throttles compute it: ``REMOTE_ADDR``, or with
    ``NUM_PROXIES`` > 0 the X-Forwarded-For entry that many places from the right (the one
    the nearest trusted proxy appended). A header the client sent itself is never read
    while ``NUM_PROXIES`` is 0."""
    return BaseThrottle().get_ident(request)
