"""`python -m bench [--quick]`: run every benchmark, print the figures, write bench/results.json."""

from __future__ import annotations

import json
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

from bench import console, history, interlocks, mqtt, polling


def main() -> None:
    quick = "--quick" in sys.argv
    results = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {platform.processor() or ''} python {platform.python_version()}",
        "polling": polling.main(quick),
        "mqtt": mqtt.main(quick),
        "console": console.main(quick),
        "history": history.main(quick),
        "interlocks": interlocks.main(quick),
    }
    out = Path(__file__).with_name("results.json")
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"written {out}")


if __name__ == "__main__":
    main()
