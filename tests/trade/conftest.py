"""The browser fixtures of test_browser.py (`make run` on free ports, Chromium, a page that
records CSP violations), for the other browser test modules here too."""
from tests.trade.test_browser import browser, page, platform  # noqa: F401
