"""The apps' settings (apps/core/conf.py) and the system checks that report a host's
misconfiguration (apps/core/checks.py) with a clear message."""
import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from apps.core import conf


def messages(id_prefix: str = "exchange.") -> list:
    return [m for m in run_checks(include_deployment_checks=False)
            if m.id.startswith(id_prefix)]


def test_this_project_passes_every_check():
    assert messages() == []


def test_a_setting_falls_back_to_its_documented_default(settings):
    del settings.PAPER_FILL_BATCH
    assert conf.PAPER_FILL_BATCH == conf.SETTINGS["PAPER_FILL_BATCH"].default == 200
    settings.PAPER_FILL_BATCH = 7
    assert conf.PAPER_FILL_BATCH == 7


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no setting 'PAPER_FIL_BATCH'"):
        conf.PAPER_FIL_BATCH  # noqa: B018


@pytest.mark.parametrize("name, value", [
    ("PAPER_FILL_BATCH", 0), ("PAPER_FILL_BATCH", "200"), ("PAPER_FILL_BATCH", True),
    ("STREAMING_HEARTBEAT_SECONDS", float("nan")), ("PAPER_DEMO_BALANCE", "-5"),
    ("PAPER_DEMO_BALANCE", "Infinity"), ("PAPER_DEMO_CURRENCY", "usd"),
    ("TWELVEDATA_WS_URL", "https://ws.twelvedata.com"), ("HEALTH_CELERY_REQUIRED", "yes"),
    ("HEALTH_EXTRA_CHECKS", "apps.x.Check"), ("KYC_DAILY_WITHDRAWAL_LIMIT", {0: "0"}),
])
def test_a_bad_value_is_reported_with_what_it_must_be(settings, name, value):
    setattr(settings, name, value)
    [message] = messages()
    assert message.id == "exchange.E001"
    assert message.msg.startswith(f"{name} = {value!r} is not valid: it must be ")
    assert conf.SETTINGS[name].expected in message.msg


def test_a_required_setting_left_out_is_reported_and_refused_when_read(settings):
    del settings.KYC_DOCUMENTS_ROOT
    [message] = messages()
    assert (message.id, message.msg) == (
        "exchange.E001", "KYC_DOCUMENTS_ROOT is not set: it must be the path of a private "
        "directory (not under MEDIA_ROOT or static files).")
    with pytest.raises(ImproperlyConfigured, match="KYC_DOCUMENTS_ROOT must be set"):
        conf.KYC_DOCUMENTS_ROOT  # noqa: B018


def test_a_missing_app_is_named_with_the_app_that_needs_it(settings):
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS
                               if app != "django_celery_beat"]
    found = messages()
    assert [(m.id, m.msg) for m in found] == [
        ("exchange.E002", f"apps.{app} needs 'django_celery_beat' in INSTALLED_APPS.")
        for app in ("twelvedata", "fixedtime", "deposits")]


def test_a_base_template_that_cannot_be_loaded_is_reported(settings):
    settings.EXCHANGE_BASE_TEMPLATE = "host/missing.html"
    [message] = messages()
    assert message.id == "exchange.E003"
    assert "'host/missing.html': no template of that name can be loaded" in message.msg


def test_a_base_template_without_the_context_processor_is_a_warning(settings):
    settings.EXCHANGE_BASE_TEMPLATE = "trade/layout.html"
    engine = settings.TEMPLATES[0]
    processors = [p for p in engine["OPTIONS"]["context_processors"]
                  if p != "apps.core.context_processors.exchange"]
    with override_settings(TEMPLATES=[{**engine, "OPTIONS": {
            **engine["OPTIONS"], "context_processors": processors}}]):
        [message] = messages()
    assert message.id == "exchange.W001"
    assert "the pages keep the apps' own layout" in message.msg
