#!/usr/bin/env bats
# t/topology.bats: whole jobs under ds-master (issue 3 acceptance): the
# word count example, the golden keyed count at-least-once under SIGKILLs,
# and a SIGSTOPped zombie.  The at-most-once chaos run is t/chaos/most.bats
# (`make chaos`).

load helper
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

@test "topology: the word count example equals the pipe-mode result" {
	cd "$TOP"
	run ds-master run examples/wordcount/wordcount.topo
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" | grep -v '^ds-' | sort > "$T/topo.out"
	# The same command lines, as a pipeline.
	eval "$(awk '/^run = ds-source/ { sub(/^run = /, ""); print; exit }' \
	    examples/wordcount/wordcount.topo)" |
	    eval "$(awk '/^\[node split\]/ { f = 1 } f && /^run = / {
		sub(/^run = /, ""); print; exit }' examples/wordcount/wordcount.topo)" |
	    ds-op --builtin count | ds-sink | sort > "$T/pipe.out"
	[ -s "$T/pipe.out" ]
	cmp "$T/topo.out" "$T/pipe.out"
}

# run_chaos ONCE RE: the golden job under chaos_kill of processes
# matching RE; checks that ds-master exits 0 and at least 3 were killed.
run_chaos() {
	golden_input 200000 1000 2000 > "$T/in.all"
	golden_input 200000 1000 2000 |
	    ds-master run "$T/golden.topo" 2> "$T/master.err" &
	local master=$!
	PIDS+=("$master")
	wait_for "[ -S '$T/run/master' ]" 20
	kills=$(chaos_kill "$master" "$2")
	local rc=0
	wait "$master" || rc=$?
	echo "kills: $kills, ds-master exit $rc" >&2
	[ "$rc" -eq 0 ] || { tail -20 "$T/master.err" >&2; return 1; }
	[ "$kills" -ge 3 ]
}

@test "topology: golden count, at-least-once, ds-op and ds-router SIGKILLed every 0.5-2 s" {
	golden_topo least
	run_chaos least '^(count[.]|src-count$)'
	run ds-verify -m least "$T/in.all" "$T/out"
	echo "$output" >&2
	[ "$status" -eq 0 ]
}

@test "topology: a SIGSTOPped ds-op is replaced within the keepalive and, resumed, changes nothing" {
	golden_topo least "zombies = fence"
	golden_input 100000 1000 2000 > "$T/in.all"
	golden_input 100000 1000 2000 |
	    ds-master run "$T/golden.topo" 2> "$T/master.err" &
	local master=$!
	PIDS+=("$master")
	wait_for "[ -S '$T/run/master' ]" 20
	wait_for "[ -n \"\$(pids_of '^count[.]0$')\" ]" 20
	local zombie t0
	zombie=$(pids_of '^count[.]0$')
	kill -STOP "$zombie"
	PIDS+=("$zombie")
	t0=$SECONDS
	# Replaced: a new pid for count.0, with epoch 2, within keepalive (2 s)
	# plus one heartbeat check period of slack.
	wait_for "ds-master status '$T/run' | grep -q '^count[.]0 .*epoch=2'" 10
	[ $((SECONDS - t0)) -le 4 ]
	[ "$(pids_of '^count[.]0$')" != "$zombie" ]
	kill -CONT "$zombie"
	# The zombie notices its lost lease and exits by itself.
	wait_for "! kill -0 $zombie 2>/dev/null" 10
	grep -q 'count[.]0 declared dead: no beat for 2000 ms; fencing' "$T/master.err"
	grep -q 'ds-op: fatal: lease lost: .* name=count[.]0' "$T/master.err"
	local rc=0
	wait "$master" || rc=$?
	[ "$rc" -eq 0 ]
	run ds-verify -m least "$T/in.all" "$T/out"
	echo "$output" >&2
	[ "$status" -eq 0 ]
}
