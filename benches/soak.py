#!/usr/bin/env python3
"""The soak's moving parts (benches/soak.sh runs them): a webhook sink that
counts event ids, a driver that flips 10 % of the simulated campaigns between
live and paused every second, and a sampler of the watcher's RSS, descriptors,
threads, store size, cycle time and outbox pending. Standard library only.

  soak.py run SIM_URL SINK_PORT WATCHER_PID METRICS_URL STATE_FILE SECONDS OUT_DIR

Writes OUT_DIR/samples.csv and OUT_DIR/verdict.json; exits 1 when a target is
missed. Loopback only.
"""

import csv
import http.client
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse
import urllib.request

CHANGE_SHARE = 0.10


class Sink(http.server.BaseHTTPRequestHandler):
    """Counts every delivery by event id, and status changes per campaign."""

    # Keep-alive, as a real receiver would: HTTP/1.0 would cost a connection per event.
    protocol_version = "HTTP/1.1"

    lock = threading.Lock()
    deliveries = {}  # event id -> times received
    flips = {}  # campaign id -> status_changed events received

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        try:
            event = json.loads(body)
        except ValueError:
            event = {}
        with Sink.lock:
            event_id = event.get("id", "?")
            Sink.deliveries[event_id] = Sink.deliveries.get(event_id, 0) + 1
            campaign = event.get("campaign") or {}
            if event.get("type") == "campaign.status_changed" and Sink.deliveries[event_id] == 1:
                Sink.flips[campaign.get("id")] = Sink.flips.get(campaign.get("id"), 0) + 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def admin(conn, method, path, body=None):
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers={"content-type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    if response.status >= 300:
        raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
    return data


def campaigns(sim):
    conn = http.client.HTTPConnection(sim.hostname, sim.port, timeout=30)
    listed = json.loads(admin(conn, "GET", "/admin/campaigns"))
    rows = listed if isinstance(listed, list) else listed.get("campaigns", listed.get("data", []))
    return conn, [row["campaignId"] for row in rows]


def prepare(sim_url):
    """Every campaign live with no upload errors, so that each flip is one event."""
    sim = urllib.parse.urlsplit(sim_url)
    conn, ids = campaigns(sim)
    for campaign in ids:
        admin(conn, "PATCH", f"/admin/campaigns/{campaign}",
              {"campaignStatus": "live", "errors": []})
    return ids


class Driver(threading.Thread):
    """Each second, flips the next tenth of the campaigns (round-robin, so each
    campaign changes once every ten seconds: every change is seen by a poll)."""

    def __init__(self, sim_url, ids):
        super().__init__(daemon=True)
        self.sim = urllib.parse.urlsplit(sim_url)
        self.ids = ids
        self.status = {campaign: "live" for campaign in ids}
        self.flips = {campaign: 0 for campaign in ids}
        self.stop = threading.Event()
        self.rounds = 0

    def run(self):
        conn = http.client.HTTPConnection(self.sim.hostname, self.sim.port, timeout=30)
        share = max(1, int(len(self.ids) * CHANGE_SHARE))
        while not self.stop.is_set():
            started = time.monotonic()
            start = (self.rounds * share) % len(self.ids)
            for campaign in self.ids[start:start + share]:
                new = "paused" if self.status[campaign] == "live" else "live"
                admin(conn, "PATCH", f"/admin/campaigns/{campaign}", {"campaignStatus": new})
                self.status[campaign] = new
                self.flips[campaign] += 1
            self.rounds += 1
            self.stop.wait(max(0.0, 1.0 - (time.monotonic() - started)))


def proc_field(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def scrape(metrics_url):
    values = {}
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("#") or " " not in line:
                continue
            name, value = line.rsplit(" ", 1)
            try:
                values[name] = float(value)
            except ValueError:
                pass
    return values


def file_size(path):
    total = 0
    for suffix in ("", "-wal", "-shm"):
        try:
            total += os.stat(path + suffix).st_size
        except FileNotFoundError:
            pass
    return total


def slope(rows, key, since):
    """Least-squares slope of rows[key] per minute over rows with t >= since."""
    points = [(row["t"], row[key]) for row in rows if row["t"] >= since]
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    return 60 * sum((t - mean_t) * (v - mean_v) for t, v in points) / var if var else 0.0


def main():
    _, _, sim_url, sink_port, pid, metrics_url, state_file, seconds, out = sys.argv
    pid, seconds = int(pid), int(seconds)
    sink = http.server.ThreadingHTTPServer(("127.0.0.1", int(sink_port)), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    ids = json.load(open(os.path.join(out, "ids.json")))
    driver = Driver(sim_url, ids)
    driver.start()
    rows = []
    begun = time.monotonic()
    last = None
    while time.monotonic() - begun < seconds:
        time.sleep(5)
        if not os.path.exists(f"/proc/{pid}"):
            print("the watcher exited early", file=sys.stderr)
            sys.exit(1)
        metrics = scrape(metrics_url)
        cycles = (metrics.get("campaign_watcher_cycle_duration_seconds_sum", 0.0),
                  metrics.get("campaign_watcher_cycle_duration_seconds_count", 0.0))
        cycle_ms, cycles_done = 0.0, 0
        if last and cycles[1] > last[1]:
            cycle_ms = 1000 * (cycles[0] - last[0]) / (cycles[1] - last[1])
            cycles_done = int(cycles[1] - last[1])
        last = cycles
        row = {
            "t": round(time.monotonic() - begun, 1),
            "rss_kb": proc_field(pid, "VmRSS"),
            "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "threads": proc_field(pid, "Threads"),
            # "-": a PostgreSQL store, measured by the watcher (pg_database_size).
            "store_bytes": (metrics.get("campaign_watcher_store_size_bytes", 0.0)
                            if state_file == "-" else file_size(state_file)),
            "store_metric_bytes": metrics.get("campaign_watcher_store_size_bytes", 0.0),
            "cycle_ms": round(cycle_ms, 1),
            "cycles": cycles_done,
            "outbox_pending": metrics.get("campaign_watcher_outbox_pending", 0.0),
            "oldest_event_s": metrics.get("campaign_watcher_store_oldest_event_age_seconds", 0.0),
            "pruned_events": metrics.get('campaign_watcher_store_pruned_rows_total{table="events"}', 0.0),
            "received": sum(Sink.deliveries.values()),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    driver.stop.set()
    driver.join()
    # Let the last flips be polled, committed and delivered.
    time.sleep(20)
    with open(os.path.join(out, "samples.csv"), "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with Sink.lock:
        duplicates = {i: n for i, n in Sink.deliveries.items() if n > 1}
        missing = {c: n - Sink.flips.get(c, 0) for c, n in driver.flips.items()
                   if Sink.flips.get(c, 0) != n}
        received = sum(Sink.flips.values())
    minute = 60
    settle = int(os.environ.get("SETTLE_MINUTES", "10"))
    at_ten = [row for row in rows if row["t"] >= settle * minute]
    base = at_ten[0]["store_bytes"] if at_ten else rows[0]["store_bytes"]
    tail = [row for row in rows if row["t"] >= max(seconds - 20 * minute, settle * minute)]
    last20_rss = (max(r["rss_kb"] for r in tail) - tail[0]["rss_kb"]) / 1024 if tail else 0.0
    verdict = {
        "seconds": seconds,
        "flips_made": sum(driver.flips.values()),
        "status_changes_received": received,
        "duplicate_ids": len(duplicates),
        "campaigns_with_a_count_mismatch": len(missing),
        "mismatch_examples": dict(list(missing.items())[:5]),
        "rss_growth_last_20_min_mb": round(last20_rss, 2),
        "rss_slope_kb_per_min_after_10": round(slope(rows, "rss_kb", settle * minute), 2),
        "fds_min_max_after_10": [min(r["fds"] for r in at_ten), max(r["fds"] for r in at_ten)] if at_ten else None,
        "threads_min_max_after_10": [min(r["threads"] for r in at_ten), max(r["threads"] for r in at_ten)] if at_ten else None,
        "store_bytes_at_10_min": base,
        "store_bytes_max_after_10": max(r["store_bytes"] for r in at_ten) if at_ten else None,
        "store_slope_bytes_per_min_after_10": round(slope(rows, "store_bytes", settle * minute)),
        "cycle_ms_mean_after_10": round(sum(r["cycle_ms"] for r in at_ten) / len(at_ten), 1) if at_ten else None,
        "cycle_ms_max_after_10": max(r["cycle_ms"] for r in at_ten) if at_ten else None,
        "outbox_pending_max_after_10": max(r["outbox_pending"] for r in at_ten) if at_ten else None,
        "cycles_per_5s_min_after_10": min(r["cycles"] for r in at_ten) if at_ten else None,
    }
    verdict["store_within_20_percent"] = bool(at_ten) and all(
        abs(r["store_bytes"] - base) <= 0.2 * base for r in at_ten)
    verdict["ok"] = (verdict["duplicate_ids"] == 0 and not missing
                     and verdict["store_within_20_percent"]
                     and verdict["rss_growth_last_20_min_mb"] < 1.0)
    json.dump(verdict, open(os.path.join(out, "verdict.json"), "w"), indent=2)
    print(json.dumps(verdict, indent=2))
    sys.exit(0 if verdict["ok"] else 1)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "prepare":
        json.dump(prepare(sys.argv[2]), open(sys.argv[3], "w"))
    elif len(sys.argv) == 9 and sys.argv[1] == "run":
        main()
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
