"""python -m bench [GROUP ...]: run benchmark groups (default: all that exist) and write results."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from bench import report

# in this order (cost last: it prices the counts the fleet group just measured); a group
# whose module is not there yet is left out
GROUPS = tuple(
    g
    for g in (
        "render",
        "apply",
        "audit",
        "intake",
        "e2e",
        "fleet",
        "api",
        "fleetpods",
        "cluster",
        "memory",
        "big",
        "ui",
        "cost",
    )
    if (Path(__file__).resolve().parent / f"{g}.py").exists()
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("groups", nargs="*", help=f"any of: {', '.join(GROUPS)} (default: all)")
    p.add_argument("--apps", type=int, help="fleet size for the fleet group (default 1000)")
    p.add_argument(
        "--full",
        action="store_true",
        help="the big group at the issue's sizes (20,000 objects, 10,000 applications: about "
        "25 minutes on 2 cores) instead of sizes that fit 10 minutes",
    )
    args = p.parse_args(argv)
    if args.apps:
        os.environ["GITOPS_BENCH_FLEET_APPS"] = str(args.apps)
    if args.full:
        os.environ["GITOPS_BENCH_BIG_FULL"] = "1"
    unknown = sorted(set(args.groups) - set(GROUPS))
    if unknown:
        p.error(f"unknown group(s) {unknown}; choose from {', '.join(GROUPS)}")
    os.environ.setdefault("GITOPS_LOG_LEVEL", "WARNING")  # keep the figures readable
    records: list[report.Record] = []
    failed = []
    for group in args.groups or GROUPS:
        module = __import__(f"bench.{group}", fromlist=["run"])
        try:
            records += module.run()
        except report.Failed as exc:  # figures measured, but a check failed
            records += exc.records
            print(f"[bench {group}] FAILED checks: " + "; ".join(exc.problems), file=sys.stderr)
            failed.append(group)
        except Exception:  # one broken group must not lose the others' figures
            traceback.print_exc()
            failed.append(group)
    path = report.write(records)
    print(f"results: {path}" + (f"; FAILED groups: {', '.join(failed)}" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
