#!/usr/bin/env python3
"""Draw benches/soak.sh's samples.csv as one PNG of six panels.
Usage: soak_plot.py SAMPLES_CSV OUT_PNG (needs matplotlib)."""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

rows = list(csv.DictReader(open(sys.argv[1])))
minutes = [float(r["t"]) / 60 for r in rows]
panels = [
    ("rss_kb", "RSS (MB)", 1 / 1024),
    ("fds", "open file descriptors", 1),
    ("threads", "threads", 1),
    ("store_bytes", "store on disk, file + WAL (MB)", 1 / 1e6),
    ("cycle_ms", "cycle time, mean per 5 s (ms)", 1),
    ("outbox_pending", "outbox pending", 1),
]
fig, axes = plt.subplots(3, 2, figsize=(11, 9), sharex=True)
for ax, (key, title, scale) in zip(axes.flat, panels):
    ax.plot(minutes, [float(r[key]) * scale for r in rows], linewidth=1)
    ax.set_title(title, fontsize=10)
    ax.axvline(10, color="grey", linestyle=":", linewidth=1)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
for ax in axes[-1]:
    ax.set_xlabel("minutes (dotted: end of warm-up)")
fig.suptitle("campaign-watcher soak: 2,000 campaigns, 10 % change per second, 1 s interval, retention 3 min")
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=90)
