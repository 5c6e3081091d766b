#!/usr/bin/env bash
# Gateway CPU per request against the example services' CPU per request,
# with each service and the gateway as a separate process (the gateway
# pinned to CPU 0) and 16 concurrent curl clients.
#
#   cargo build --release -p weft -p subgraphs --bins
#   gateway/benches/separate_processes.sh target/release BODY.json [REQUESTS_PER_CLIENT]
#
# BODY.json is a GraphQL request body, e.g. {"query":"{ users { id } }"}.
# Prints the response size, requests/s, the gateway's and the services' CPU
# milliseconds per request (from /proc/<pid>/stat, 10 ms ticks) and the
# gateway's peak RSS.
set -u
BIN=$(realpath "$1"); BODY=$(realpath "$2"); N=${3:-50}; C=16
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D=$(mktemp -d)
cp -r "$ROOT/proto" "$D/"; cp "$ROOT/schema/demo.graphql" "$D/"
$BIN/users --port 5101 >/dev/null 2>&1 & U=$!
$BIN/catalog --port 5102 >/dev/null 2>&1 & K=$!
$BIN/orders --port 5103 >/dev/null 2>&1 & O=$!
cat > $D/weft.toml <<T
[server]
listen = "127.0.0.1:5100"
[schema]
files = ["demo.graphql"]
[sources.users]
kind = "rest"
url = "http://127.0.0.1:5101"
[sources.catalog]
kind = "grpc"
endpoint = "http://127.0.0.1:5102"
protos = ["proto/catalog/v1/catalog.proto"]
[sources.orders]
kind = "rest"
url = "http://127.0.0.1:5103"
T
sleep 1
(cd $D && taskset -c 0 $BIN/weft serve --config weft.toml >/dev/null 2>&1) & sleep 1.5
G=$(pgrep -f "weft serve --config weft.toml" | head -1)
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
post() { curl -s -o /dev/null -H 'content-type: application/json' --data-binary @$BODY http://127.0.0.1:5100/graphql; }
for i in $(seq 20); do post; done
curl -s -H 'content-type: application/json' --data-binary @$BODY http://127.0.0.1:5100/graphql | head -c 300; echo
SIZE=$(curl -s -H 'content-type: application/json' --data-binary @$BODY http://127.0.0.1:5100/graphql | wc -c)
g0=$(cpu $G); s0=$(( $(cpu $U)+$(cpu $K)+$(cpu $O) )); t0=$(date +%s.%N)
PIDS=""
for c in $(seq $C); do ( for i in $(seq $N); do post; done ) & PIDS="$PIDS $!"; done
( peak=0; while kill -0 $G 2>/dev/null; do r=$(awk '/VmRSS/{print $2}' /proc/$G/status); [ "$r" -gt "$peak" ] && peak=$r && echo $peak > $D/peak; sleep 0.1; done ) & W=$!
wait $PIDS
t1=$(date +%s.%N); g1=$(cpu $G); s1=$(( $(cpu $U)+$(cpu $K)+$(cpu $O) ))
REQ=$((C*N))
echo "size=$SIZE requests=$REQ secs=$(echo "$t1-$t0"|bc) rps=$(echo "$REQ/($t1-$t0)"|bc -l | cut -c1-7) gateway_ms_per_req=$(echo "($g1-$g0)*10/$REQ"|bc -l | cut -c1-6) services_ms_per_req=$(echo "($s1-$s0)*10/$REQ"|bc -l|cut -c1-6) peak_rss_kb=$(cat $D/peak)"
kill $W $G $U $K $O 2>/dev/null; wait 2>/dev/null; rm -rf $D
