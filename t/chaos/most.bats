#!/usr/bin/env bats
# t/chaos/most.bats: the golden keyed count at-most-once under SIGKILLs
# of ds-op and ds-router, five runs in a row (`make chaos`; one run is in
# t/topology.bats and so in `make check`).  A restarted op used to hang
# about one run in five: ds-op and ds-sink ignored --ended.

load ../helper
load ../golden
# A chaos run takes 10 s of paced input plus recoveries; on a loaded
# 2-core machine give it room (the deadlines inside still bound it).
BATS_TEST_TIMEOUT=750

setup() {
	pids_setup
	T=$BATS_TEST_TMPDIR
}

teardown() {
	pids_teardown
}

@test "topology: golden count, at-most-once, ds-op and ds-router SIGKILLed, 5 runs: no count twice" {
	local i
	for i in 1 2 3 4 5; do
		T=$BATS_TEST_TMPDIR/$i
		mkdir -p "$T"
		golden_topo most
		run_chaos most '^(count[.]|src-count$)'
		run ds-verify -m most "$T/in.all" "$T/out"
		echo "run $i: $output" >&2
		[ "$status" -eq 0 ]
	done
}
