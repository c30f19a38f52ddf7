"""Template context for the apps' pages (added to a host's TEMPLATES, README "Install as a
plug-in")."""
from apps.core import conf


def exchange(request) -> dict[str, str]:
    """``exchange_base_template``: the template ``trade/base.html`` extends, so a host's own
    layout (``EXCHANGE_BASE_TEMPLATE``) wraps the trade pages."""
    return {"exchange_base_template": conf.EXCHANGE_BASE_TEMPLATE}
