#!/usr/bin/env bash
# Peak RSS of the release `campaign-watcher run` watching 100,000 simulated
# campaigns by listing for a while (default 160 s, an 8 s interval: about 19
# cycles). Usage: benches/rss-100k.sh [STATE_URL] [SECONDS]
#   STATE_URL: default a SQLite file in a temporary directory; a postgres://
#   URL must name an empty database (this script does not create it).
# Prints the VmHWM/VmRSS every 10 s and the final peak. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/campaign-watcher
dir=$(mktemp -d)
state_url=${1:-sqlite://$dir/state.db}
seconds=${2:-160}
port=$((20000 + RANDOM % 20000))
"$bin" simulate --listen "127.0.0.1:$port" --campaigns 100000 >/dev/null 2>&1 &
sim=$!
trap 'kill $sim ${watcher:-} 2>/dev/null; rm -rf "$dir"' EXIT
sleep 2
cat >"$dir/bench.toml" <<TOML
[sigmamind]
base_url = "http://127.0.0.1:$port"
api_key = "bench-key"
max_requests_per_second = 0
timeout = "60s"
[watch]
all = true
page_size = 100
interval = "8s"
[state]
url = "$state_url"
[http]
listen = "127.0.0.1:0"
[channels.null]
kind = "console"
TOML
RUST_LOG=warn "$bin" --config "$dir/bench.toml" run >/dev/null 2>"$dir/log" &
watcher=$!
# MB (MiB) of a /proc status field, as the cargo bench prints them.
mb() { awk -v f="$1:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$watcher/status"; }
for ((s = 1; s <= seconds; s++)); do
  sleep 1
  kill -0 "$watcher" 2>/dev/null || { echo "run exited early:"; cat "$dir/log"; exit 1; }
  if ((s % 10 == 0)); then
    printf '%4d s  peak %6s MB  now %6s MB\n' "$s" "$(mb VmHWM)" "$(mb VmRSS)"
  fi
done
printf 'state %s: peak RSS %s MB after %d s\n' "${state_url%%://*}" "$(mb VmHWM)" "$seconds"
