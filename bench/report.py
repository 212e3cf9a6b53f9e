"""Write bench/results/summary.md: the tables of docs/benchmarks.md, filled from bench/results/*.json.

Run from the repository root after the benchmarks: ``.venv/bin/python bench/report.py``.
"""

import json

from common import RESULTS_DIR

TARGETS = {"latency": 1.15, "throughput": 0.9, "cold_start": 1.3}


def load(name: str) -> dict | None:
    path = RESULTS_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def verdict(met: bool) -> str:
    return "met" if met else "not met"


def ingest_section(data: dict) -> list[str]:
    lines = [f"### Ingest ({data['events_per_handler']} events per handler and concurrency, `{data['script']}`)", "",
             "| concurrency | handler | p50 ms | p95 ms | p99 ms | req/s | CPU ms per request: functions / Firestore emulator / Tasks emulator |",
             "|---|---|---|---|---|---|---|"]
    for concurrency, result in sorted(data["results"].items(), key=lambda item: int(item[0])):
        for handler, figures in result.items():
            if handler == "ratios":
                continue
            cpu = figures["cpu_ms_per_request"]
            lines.append(f"| {concurrency} | {handler} | {figures['p50_ms']} | {figures['p95_ms']} | {figures['p99_ms']} | "
                         f"{figures['requests_per_second']} | {cpu['functions']} / {cpu['firestore']} / {cpu['tasks']} |")
    lines += ["", "| concurrency | p50 ratio | p95 ratio | p99 ratio | throughput ratio | latency target (<= 1.15) | throughput target (>= 0.9) |",
              "|---|---|---|---|---|---|---|"]
    for concurrency, result in sorted(data["results"].items(), key=lambda item: int(item[0])):
        ratios = result["ratios"]
        latency_met = ratios["p50"] <= TARGETS["latency"] and ratios["p99"] <= TARGETS["latency"]
        lines.append(f"| {concurrency} | {ratios['p50']} | {ratios['p95']} | {ratios['p99']} | {ratios['throughput']} | "
                     f"{verdict(latency_met)} | {verdict(ratios['throughput'] >= TARGETS['throughput'])} |")
    return lines + [""]


