"""Benchmark records, the machine they came from, and the JSON + markdown output."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# GITOPS_BENCH_RESULTS: somewhere else for trial runs (keeps bench/results/latest.* as they are)
RESULTS = Path(os.environ.get("GITOPS_BENCH_RESULTS") or Path(__file__).resolve().parent / "results")


@dataclass
class Record:
    metric: str
    value: float
    unit: str
    detail: dict[str, Any] = field(default_factory=dict)


class Failed(RuntimeError):
    """A group whose checks failed: its figures are still written, and the run fails."""

    def __init__(self, records: list[Record], problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.records = records
        self.problems = problems


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    kubectl = subprocess.run(
        ["kubectl", "version", "--client", "-o", "json"], capture_output=True, text=True
    ).stdout
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "kubectl": (json.loads(kubectl or "{}").get("clientVersion") or {}).get("gitVersion", ""),
        "kube_apiserver": "1.20.2 (Debian source build)",
    }


def summary(values: list[float]) -> dict[str, float]:
    return {
        "min": round(min(values), 4),
        "median": round(statistics.median(values), 4),
        "max": round(max(values), 4),
        "n": len(values),
    }


def write(records: list[Record]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    info = machine()
    for r in records:
        r.detail.setdefault("machine", info)
    data = [asdict(r) for r in records]
    path = RESULTS / f"{stamp}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    (RESULTS / "latest.json").write_text(json.dumps(data, indent=2) + "\n")
    table = markdown(records)
    (RESULTS / f"{stamp}.md").write_text(table)
    (RESULTS / "latest.md").write_text(table)
    print(table)
    return path


def markdown(records: list[Record]) -> str:
    lines = ["| metric | value | unit | baseline (same run) | notes |", "|---|---|---|---|---|"]
    for r in records:
        baseline = r.detail.get("baseline", "")
        notes = r.detail.get("note", "")
        lines.append(f"| `{r.metric}` | {r.value:g} | {r.unit} | {baseline} | {notes} |")
    return "\n".join(lines) + "\n"
