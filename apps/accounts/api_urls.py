from django.urls import path

from apps.accounts import apis
from apps.accounts.api_keys import apis as key_apis

urlpatterns = [
    path("register/", apis.RegisterApi.as_view(), name="account-register"),
    path("verify-email/", apis.VerifyEmailApi.as_view(), name="account-verify-email"),
    path("password/reset/", apis.PasswordResetApi.as_view(), name="account-password-reset"),
    path("password/reset/confirm/", apis.PasswordResetConfirmApi.as_view(),
         name="account-password-reset-confirm"),
    path("api-keys/", key_apis.ApiKeyListCreateApi.as_view(), name="account-api-keys"),
    path("api-keys/<str:key_id>/revoke/", key_apis.ApiKeyRevokeApi.as_view(),
         name="account-api-key-revoke"),
]
