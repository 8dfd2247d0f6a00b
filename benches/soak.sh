#!/usr/bin/env bash
# A compressed year (issue 23): 2,000 simulated campaigns, a tenth of them
# flipping between live and paused every second, a 1 s interval, a webhook sink
# that counts event ids, a retention of 3 minutes, for 30 minutes (SECONDS_TO_RUN).
# Samples RSS, descriptors, threads, the store's size on disk, cycle time and
# outbox pending every 5 s (OUT/samples.csv), checks that every change arrived
# exactly once (OUT/verdict.json) and draws docs/soak.png.
#   Usage: benches/soak.sh [OUT_DIR]    env: SECONDS_TO_RUN=1800 RETENTION=3m PROFILE=debug|release
#   BIN=path runs that binary instead of building one (to compare builds);
#   PLOT=path draws there instead of docs/soak.png (PLOT= draws nothing);
#   STATE_URL=postgres://... soaks a PostgreSQL store (its size is then
#   pg_database_size, from /metrics) instead of OUT/state.db;
#   SETTLE_MINUTES=10 is the warm-up the slopes and the 20 % band start after.
# Loopback only. Needs python3 (and matplotlib for the plot).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-release}
seconds=${SECONDS_TO_RUN:-1800}
retention=${RETENTION:-3m}
out=${1:-$(mktemp -d)}
mkdir -p "$out"
if [[ -n ${BIN:-} ]]; then
  bin=$BIN
else
  if [[ $profile == release ]]; then cargo build --release --quiet; else cargo build --quiet; fi
  bin=${CARGO_TARGET_DIR:-target}/$profile/campaign-watcher
fi
plot=${PLOT-docs/soak.png}
sim_port=$((20000 + RANDOM % 10000))
sink_port=$((30000 + RANDOM % 10000))
http_port=$((40000 + RANDOM % 10000))
"$bin" simulate --listen "127.0.0.1:$sim_port" --campaigns 2000 >"$out/sim.log" 2>&1 &
sim=$!
trap 'kill $sim ${watcher:-} 2>/dev/null || true' EXIT
sleep 2
python3 benches/soak.py prepare "http://127.0.0.1:$sim_port" "$out/ids.json"
cat >"$out/soak.toml" <<TOML
[sigmamind]
base_url = "http://127.0.0.1:$sim_port"
api_key = "soak-key"
max_requests_per_second = 0
[watch]
all = true
page_size = 100
interval = "1s"
[state]
url = "${STATE_URL:-sqlite://$out/state.db}"
retention = "$retention"
[http]
listen = "127.0.0.1:$http_port"
[channels.sink]
kind = "webhook"
url = "http://127.0.0.1:$sink_port/hook"
secret = "whsec_c29hay1zZWNyZXQtc29hay1zZWNyZXQ="
[[rules]]
events = ["campaign.status_changed"]
channels = ["sink"]
TOML
RUST_LOG=info "$bin" --config "$out/soak.toml" run >/dev/null 2>"$out/watcher.log" &
watcher=$!
sleep 3
status=0
python3 benches/soak.py run "http://127.0.0.1:$sim_port" "$sink_port" "$watcher" \
  "http://127.0.0.1:$http_port/metrics" "$([[ -n ${STATE_URL:-} ]] && echo - || echo "$out/state.db")" "$seconds" "$out" || status=$?
if [[ -n $plot ]]; then python3 benches/soak_plot.py "$out/samples.csv" "$plot" || true; fi
echo "results in $out (exit $status)"
exit $status
