from django.urls import path

from apps.deposits import apis

urlpatterns = [
    path("intents/", apis.IntentListApi.as_view(), name="deposit-intents"),
    path("intents/<uuid:intent_id>/", apis.IntentDetailApi.as_view(), name="deposit-intent"),
    path("webhook/", apis.WebhookApi.as_view(), name="deposit-webhook"),
]
