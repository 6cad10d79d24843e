"""`config.wsgi` with one hot endpoint's own work canned (`canned.py`), for `ratio_ceiling.py`. Never for real use.

    FANGKONG_BENCH_CANNED=scan|checkin gunicorn canned_wsgi  (with bench/ on PYTHONPATH)
"""

from __future__ import annotations

import os

from canned import canned

from config.wsgi import application
from fangkong.access import scan_fast
from fangkong.health import checkin_fast

TARGETS = {"scan": (scan_fast, "scan_entry_common"), "checkin": (checkin_fast, "checkin_submit_common")}
canned(*TARGETS[os.environ["FANGKONG_BENCH_CANNED"]])

__all__ = ["application"]
