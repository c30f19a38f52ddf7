from django.urls import path

from apps.accounts import views

app_name = "accounts"
urlpatterns = [
    path("", views.account, name="account"),
    path("kyc/", views.kyc_apply, name="kyc-apply"),
]