def repeats_section() -> list[str]:
    """Tabulate the ratios of every ingest run in bench/results (ingest.json and ingest-repeat*.json)."""
    paths = sorted(RESULTS_DIR.glob("ingest-repeat*.json"))
    if not paths:
        return []
    lines = ["### Ingest ratios, product / baseline, run by run", "",
             "| run | c=1 p50 | c=1 p99 | c=1 req/s | c=8 p50 | c=8 p99 | c=8 req/s | c=32 p50 | c=32 p99 | c=32 req/s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for path in [RESULTS_DIR / "ingest.json", *paths]:
        data = json.loads(path.read_text())
        cells = []
        for concurrency in ("1", "8", "32"):
            ratios = data["results"].get(concurrency, {}).get("ratios", {})
            cells += [str(ratios.get("p50", "")), str(ratios.get("p99", "")), str(ratios.get("throughput", ""))]
        lines.append(f"| {path.stem} | " + " | ".join(cells) + " |")
    return lines + [""]


def worker_section(data: dict) -> list[str]:
    lines = [f"### Worker, called directly (`{data['script']}`)", "",
             "| concurrency | handler | events | p50 ms | p99 ms | events/s | CPU ms per event: functions / Firestore emulator / mail |",
             "|---|---|---|---|---|---|---|"]
    for concurrency, result in sorted(data["worker"].items(), key=lambda item: int(item[0])):
        for handler, figures in result.items():
            if handler == "ratios":
                continue
            cpu = figures["cpu_ms_per_event"]
            lines.append(f"| {concurrency} | {handler} | {figures['count']} | {figures['p50_ms']} | {figures['p99_ms']} | "
                         f"{figures['events_per_second']} | {cpu['functions']} / {cpu['firestore']} / {cpu['mail']} |")
    sequential, burst = data["end_to_end"]["sequential"], data["end_to_end"]["burst"]
    lines += ["", "| end to end | events | p50 ms | p99 ms | other |", "|---|---|---|---|---|",
              f"| one at a time, POST until the listener receives `succeeded` | {sequential['count']} | "
              f"{sequential['p50_ms']} | {sequential['p99_ms']} | "
              f"ingest response p50 {sequential['ingest_response']['p50_ms']} ms; "
              f"receivedAt to claim p50 {sequential['received_to_claimed']['p50_ms']} ms; "
              f"claim to completedAt p50 {sequential['claimed_to_completed']['p50_ms']} ms; "
              f"timeouts {sequential['timeouts']}; log lines per event {sequential.get('log', {}).get('lines_per_event')}, "
              f"{sequential.get('log', {}).get('bytes_per_event')} bytes |",
              f"| burst posted at concurrency {burst['concurrency']} | {burst['count']} | {burst['p50_ms']} | "
              f"{burst['p99_ms']} | all succeeded after {burst['all_succeeded_after_seconds']} s "
              f"({burst['events_per_second_through_pipeline']} events/s through the queue); timeouts {burst['timeouts']} |"]
    return lines + [""]


def coldstart_section(data: dict) -> list[str]:
    cold = data["cold_start"]
    lines = [f"### Cold start, process start to first 200 response (`{data['script']}`)", "",
             "| kind | median s | min s | max s | ratio to baseline | target (<= 1.3) |", "|---|---|---|---|---|---|"]
    for kind, figures in cold.items():
        if kind == "ratios":
            continue
        ratio = cold["ratios"].get(kind)
        target = "" if ratio is None else verdict(ratio <= TARGETS["cold_start"])
        lines.append(f"| {kind} | {figures['median_seconds']} | {figures['min_seconds']} | {figures['max_seconds']} | "
                     f"{ratio if ratio is not None else '1'} | {target} |")
    lines += ["", "| peak RSS (VmHWM) of the gunicorn worker after the load | KiB | requests | concurrency |",
              "|---|---|---|---|"]
    for kind, figures in data["peak_memory"].items():
        lines.append(f"| {kind} | {figures['gunicorn_worker_vmhwm_kib']} | {figures['requests']} | {figures['concurrency']} |")
    lines += ["", "| import of functions/main.py | median ms | runs ms | first request's google.cloud imports, median ms |",
              "|---|---|---|---|"]
    for variant, figures in data["import_time"].items():
        lines.append(f"| {variant} | {figures['main_total_ms']} | {figures['main_total_ms_runs']} | "
                     f"{figures['first_request_imports_total_ms']} |")
    current = data["import_time"]["current"]
    lines += ["", "| largest imports under functions/main.py (current) | cumulative ms | self ms |", "|---|---|---|"]
    for entry in current["main_top"][:12]:
        lines.append(f"| {'  ' * (entry['depth'] - 1)}{entry['module']} | {entry['cumulative_ms']} | {entry['self_ms']} |")
    return lines + [""]


def hmac_section(data: dict) -> list[str]:
    lines = [f"### 1 MiB payload verification (`{data['script']}`)", "",
             "| operation | ms per call | ratio to SHA-256 |", "|---|---|---|"]
    for name, value in data["milliseconds_per_call"].items():
        lines.append(f"| {name} | {value} | {data['ratio_to_sha256'][name]} |")
    return lines + [""]


def steps_section(data: dict) -> list[str]:
    lines = [f"### Ingest steps in-process (`{data['script']}`, {data['body_bytes']}-byte event)", "",
             "| step | us per call |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in data["steps_us"].items()]
    lines += ["", "| proposed replacement | us per call |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in data["proposals_us"].items()]
    return lines + [""]


def main() -> None:
    sections = {"ingest": ingest_section, "worker": worker_section, "coldstart": coldstart_section,
                "hmac": hmac_section, "ingest-steps": steps_section}
    lines = ["# Benchmark summary", "", "Generated by bench/report.py from bench/results/*.json.", ""]
    machine = None
    for name, render in sections.items():
        data = load(name)
        if data is None:
            lines += [f"({name}.json is missing: run its script first)", ""]
            continue
        machine = machine or data["machine"]
        lines += [f"Revision {data['revision']}.", ""] + render(data)
        if name == "ingest":
            lines += repeats_section()
    if machine:
        lines.insert(3, f"Machine: {machine['nproc']} cores, {machine['cpu_model']}, Python {machine['python']}, "
                        f"{machine['platform']}; load average at start {machine['load_average_at_start']}.\n")
    path = RESULTS_DIR / "summary.md"
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
