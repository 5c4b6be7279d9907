#!/usr/bin/env bash
# What `make bench` runs: the receiver's live-cgroup benchmarks beside the kernel's floors,
# benchstat over them, the whole collector's RSS and CPU at 0 and 1,000 containers (and at
# 1,000 without the memdivergence processor), cAdvisor side by side with the collector at 200
# and 1,000 containers (bench/cadvisorpeer, its own Go module) with a CPU profile of the
# collector at 1,000 (perf, when installed), and README's performance section regenerated
# from those results. Needs root (it creates cgroups in /sys/fs/cgroup/memory and removes
# them afterwards) and the collector from `make build`.
#
# Environment: GO (go), BUILD_DIR (_build), COLLECTOR ($BUILD_DIR/otelcol-cgroupmem),
# BENCH_COUNT (6 runs of each benchmark), README (README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
BUILD_DIR=${BUILD_DIR:-_build}
COLLECTOR=${COLLECTOR:-$BUILD_DIR/otelcol-cgroupmem}
BENCH_COUNT=${BENCH_COUNT:-6}
README=${README:-README.md}
started=$(date +%s)

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: the live-cgroup benchmarks and the collector run need root (to create cgroups in /sys/fs/cgroup/memory)" >&2
	exit 1
fi
if [ ! -x "$COLLECTOR" ]; then
	echo "bench: no collector at $COLLECTOR: run make build" >&2
	exit 1
fi
mkdir -p "$BUILD_DIR"

# ran holds each command as the README quotes it.
ran=()
note() {
	ran+=("$1")
	echo "+ $1" >&2
}

bench_cmd="$GO test -run='^\$' -bench='/containers=/live-cgroups' -benchmem -count=$BENCH_COUNT -timeout=60m ./receiver/cgroupmemreceiver"
note "$bench_cmd > $BUILD_DIR/bench.txt"
$GO test -run='^$' -bench='/containers=/live-cgroups' -benchmem -count="$BENCH_COUNT" -timeout=60m \
	./receiver/cgroupmemreceiver | tee "$BUILD_DIR/bench.txt"

note "$GO tool -modfile=tools/go.mod benchstat -filter '.unit:(cpu-ns/container OR allocs/container)' $BUILD_DIR/bench.txt > $BUILD_DIR/benchstat.txt"
$GO tool -modfile=tools/go.mod benchstat -filter '.unit:(cpu-ns/container OR allocs/container)' \
	"$BUILD_DIR/bench.txt" >"$BUILD_DIR/benchstat.txt"
cat "$BUILD_DIR/benchstat.txt"

note "$GO build -o $BUILD_DIR/collectorrss ./bench/collectorrss"
$GO build -o "$BUILD_DIR/collectorrss" ./bench/collectorrss
note "$BUILD_DIR/collectorrss -collector $COLLECTOR -configmap deploy/configmap.yaml -containers 0,1000 -interval 1s -warmup 5 -scrapes 30 -out $BUILD_DIR/bench-collector.json"
"$BUILD_DIR/collectorrss" -collector "$COLLECTOR" -configmap deploy/configmap.yaml -containers 0,1000 \
	-interval 1s -warmup 5 -scrapes 30 -out "$BUILD_DIR/bench-collector.json"
# The same at 1,000 containers without the memdivergence processor: what the pipeline's
# analysis adds to the receiver's cost.
note "$BUILD_DIR/collectorrss -collector $COLLECTOR -configmap deploy/configmap.yaml -without memdivergence -containers 1000 -interval 1s -warmup 5 -scrapes 30 -out $BUILD_DIR/bench-collector-without.json"
"$BUILD_DIR/collectorrss" -collector "$COLLECTOR" -configmap deploy/configmap.yaml -without memdivergence \
	-containers 1000 -interval 1s -warmup 5 -scrapes 30 -out "$BUILD_DIR/bench-collector-without.json"

# cAdvisor as the kubelet embeds it, beside the collector with the receiver's defaults and
# the deployed OTLP exporter, on the same trees at a node's 10 s cadence: 10 warm-up scrapes
# (the processor's growth metrics start at the 10th), then a window of 6.
# With perf (Debian's linux-perf), cAdvisor is sampled over the same windows, to tell its
# housekeeping from its discovery.
have_perf=false
peer_profile=()
if command -v perf >/dev/null; then
	have_perf=true
	peer_profile=(-profile-cadvisor "$BUILD_DIR/bench-cadvisor-peer.data")
