from django.urls import path

from apps.health import views

app_name = "health"

urlpatterns = [
    path("live", views.LiveView.as_view(), name="live"),
    path("ready", views.ReadyView.as_view(), name="ready"),
]
