"""Reference fire times from croniter for tests/it/schedule_croniter.rs.

Reads a JSON list of cases {"id", "expr", "tz", "start", "n", "day_or"} from argv[1] and writes
{"id": [UTC RFC 3339 strings]} (or {"id": {"error": "..."}}) to argv[2]. One process for all
cases keeps the differential test fast.
"""
import json
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from croniter import croniter


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)
    out = {}
    for case in cases:
        zone = ZoneInfo(case["tz"])
        start = datetime.fromtimestamp(case["start"], tz=timezone.utc).astimezone(zone)
        try:
            it = croniter(case["expr"], start, day_or=case["day_or"])
            fires = []
            for _ in range(case["n"]):
                nxt = it.get_next(datetime)
                fires.append(nxt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
            out[case["id"]] = fires
        except Exception as exc:  # report, do not hide: the Rust side counts it as a disagreement
            out[case["id"]] = {"error": f"{type(exc).__name__}: {exc}"}
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