else
	echo "bench: no perf (Debian's linux-perf): neither cAdvisor nor the collector is profiled" >&2
fi
note "(cd bench/cadvisorpeer && $GO build -o ../../$BUILD_DIR/cadvisorpeer .)"
(cd bench/cadvisorpeer && $GO build -o "../../$BUILD_DIR/cadvisorpeer" .)
note "$BUILD_DIR/collectorrss -collector $COLLECTOR -configmap deploy/configmap.yaml -cadvisor $BUILD_DIR/cadvisorpeer -containers 200,1000 -interval 10s -warmup 10 -scrapes 6 ${peer_profile[*]} -out $BUILD_DIR/bench-cadvisor.json"
"$BUILD_DIR/collectorrss" -collector "$COLLECTOR" -configmap deploy/configmap.yaml -cadvisor "$BUILD_DIR/cadvisorpeer" \
	-containers 200,1000 -interval 10s -warmup 10 -scrapes 6 "${peer_profile[@]}" -out "$BUILD_DIR/bench-cadvisor.json"
# The same at 1,000 containers with the deployed receiver config (socket and slab dentry
# metrics off): what the DaemonSet runs without its all-features overlay.
note "$BUILD_DIR/collectorrss -collector $COLLECTOR -configmap deploy/configmap.yaml -cadvisor $BUILD_DIR/cadvisorpeer -deployed-receiver -containers 1000 -interval 10s -warmup 10 -scrapes 6 ${peer_profile[*]} -out $BUILD_DIR/bench-cadvisor-deployed.json"
"$BUILD_DIR/collectorrss" -collector "$COLLECTOR" -configmap deploy/configmap.yaml -cadvisor "$BUILD_DIR/cadvisorpeer" -deployed-receiver \
	-containers 1000 -interval 10s -warmup 10 -scrapes 6 "${peer_profile[@]}" -out "$BUILD_DIR/bench-cadvisor-deployed.json"
collectors="$BUILD_DIR/bench-collector.json,$BUILD_DIR/bench-collector-without.json,$BUILD_DIR/bench-cadvisor.json,$BUILD_DIR/bench-cadvisor-deployed.json"
# Where the collector's time goes: the same run at 1,000 containers once more, with perf
# sampling a build of the same collector that keeps its symbols (ocb strips them).
if $have_perf; then
	note "(cd $BUILD_DIR && $GO build -trimpath -o otelcol-cgroupmem-symbols .)"
	(cd "$BUILD_DIR" && $GO build -trimpath -o otelcol-cgroupmem-symbols .)
	note "$BUILD_DIR/collectorrss -collector $BUILD_DIR/otelcol-cgroupmem-symbols -configmap deploy/configmap.yaml -cadvisor $BUILD_DIR/cadvisorpeer -containers 1000 -interval 10s -warmup 10 -scrapes 6 -profile $BUILD_DIR/bench-profile.data -out $BUILD_DIR/bench-profile.json"
	"$BUILD_DIR/collectorrss" -collector "$BUILD_DIR/otelcol-cgroupmem-symbols" -configmap deploy/configmap.yaml \
		-cadvisor "$BUILD_DIR/cadvisorpeer" -containers 1000 -interval 10s -warmup 10 -scrapes 6 \
		-profile "$BUILD_DIR/bench-profile.data" -out "$BUILD_DIR/bench-profile.json"
	collectors="$collectors,$BUILD_DIR/bench-profile.json"
fi

report_args=()
for r in "${ran[@]}"; do
	report_args+=(-ran "$r")
done
report_args+=(-ran "$GO run ./bench/perfreport -bench $BUILD_DIR/bench.txt -benchstat $BUILD_DIR/benchstat.txt -collector $collectors -readme $README")
$GO run ./bench/perfreport -bench "$BUILD_DIR/bench.txt" -benchstat "$BUILD_DIR/benchstat.txt" \
	-collector "$collectors" -readme "$README" -command "make bench" \
	-started "$started" "${report_args[@]}"
