from django.urls import path

from apps.accounts import views

app_name = "accounts"
urlpatterns = [
    path("", views.account, name="account"),
    path("kyc/", views.kyc_apply, name="kyc-apply"),
    path("api-keys/", views.api_key_create, name="api-key-create"),
    path("api-keys/<str:key_id>/revoke/", views.api_key_revoke, name="api-key-revoke"),
]
