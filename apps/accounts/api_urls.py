from django.urls import path

from apps.accounts import apis

urlpatterns = [
    path("register/", apis.RegisterApi.as_view(), name="account-register"),
    path("verify-email/", apis.VerifyEmailApi.as_view(), name="account-verify-email"),
    path("password/reset/", apis.PasswordResetApi.as_view(), name="account-password-reset"),
    path("password/reset/confirm/", apis.PasswordResetConfirmApi.as_view(),
         name="account-password-reset-confirm"),
]
