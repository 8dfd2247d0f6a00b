#!/usr/bin/env python3
"""The live lane, measured: how long a change takes to reach a webhook, with
the lane on and off, side by side in one run, on the release binary against
the simulator as its own process (`simulate`), at 10 requests a second and a
1 s interval. Standard library only; loopback only.

  python3 benches/lane.py [--campaigns 10000] [--live 1000] [--changes 20]
                          [--paused 3] [--bin target/release/campaign-watcher]

For each mode (lanes = true, then lanes = false) it starts a fresh simulator
(the same campaigns: the generator's, with all but --live of the live ones
paused), a webhook sink and the watcher; waits for the baseline and one more
cycle; then, at random moments (seeded), pauses a live campaign or sets a
scheduled one live (--changes of them), and changes --paused paused campaigns
to completed; and waits until every change has arrived (or 2 sweeps/cycles
more than the slowest could need). Prints a Markdown table: latency from the
change to the webhook (median and worst, per kind), each change announced
once, requests per second at the simulator, CPU of the watcher per cycle and
per second, cycles and sweep periods from the watcher's log.
"""

import argparse
import http.client
import http.server
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    lock = threading.Lock()
    arrivals = []  # (time, campaign id, status)

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        now = time.monotonic()
        try:
            event = json.loads(body)
        except ValueError:
            event = {}
        campaign = event.get("campaign") or {}
        with Sink.lock:
            Sink.arrivals.append((now, campaign.get("id"), campaign.get("status")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def admin(conn, method, path, body=None):
    conn.request(method, path, body=json.dumps(body) if body is not None else None,
                 headers={"content-type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    return json.loads(data) if data else None


def metric(url, name):
    try:
        text = urllib.request.urlopen(url, timeout=5).read().decode()
    except OSError:
        return None
    total = None
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total = (total or 0) + float(line.rsplit(" ", 1)[1])
    return total


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_mode(args, lanes, seed):
    Sink.arrivals = []
    out = tempfile.mkdtemp(prefix=f"lane-{'on' if lanes else 'off'}-")
    sim_port, sink_port, http_port = free_port(), free_port(), free_port()
    sim = subprocess.Popen([args.bin, "simulate", "--listen", f"127.0.0.1:{sim_port}",
                            "--campaigns", str(args.campaigns)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sink = http.server.ThreadingHTTPServer(("127.0.0.1", sink_port), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    watcher = None
    try:
        for _ in range(100):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", sim_port, timeout=60)
                campaigns = admin(conn, "GET", "/admin/campaigns")
                break
            except OSError:
                time.sleep(0.1)
        live = [c["campaignId"] for c in campaigns if c["campaignStatus"] == "live"]
        scheduled = [c["campaignId"] for c in campaigns if c["campaignStatus"] == "scheduled"]
        paused = [c["campaignId"] for c in campaigns if c["campaignStatus"] == "paused"]
        for campaign_id in live[args.live:]:
            admin(conn, "PATCH", f"/admin/campaigns/{campaign_id}", {"campaignStatus": "paused"})
        live = live[:args.live]
        config = os.path.join(out, "lane.toml")
        with open(config, "w") as f:
            f.write(f"""[sigmamind]
base_url = "http://127.0.0.1:{sim_port}"
api_key = "bench-key"
max_requests_per_second = {args.rate}
timeout = "60s"
[watch]
all = true
page_size = 100
interval = "{args.interval}"
lanes = {"true" if lanes else "false"}
[state]
url = "sqlite://{out}/state.db"
[http]
listen = "127.0.0.1:{http_port}"
[channels.sink]
kind = "webhook"
url = "http://127.0.0.1:{sink_port}/hook"
[[rules]]
events = ["campaign.status_changed"]
channels = ["sink"]
""")
        log = open(os.path.join(out, "watcher.log"), "w")
        env = dict(os.environ, RUST_LOG="info", NO_COLOR="1")
        watcher = subprocess.Popen([args.bin, "--config", config, "--log-format", "json", "run"],
                                   stdout=subprocess.DEVNULL, stderr=log, env=env)
        metrics = f"http://127.0.0.1:{http_port}/metrics"
        started = time.monotonic()
        baseline_deadline = started + args.wait
        while (metric(metrics, "campaign_watcher_cycles_total") or 0) < 2 \
                and time.monotonic() < baseline_deadline:
            if watcher.poll() is not None:
                sys.exit(f"the watcher exited: see {out}/watcher.log")
            time.sleep(0.2)
        baseline_s = time.monotonic() - started

        rng = random.Random(seed)
        rng.shuffle(live)
        rng.shuffle(scheduled)
        rng.shuffle(paused)
        cpu_before = cpu_seconds(watcher.pid)
        cycles_before = metric(metrics, "campaign_watcher_cycles_total") or 0
        requests_before = admin(conn, "GET", "/admin/stats")["requests"]
        measured_from = time.monotonic()
        changes = {}  # campaign id -> (kind, new status, time changed)
        for campaign_id in paused[:args.paused]:
            admin(conn, "PATCH", f"/admin/campaigns/{campaign_id}", {"campaignStatus": "completed"})
            changes[campaign_id] = ("paused -> completed", "completed", time.monotonic())
        for n in range(args.changes):
            time.sleep(rng.uniform(0.7, 1.7))
            if n % 2 == 0:
                campaign_id, kind, status = live.pop(), "live -> paused", "paused"
            else:
                campaign_id, kind, status = scheduled.pop(), "scheduled -> live", "live"
            admin(conn, "PATCH", f"/admin/campaigns/{campaign_id}", {"campaignStatus": status})
            changes[campaign_id] = (kind, status, time.monotonic())
        deadline = time.monotonic() + args.wait
        while time.monotonic() < deadline:
            with Sink.lock:
                arrived = {cid for _, cid, _ in Sink.arrivals}
            if all(cid in arrived for cid in changes):
                break
            time.sleep(0.2)
        elapsed = time.monotonic() - measured_from
        cpu = cpu_seconds(watcher.pid) - cpu_before
        cycles = (metric(metrics, "campaign_watcher_cycles_total") or 0) - cycles_before
        requests = admin(conn, "GET", "/admin/stats")["requests"] - requests_before
    finally:
        if watcher is not None:
            watcher.terminate()
            watcher.wait(timeout=30)
        sim.terminate()
        sim.wait(timeout=30)
        sink.shutdown()

    latencies = {}
    counts = {}
    with Sink.lock:
        arrivals = list(Sink.arrivals)
    for at, cid, status in arrivals:
        if cid in changes and changes[cid][1] == status:
            counts[cid] = counts.get(cid, 0) + 1
            if counts[cid] == 1:
                latencies.setdefault(changes[cid][0], []).append(at - changes[cid][2])
    missing = [cid for cid in changes if cid not in counts]
    twice = [cid for cid, n in counts.items() if n > 1]
    sweeps = []
    with open(os.path.join(out, "watcher.log")) as f:
        for line in f:
            if '"sweep ended' in line:
                entry = json.loads(line)
                fields = entry.get("fields", entry)
                sweeps.append((fields.get("pages"), fields.get("cycles")))
    return {
        "lanes": lanes, "baseline_s": baseline_s, "latencies": latencies, "missing": missing,
        "twice": twice, "elapsed": elapsed, "cpu": cpu, "cycles": cycles,
        "requests": requests, "sweeps": sweeps, "out": out,
        "kinds": sorted({kind for kind, _, _ in changes.values()}),
        "missing_by_kind": {kind: sum(1 for cid in missing if changes[cid][0] == kind)
                            for kind, _, _ in changes.values()},
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--campaigns", type=int, default=10000)
    parser.add_argument("--live", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--paused", type=int, default=3)
    parser.add_argument("--rate", type=float, default=10)
    parser.add_argument("--wait", type=float, default=300, help="seconds to wait for the last change")
    parser.add_argument("--seed", type=int, default=46)
    parser.add_argument("--interval", default="1s")
    parser.add_argument("--modes", default="on,off", help="on, off or on,off")
    parser.add_argument("--bin", default="target/release/campaign-watcher")
    args = parser.parse_args()
    modes = [mode.strip() == "on" for mode in args.modes.split(",")]
    results = [run_mode(args, lanes, args.seed) for lanes in modes]
    print(f"{args.campaigns} campaigns, {args.live} live, {args.rate:g} requests/s, "
          f"interval {args.interval}, page 100")
    print()
    print("| lane | change | n | median | worst | announced once | missing |")
    print("|---|---|---|---|---|---|---|")
    for result in results:
        for kind in result["kinds"]:
            values = result["latencies"].get(kind, [])
            median = f"{statistics.median(values):.1f} s" if values else "-"
            worst = f"{max(values):.1f} s" if values else "-"
            print(f"| {'on' if result['lanes'] else 'off'} | {kind} | {len(values)} "
                  f"| {median} | {worst} "
                  f"| {'yes' if not result['twice'] else 'no: ' + str(len(result['twice']))} "
                  f"| {result['missing_by_kind'].get(kind, 0)} |")
    print()
    print("| lane | baseline | measured | requests/s | cycles | CPU per cycle | CPU per second | sweeps (pages, cycles) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        cycles = max(r["cycles"], 1)
        print(f"| {'on' if r['lanes'] else 'off'} | {r['baseline_s']:.1f} s | {r['elapsed']:.1f} s "
              f"| {r['requests'] / r['elapsed']:.2f} | {r['cycles']:.0f} | {1000 * r['cpu'] / cycles:.0f} ms "
              f"| {1000 * r['cpu'] / r['elapsed']:.0f} ms | {r['sweeps'] or '-'} |")
    for r in results:
        if r["missing"]:
            print(f"lane {'on' if r['lanes'] else 'off'}: not arrived: {r['missing']} (logs in {r['out']})")


if __name__ == "__main__":
    main()
