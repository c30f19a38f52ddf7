"""The pages extend EXCHANGE_BASE_TEMPLATE: a host's own layout wraps them, with the
pages' stylesheet in its head; without the setting they keep the apps' own layout."""
import pytest

HOST_BASE = """<html><head>{% block head %}{% endblock %}</head>
<body><nav data-host-layout>host nav</nav>{% block content %}{% endblock %}
{% block scripts %}{% endblock %}</body></html>"""


@pytest.fixture
def host_templates(settings):
    engine = settings.TEMPLATES[0]
    settings.TEMPLATES = [{**engine, "APP_DIRS": False, "OPTIONS": {
        **engine["OPTIONS"], "loaders": [
            ("django.template.loaders.locmem.Loader", {"host/base.html": HOST_BASE}),
            "django.template.loaders.filesystem.Loader",
            "django.template.loaders.app_directories.Loader"]}}]
    settings.EXCHANGE_BASE_TEMPLATE = "host/base.html"


def test_a_host_layout_wraps_the_pages(client, db, host_templates):
    html = client.get("/forex").content.decode()
    assert "<nav data-host-layout>host nav</nav>" in html
    assert "paper-banner" not in html  # the apps' own layout is not used
    head = html.split("</head>")[0]
    assert "trade/trade.css" in head


def test_without_the_setting_the_apps_own_layout_is_used(client, db):
    html = client.get("/forex").content.decode()
    assert "data-host-layout" not in html
    assert "paper-banner" in html and "trade/trade.css" in html.split("</head>")[0]
