from django.urls import path

from apps.wallets import apis

urlpatterns = [
    path("", apis.WalletListApi.as_view(), name="wallet-list"),
    path("transfer/", apis.TransferApi.as_view(), name="wallet-transfer"),
    path("<str:wallet_type>/<str:currency>/ledger/", apis.LedgerApi.as_view(),
         name="wallet-ledger"),
]
