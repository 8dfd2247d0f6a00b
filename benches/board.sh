#!/usr/bin/env bash
# The board and the API at 10,000 campaigns (issue 16, item 14), against the
# release `campaign-watcher run` watching `simulate --campaigns 10000`:
#   - server time and size of the board's first page and of
#     /api/v1/campaigns?status=paused (curl's time to first byte on loopback,
#     median of 21 requests);
#   - the RSS that open live streams (/board/live) add, and the cycle's time
#     with and without them;
#   - commit-to-page latency: a campaign paused in the simulator, the time
#     from the cycle's recorded end to the "commit" event on an open stream,
#     and to the refetched page showing the pause.
# Usage: benches/board.sh [STATE_URL]   (default: SQLite in a temporary dir)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${BENCH_NO_BUILD:-}" ] || cargo build --release --quiet  # BENCH_NO_BUILD=1: use the release binary as built
bin=${CARGO_TARGET_DIR:-target}/release/campaign-watcher
dir=$(mktemp -d)
state_url=${1:-sqlite://$dir/state.db}
sim_port=$((20000 + RANDOM % 20000))
http_port=$((sim_port + 1))
"$bin" simulate --listen "127.0.0.1:$sim_port" --campaigns 10000 >/dev/null 2>&1 &
sim=$!
streams=()
trap 'kill $sim ${watcher:-} ${streams[*]:-} 2>/dev/null; rm -rf "$dir"' EXIT
sleep 2
cat >"$dir/bench.toml" <<TOML
[sigmamind]
base_url = "http://127.0.0.1:$sim_port"
api_key = "bench-key"
max_requests_per_second = 0
timeout = "60s"
[watch]
all = true
page_size = 100
interval = "5s"
[state]
url = "$state_url"
[http]
listen = "127.0.0.1:$http_port"
[channels.null]
kind = "console"
TOML
RUST_LOG=warn "$bin" --config "$dir/bench.toml" run >/dev/null 2>"$dir/log" &
watcher=$!
base="http://127.0.0.1:$http_port"
json() { curl -sf "$base$1"; }
for _ in $(seq 120); do
  total=$(json /api/v1/status 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["campaigns"]["total"])' 2>/dev/null || echo 0)
  [ "$total" -ge 10000 ] && break
  sleep 1
done
echo "campaigns in the store: $total"
sleep 6 # one more (quiet) cycle
measure() { # median time to first byte (ms) and size (bytes) of 21 GETs
  for _ in $(seq 21); do curl -s -o /dev/null -w '%{time_starttransfer} %{size_download}\n' "$base$1"; done \
    | sort -n | awk 'NR == 11 { printf "%.1f ms, %.1f KB\n", $1 * 1000, $2 / 1024 }'
}
echo "board first page (/):                     $(measure /)"
echo "/api/v1/campaigns?status=paused:          $(measure '/api/v1/campaigns?status=paused')"
echo "/api/v1/campaigns?status=paused&per_page=200: $(measure '/api/v1/campaigns?status=paused&per_page=200')"
rss() { awk '$1 == "VmRSS:" { printf "%.1f", $2 / 1024 }' "/proc/$watcher/status"; }
cycle_ms() { json /api/v1/status | python3 -c 'import json,sys; print(json.load(sys.stdin)["last_cycle"]["duration_ms"])'; }
before=$(rss); cycle_before=$(cycle_ms)
# 100 pages open at once: those within the listener's stream bound
# (Limits::streams) stay open; the rest are answered 503 at once.
for _ in $(seq 100); do
  curl -s -o /dev/null -w '%{http_code}\n' --max-time 14 "$base/board/live" >>"$dir/codes" &
  streams+=($!)
done
sleep 11 # two cycles with the streams open
after=$(rss); cycle_after=$(cycle_ms)
wait "${streams[@]}" 2>/dev/null || true
open=$(grep -c '^200$' "$dir/codes" || true)
refused=$(grep -c '^503$' "$dir/codes" || true)
echo "100 live pages asked for: $open streams held open, $refused answered 503"
echo "RSS: $before MB before, $after MB with $open streams open"
echo "cycle time: ${cycle_before} ms before, ${cycle_after} ms with the streams open"
kill "${streams[@]}" 2>/dev/null || true
streams=()
sleep 1
# Commit to page: pause one campaign, time the stream's commit event and the refetch.
id=$(json '/api/v1/campaigns?status=live&per_page=1' | python3 -c 'import json,sys; print(json.load(sys.stdin)["campaigns"][0]["id"])')
python3 - "$base" "$sim_port" "$id" <<'PY'
import datetime, http.client, json, sys, time, urllib.request
base, sim_port, campaign = sys.argv[1], sys.argv[2], sys.argv[3]
host, port = base.removeprefix("http://").split(":")
stream = http.client.HTTPConnection(host, int(port), timeout=60)
stream.request("GET", "/board/live")
answer = stream.getresponse()
request = urllib.request.Request(f"http://127.0.0.1:{sim_port}/admin/campaigns/{campaign}",
    data=json.dumps({"campaignStatus": "paused"}).encode(), method="PATCH",
    headers={"Content-Type": "application/json"})
urllib.request.urlopen(request).read()
while True:
    line = answer.fp.readline().decode()
    if line.startswith("event: commit"):
        arrived = time.time()
        page = urllib.request.urlopen(base + "/").read().decode()
        shown = time.time()
        status = json.load(urllib.request.urlopen(base + f"/api/v1/accounts/default/campaigns/{campaign}"))
        if status["campaign"]["status"] != "paused":
            continue  # an earlier quiet cycle's commit; wait for the one that paused it
        cycle = json.load(urllib.request.urlopen(base + "/api/v1/status"))["last_cycle"]
        end = datetime.datetime.fromisoformat(cycle["finished_at"].replace("Z", "+00:00")).timestamp()
        print(f"commit to event: {(arrived - end) * 1000:.0f} ms; commit to refetched page: {(shown - end) * 1000:.0f} ms (page {len(page) / 1024:.1f} KB)")
        break
PY
