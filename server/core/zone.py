"""China Standard Time, the one definition of it: the zone of the demo's story, of the
readable timelines' default, and the server's fallback for ``Asia/Shanghai`` on a host without
the time zone database. China has no daylight saving time, so a fixed UTC+8 is exact.

Pure: no I/O.
"""

from __future__ import annotations

from datetime import timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8), "CST")
