#!/usr/bin/env bats
# t/chaos/most.bats: the golden keyed count at-most-once under SIGKILLs
# of ds-op and ds-router (issue 3, acceptance 2).  Not in `make check`:
# about one run in five on a loaded 2-core machine still hangs (a ds-op
# restarted after its input ended is never pulled by the sink), so it
# runs with `make chaos` until that is fixed.

load ../helper
load ../golden
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

@test "topology: golden count, at-most-once, ds-op and ds-router SIGKILLed: no count twice" {
	golden_topo most
	run_chaos most '^(count[.]|src-count$)'
	run ds-verify -m most "$T/in.all" "$T/out"
	echo "$output" >&2
	[ "$status" -eq 0 ]
}

