"""CPU per request of the API's search route in process (control-plane reads, search, audit row, commit).

Wall time on a shared machine under load cannot show a few milliseconds; `time.process_time` can.
Run it against a home made by bench/search_api.py, once with this checkout and once with an older
revision on PYTHONPATH (bench/search_api.py --before installs one under <keep>/site-REV/site),
alternating:

    python -m bench.route_cpu /tmp/sapi-small/home compliance 300
    PYTHONPATH=/tmp/sapi-1m/site-994fd05/site python -m bench.route_cpu /tmp/sapi-small/home compliance 300
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path


def main() -> None:
    home, role, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    os.environ["MAILARK_HOME"] = str(home)
    from sqlalchemy import select

    import mailark
    from mailark.config.settings import Settings
    from mailark.control.models import User
    from mailark.control.principals import user_principal
    from mailark.dashboards.api import search as search_api
    from mailark.dashboards.deps import AppContext
    from mailark.runtime import open_runtime

    route = getattr(search_api, "search_sync", search_api.search)  # the route's work without the thread pool trip

    info = json.loads((home / "bench.json").read_text())
    settings = Settings(home=home, object_store="local", control_url=None, master_key=None, master_key_file=None)
    rt = open_runtime(settings)
    ctx = AppContext(rt, secure_cookies=False)
    with rt.session() as s:
        p = user_principal(s.scalar(select(User).where(User.login == info["logins"][role])))

    def call(q: str) -> None:
        s = rt.control()
        try:
            route(info["org"], p, s, ctx, q=q, page=1, per_page=25, sort="newest", mailbox=None)
            s.commit()
        finally:
            s.close()

    qs = ["invoice", "meeting", "from:alice", "report", "budget"]
    for q in qs:  # warm-up
        call(q)
    cpu = []
    for i in range(n):
        t = time.process_time()
        call(qs[i % len(qs)])
        cpu.append((time.process_time() - t) * 1000)
    rt.close()
    print(json.dumps({"mailark": str(Path(mailark.__file__).parent), "role": role, "calls": n,
                      "cpu_mean_ms": round(statistics.mean(cpu), 2), "load_average": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
