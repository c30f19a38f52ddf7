"""System checks: a host project that installs the apps wrongly hears it at start-up
(``manage.py check``, ``runserver``, ``migrate``), with what to change, not from a trader's
500 later. Registered in ``CoreConfig.ready``.

- ``exchange.E001``: a setting of ``apps.core.conf`` has a value of the wrong kind, or a
  setting without a default is not set.
- ``exchange.E002``: an app the installed apps need is missing from ``INSTALLED_APPS``.
- ``exchange.E003``: ``EXCHANGE_BASE_TEMPLATE`` names a template that cannot be loaded.
- ``exchange.W001``: ``EXCHANGE_BASE_TEMPLATE`` is set but no template engine has the
  context processor that hands it to the pages (they would use the apps' own layout).
"""
from __future__ import annotations

from django.apps import apps as installed
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.template import TemplateDoesNotExist, engines
from django.template.loader import get_template

from apps.core import conf

CONTEXT_PROCESSOR = "apps.core.context_processors.exchange"

# What each app needs installed beside it (their models, migrations or imports use these).
REQUIRES: dict[str, list[str]] = {
    "apps.core": ["django.contrib.auth", "django.contrib.contenttypes"],
    "apps.accounts": ["apps.core", "apps.wallets", "rest_framework", "rest_framework.authtoken",
                      "axes", "allauth", "allauth.account", "allauth.mfa",
                      "allauth.usersessions"],
    "apps.wallets": ["apps.core", "rest_framework"],
    "apps.marketdata": ["apps.core"],
    "apps.trading": ["apps.core", "apps.wallets", "apps.marketdata", "rest_framework"],
    "apps.orderstore": ["apps.core", "apps.trading"],
    "apps.twelvedata": ["apps.trading", "apps.wallets", "apps.marketdata", "apps.accounts",
                        "django_celery_beat", "rest_framework"],
    "apps.trade": ["apps.trading", "apps.twelvedata", "apps.marketdata", "apps.accounts",
                   "django.contrib.staticfiles"],
    "apps.streaming": ["apps.marketdata", "apps.trading", "channels",
                       "rest_framework.authtoken"],
    "apps.health": ["apps.trading", "apps.marketdata", "health_check"],
    "apps.fixedtime": ["apps.trading", "apps.wallets", "apps.marketdata", "django_celery_beat",
                        "rest_framework"],
    "apps.deposits": ["apps.core", "apps.wallets", "apps.accounts", "django_celery_beat",
                      "rest_framework"],
}


@register(Tags.compatibility)
def settings_valid(app_configs=None, **kwargs) -> list[Error]:
    errors = []
    for setting in conf.SETTINGS.values():
        value = getattr(settings, setting.name, setting.default)
        if value is conf.REQUIRED:
            errors.append(Error(
                f"{setting.name} is not set: it must be {setting.expected}.",
                hint=f"Set {setting.name} in your settings (it has no default).",
                id="exchange.E001"))
        elif not setting.valid(value):
            errors.append(Error(
                f"{setting.name} = {value!r} is not valid: it must be {setting.expected}.",
                hint=f"Fix {setting.name} in your settings, or remove it for the default "
                     f"{setting.default!r}.",
                id="exchange.E001"))
    return errors


@register(Tags.compatibility)
def required_apps_installed(app_configs=None, **kwargs) -> list[Error]:
    names = {config.name for config in installed.get_app_configs()}
    errors = []
    for app, needs in REQUIRES.items():
        if app not in names:
            continue
        for needed in needs:
            if needed not in names:
                errors.append(Error(
                    f"{app} needs {needed!r} in INSTALLED_APPS.",
                    hint=f"Add {needed!r} to INSTALLED_APPS (README \"Install as a plug-in\").",
                    obj=app, id="exchange.E002"))
    return errors


@register(Tags.templates)
def base_template(app_configs=None, **kwargs) -> list[Error | Warning]:
    name = conf.EXCHANGE_BASE_TEMPLATE
    if not isinstance(name, str):
        return []  # settings_valid reports it
    messages: list[Error | Warning] = []
    try:
        get_template(name)
    except TemplateDoesNotExist:
        messages.append(Error(
            f"EXCHANGE_BASE_TEMPLATE = {name!r}: no template of that name can be loaded.",
            hint="Name a template the host's TEMPLATES finds, with the blocks title, head, "
                 "content and scripts.",
            id="exchange.E003"))
    overridden = hasattr(settings, "EXCHANGE_BASE_TEMPLATE")
    processors = {processor for engine in settings.TEMPLATES
                  for processor in engine.get("OPTIONS", {}).get("context_processors", [])}
    if overridden and CONTEXT_PROCESSOR not in processors and engines.all():
        messages.append(Warning(
            f"EXCHANGE_BASE_TEMPLATE is set, but {CONTEXT_PROCESSOR!r} is not among the "
            "template context processors: the pages keep the apps' own layout.",
            hint=f"Add {CONTEXT_PROCESSOR!r} to TEMPLATES[...]['OPTIONS']['context_processors'].",
            id="exchange.W001"))
    return messages
