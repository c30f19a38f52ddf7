"""API authentication and accounts for a non-browser client.

``TokenApi`` exchanges a username and password (and the TOTP code of an account that has a
second factor) for a token (DRF authtoken). ``RegisterApi``, ``VerifyEmailApi``,
``PasswordResetApi`` and ``PasswordResetConfirmApi`` are the sign-up and reset flows of
the web pages (django-allauth's forms and e-mails: the same checks, messages and links),
answering in the API's JSON error format.
"""
from allauth.account import app_settings as account_settings
from allauth.account import signals as account_signals
from allauth.account.adapter import get_adapter
from allauth.account.forms import (
    ResetPasswordForm,
    ResetPasswordKeyForm,
    SignupForm,
    UserTokenForm,
)
from allauth.account.internal.flows.email_verification import (
    send_verification_email_for_user,
    send_verification_email_to_address,
)
from allauth.account.models import EmailAddress, get_emailconfirmation_model
from allauth.account.utils import has_verified_email
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from axes.helpers import get_cool_off
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import exceptions, serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.errors import Conflict
from apps.core.schema import error_responses


class StringField(serializers.CharField):
    """A CharField that takes a JSON string only: DRF's would turn ``123`` or ``true`` into
    text, accepting what the schema (type: string) says is invalid."""

    default_error_messages = {"not_a_string": "Not a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class LockedOut(exceptions.APIException):
    """Too many failed logins for the account or the address (django-axes); ``wait``
    becomes the Retry-After header."""

    status_code = 429
    default_code = "locked_out"

    def __init__(self, *, wait: int) -> None:
        self.wait = wait
        super().__init__(f"Too many failed logins: this account or address is locked "
                         f"for {wait // 60} minutes.")


@extend_schema_serializer(component_name="AuthToken")
class TokenInput(AuthTokenSerializer):
    # Bounded like the user model's field (the web and admin login forms are): a longer
    # name names no one, and django-axes would try to record it as a failed attempt.
    username = serializers.CharField(
        write_only=True, max_length=get_user_model()._meta.get_field("username").max_length)


    code = serializers.CharField(
        write_only=True, required=False, max_length=16,
        help_text="The authenticator app's current code: required for an account with "
                  "two-factor authentication.")


class TokenOutput(serializers.Serializer):
    token = serializers.CharField()


class TokenApi(APIView):
    """POST username and password; use the answer as ``Authorization: Token <token>``.

    Failed attempts count towards the login lockout shared with the web login and the
    admin: past AXES_FAILURE_LIMIT the answer is 429 ``locked_out``, right password or not.
    As on the web login, the account's e-mail address must be confirmed (403
    ``email_unverified``), and an account with an authenticator app also sends its current
    ``code`` (403 ``mfa_required`` without one; a wrong one is a 400 and counts as a failed
    login): the password alone would walk past the second factor the web login asks for.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=TokenInput, responses={200: TokenOutput, **error_responses(403)})
    def post(self, request):
        data = TokenInput(data=request.data, context={"request": request})
        if not data.is_valid():
            # Set by django-axes while authenticating, on this (DRF) request object.
            if getattr(request, "axes_locked_out", False):
                raise LockedOut(wait=int(get_cool_off(request).total_seconds()))
            raise exceptions.ValidationError(data.errors)
        user = data.validated_data["user"]
        # The web login's rules: a confirmed address first, then the second factor.
        mandatory = account_settings.EmailVerificationMethod.MANDATORY
        if account_settings.EMAIL_VERIFICATION == mandatory and not has_verified_email(user):
            # As the web login does: a new link, unless one went out a moment ago (allauth's
            # cool-down), in case the first was lost.
            send_verification_email_for_user(request._request, user)
            raise exceptions.PermissionDenied(
                "Confirm your e-mail address first: the link is in the e-mail we sent.",
                code="email_unverified")
        _check_second_factor(request, user, data.validated_data.get("code"))
        # A login like the web's: django-axes clears the account's failures (and logs the
        # access), Django records last_login.
        user_logged_in.send(sender=user.__class__, request=request, user=user)
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


def _check_second_factor(request, user, code: str | None) -> None:
    authenticator = Authenticator.objects.filter(
        user_id=user.pk, type=Authenticator.Type.TOTP).first()
    if authenticator is None:
        return
    if not code:
        raise exceptions.PermissionDenied(
            "This account has two-factor authentication: send the authenticator app's "
            "current code as \"code\".", code="mfa_required")
    # allauth's check: the code of this period, once (a used code is refused).
    if not TOTP(authenticator).validate_code(code):
        # A failed login for django-axes like a wrong password: guessing codes for a known
        # password runs into the same lockout.
        user_login_failed.send(sender=__name__, request=request,
                               credentials={"username": user.get_username()})
        raise exceptions.ValidationError({"code": ["Incorrect code."]})


def _form_errors(form, renames: dict[str, str] | None = None) -> exceptions.ValidationError:
    """A Django form's errors as the API's invalid-input error, under the API's field
    names (allauth's ``password1`` is ``password`` here)."""
    renames = {"__all__": "non_field_errors", **(renames or {})}
    return exceptions.ValidationError(
        {renames.get(field, field): [str(message) for message in messages]
         for field, messages in form.errors.items()})


class Accepted(serializers.Serializer):
    detail = serializers.CharField()


@extend_schema_serializer(component_name="Register")
class RegisterInput(serializers.Serializer):
    username = StringField(
        max_length=get_user_model()._meta.get_field("username").max_length,
        help_text="Letters, digits and @/./+/-/_ (ASCII only).")
    email = serializers.EmailField(max_length=254)
    password = StringField(max_length=128, write_only=True)


class RegisterApi(APIView):
    """Sign up: the account is created and a confirmation link is e-mailed; the account
    logs in (for a token too) only once the address is confirmed (``verify-email``).

    An address that already has an account gets an e-mail saying so, and the answer is the
    same 202 as for a new one, so that the answer does not tell who has an account here.
    A username that is taken is a 400 (as on the web sign-up page).
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=RegisterInput, responses={202: Accepted})
    def post(self, request):
        data = RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        form = SignupForm(data={"username": values["username"], "email": values["email"],
                                "password1": values["password"],
                                "password2": values["password"]})
        if not form.is_valid():
            raise _form_errors(form, {"password1": "password", "password2": "password"})
        if form.account_already_exists:
            get_adapter().send_account_already_exists_mail(form.cleaned_data["email"])
        else:
            user = form.save(request._request)
            account_signals.user_signed_up.send(sender=user.__class__,
                                                request=request._request, user=user)
            address = EmailAddress.objects.get_primary(user)
            send_verification_email_to_address(request._request, address, signup=True)
        return Response({"detail": "Check your e-mail for the link that confirms the "
                                   "address."}, status=202)


class VerifyEmailInput(serializers.Serializer):
    key = serializers.CharField(max_length=256, help_text="The last part of the link in "
                                "the confirmation e-mail (/accounts/confirm-email/<key>/).")


class VerifiedOutput(serializers.Serializer):
    email = serializers.EmailField()


class VerifyEmailApi(APIView):
    """Confirm an e-mail address with the key from the confirmation e-mail's link."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=VerifyEmailInput,
                   responses={200: VerifiedOutput, **error_responses(409)})
    def post(self, request):
        data = VerifyEmailInput(data=request.data)
        data.is_valid(raise_exception=True)
        confirmation = get_emailconfirmation_model().from_key(data.validated_data["key"])
        if confirmation is None or confirmation.key_expired():
            raise exceptions.ValidationError({"key": ["This confirmation link is invalid or "
                                                      "has expired."]})
        address = confirmation.email_address
        if not address.can_set_verified():
            raise Conflict("Another account has confirmed this address already.")
        confirmation.confirm(request._request)
        return Response({"email": address.email})


class PasswordResetInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetApi(APIView):
    """Ask for a password reset: a link goes to the address if it has an account (and a
    note that it has none otherwise); the answer is the same 202 either way."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=PasswordResetInput, responses={202: Accepted})
    def post(self, request):
        data = PasswordResetInput(data=request.data)
        data.is_valid(raise_exception=True)
        form = ResetPasswordForm(data={"email": data.validated_data["email"]})
        if not form.is_valid():
            raise _form_errors(form)
        form.save(request._request)
        return Response({"detail": "If the address has an account, a reset link is on its "
                                   "way."}, status=202)


class PasswordResetConfirmInput(serializers.Serializer):
    key = serializers.CharField(max_length=256, help_text="The last part of the link in the "
                                "reset e-mail (/accounts/password/reset/key/<key>/).")
    password = serializers.CharField(max_length=128, write_only=True)


class PasswordResetConfirmApi(APIView):
    """Set a new password with the key from the reset e-mail's link. The key works once:
    the new password changes what it was made from. The account's API token is replaced,
    so that whoever held the old one is out."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=PasswordResetConfirmInput, responses={204: None})
    def post(self, request):
        data = PasswordResetConfirmInput(data=request.data)
        data.is_valid(raise_exception=True)
        uidb36, _, key = data.validated_data["key"].partition("-")
        token = UserTokenForm(data={"uidb36": uidb36, "key": key})
        if not token.is_valid():
            raise exceptions.ValidationError({"key": ["This reset link is invalid or has "
                                                      "been used."]})
        user = token.reset_user
        password = data.validated_data["password"]
        form = ResetPasswordKeyForm(data={"password1": password, "password2": password},
                                    user=user, temp_key=key)
        if not form.is_valid():
            raise _form_errors(form, {"password1": "password", "password2": "password"})
        form.save()
        Token.objects.filter(user=user).delete()
        account_signals.password_reset.send(sender=user.__class__, request=request._request,
                                            user=user)
        return Response(status=204)
