"""Draw docs/benchmarks-latency.png from bench/results/ingest.json: latency percentiles, product against baseline.

Run from the repository root after bench/ingest.py: ``.venv/bin/python bench/plot.py``.
"""

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen before pyplot loads)

from common import RESULTS_DIR, ROOT  # noqa: E402

OUTPUT = ROOT / "docs" / "benchmarks-latency.png"
PERCENTILES = ("p50_ms", "p95_ms", "p99_ms")
COLORS = {"baseline": "#8c8c8c", "product": "#1f77b4"}


def main() -> None:
    data = json.loads((RESULTS_DIR / "ingest.json").read_text())
    results = data["results"]
    concurrencies = sorted(results, key=int)

    figure, axes = plt.subplots(1, len(concurrencies), figsize=(4.2 * len(concurrencies), 4.2))
    if len(concurrencies) == 1:
        axes = [axes]
    width = 0.38
    for axis, concurrency in zip(axes, concurrencies):
        for offset, handler in ((-width / 2, "baseline"), (width / 2, "product")):
            values = [results[concurrency][handler][percentile] for percentile in PERCENTILES]
            positions = [index + offset for index in range(len(PERCENTILES))]
            bars = axis.bar(positions, values, width, label=handler, color=COLORS[handler])
            axis.bar_label(bars, fmt="%.1f", fontsize=7)
        rps = {handler: results[concurrency][handler]["requests_per_second"] for handler in COLORS}
        axis.set_title(f"concurrency {concurrency}\nreq/s: baseline {rps['baseline']:.0f}, product {rps['product']:.0f}",
                       fontsize=9)
        axis.set_xticks(range(len(PERCENTILES)), [percentile.split("_")[0] for percentile in PERCENTILES])
        axis.set_ylabel("latency (ms)")
        axis.legend(fontsize=8)

    machine = data["machine"]
    figure.suptitle(f"stripe_webhook ingest against a bare handler, {data['events_per_handler']} events per handler "
                    f"and concurrency\n{machine['nproc']} cores, {machine['cpu_model']}, Python {machine['python']}, "
                    "local emulators (bench/ingest.py)", fontsize=9)
    figure.tight_layout()
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(OUTPUT, dpi=110)
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
