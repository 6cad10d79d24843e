import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# Import every view and API module now rather than on the first request, then move everything loaded so far out
# of the garbage collector's reach: it is never freed, and without this every full collection walked Django's
# hundreds of thousands of long-lived objects again (≈ 13 ms of a 1,000-scan batch; bench/README.md).
get_resolver().url_patterns  # noqa: B018 - the import is the point
gc.freeze()
