"""A Celery worker's part in one process of its own: ``python -m tests.spot.worker_main
<order id> [wait]`` runs the spot submit task for the order (after ``wait``: sleeping
first, so a test can kill it between commit and submit). Prints "ready" once Django is up.
The test that starts it passes the database and exchange settings in the environment."""
import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange_platform.settings")
django.setup()

from apps.spot.tasks import order_submit_task  # noqa: E402 - after django.setup()

sys.stdout.write("ready\n")
sys.stdout.flush()
if sys.argv[2:] == ["wait"]:
    time.sleep(120)
sys.stdout.write(f"{order_submit_task(int(sys.argv[1]))}\n")
