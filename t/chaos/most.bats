#!/usr/bin/env bats
# t/chaos/most.bats: the golden keyed count at-most-once under SIGKILLs
# of ds-op and ds-router (issue 3, acceptance 2).  Not in `make check`:
# about one run in five on a loaded 2-core machine still hangs (a ds-op
# restarted after its input ended is never pulled by the sink), so it
# runs with `make chaos` until that is fixed.

load ../helper
# A chaos run takes 10 s of paced input plus recoveries; on a loaded
# 2-core machine give it room (the deadlines inside still bound it).
BATS_TEST_TIMEOUT=150

setup() {
	pids_setup
	T=$BATS_TEST_TMPDIR
}

teardown() {
	pids_teardown
}

# golden_topo ONCE [EXTRA-TOPOLOGY-LINES]: the golden keyed count,
# source (stdin) -> hash -> count x2 -> sink (file $T/out).
golden_topo() {
	cat > "$T/golden.topo" <<TOPO
[topology]
name = golden
once = $1
keepalive = 2s
state = $T/state
run = $T/run
${2:-}

[node src]
run = ds-source --key-field 1

[node count]
run = ds-op --builtin count
input = src:hash
parallel = 2

[node sink]
run = ds-sink --append --file $T/out
input = count
TOPO
}

# The golden input, written slowly (about 10 s for 200 000 lines) so that
# faults land in the middle of the job.
golden_input() {	# $1: lines, $2: keys, $3: lines per 0.1 s
	awk -v n="$1" -v k="$2" -v step="$3" 'BEGIN {
		for (i = 1; i <= n; i++) {
			print "k" (i * 7919 % k), i
			if (i % step == 0) { fflush(); system("sleep 0.1") }
		}
	}'
}

# pids_of RE: pids of the running instances whose status name matches RE
# (never pid=0, the entry of an instance between two lives: kill 0 would
# signal our whole process group).
pids_of() {
	ds-master status "$T/run" 2>/dev/null | awk -v re="$1" '
		$1 ~ re { for (i = 2; i <= NF; i++)
			if ($i ~ /^pid=[1-9][0-9]*$/) print substr($i, 5) }'
}

# While ds-master (pid $1) runs, SIGKILL a random process matching $2
# every 0.5-2 s.  Prints how many it killed.
chaos_kill() {
	local master=$1 re=$2 n=0 pids p
	while kill -0 "$master" 2>/dev/null; do
		sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.5 + 1.5 * r / 32767 }')"
		pids=($(pids_of "$re"))
		[ ${#pids[@]} -gt 0 ] || continue
		p=${pids[RANDOM % ${#pids[@]}]}
		kill -KILL "$p" 2>/dev/null && n=$((n + 1))
	done
	echo "$n"
}

@test "topology: golden count, at-most-once, ds-op and ds-router SIGKILLed: no count twice" {
	golden_topo most
	run_chaos most '^(count[.]|src-count$)'
	run ds-verify -m most "$T/in.all" "$T/out"
	echo "$output" >&2
	[ "$status" -eq 0 ]
}

