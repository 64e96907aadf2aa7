#!/usr/bin/env bats
# t/stop.bats: orderly stops (issue 13): ds-master drains the job on
# SIGINT, SIGTERM, SIGHUP or `ds-master stop`, and a rerun gives the
# output of a run that never stopped, at least once too.  The seeded runs
# that stop three times are in t/tools-chaos.bats and `make chaos`.

load helper
load job
BATS_TEST_TIMEOUT=90

setup() {
	pids_setup
	T=$BATS_TEST_TMPDIR
	awk 'BEGIN { for (i = 1; i <= 40000; i++) print "k" (i * 7919 % 50), i }' > "$T/in"
}

# in (paced) -> count (hash, parallel 3) -> out, at least once.
golden() {	# $1: the count node's run line
	cat > "$T/g.topo" <<EOF
[topology]
name = g
once = least
keepalive = 2s
state = $T/state
run = $T/run
[node src]
run = ds-source --rate 8000 --file $T/in --key-field 1
[node count]
run = ${1:-ds-op --builtin count}
input = src:hash
parallel = 3
[node sink]
run = ds-sink --append --file $T/out
input = count
EOF
}

lines() { if [ -r "$T/out" ]; then wc -l < "$T/out"; else echo 0; fi; }

@test "stop: SIGINT drains the job: 75, where the source stopped, no warning; the rerun ends exact at least once" {
	golden
	start_master -v "$T/g.topo"
	wait_for "[ \$(lines) -gt 2000 ]" 30
	kill -INT "$MASTER"
	expect_exit 75 30
	n=$(lines)
	[ "$n" -gt 2000 ] && [ "$n" -lt 40000 ]
	grep -q 'stopping the job in order (stopped by signal 2)' "$T/m.log"
	grep -Eq 'job g stopped in order, stopped by signal 2: src.0 at line [0-9]+, offset [0-9]+; run again to resume' "$T/m.log"
	run ! grep -E 'warning|fatal|restarting' "$T/m.log"
	[ -f "$T/state/stopped" ] && [ -f "$T/state/drained" ]
	grep -Eq '^stopped [0-9TZ:-]+: by signal 2: src.0 at line [0-9]+, offset [0-9]+$' "$T/state/stopped"
	# Every line read was processed: the sink has as many as were read.
	at=$(sed -n 's/.*src.0 at line \([0-9]*\),.*/\1/p' "$T/m.log" | tail -1)
	[ "$at" -eq "$n" ]
	head -n "$n" "$T/in" > "$T/in.part"
	run -0 ds-verify -m exactly "$T/in.part" "$T/out"
	start_master "$T/g.topo"
	expect_exit 0 60
	[ ! -e "$T/state/stopped" ] && [ ! -e "$T/state/drained" ]
	run -0 ds-verify -m exactly "$T/in" "$T/out"
}

@test "stop: SIGTERM and SIGHUP drain it too; a rerun after each resumes" {
	golden
	for sig in TERM HUP; do
		start_master -v "$T/g.topo"
		wait_for "[ \$(lines) -gt $([ $sig = TERM ] && echo 2000 || echo 12000) ]" 30
		kill -$sig "$MASTER"
		expect_exit 75 30
		grep -Eq "job g stopped in order, stopped by (signal 15|SIGHUP): src.0 at line" "$T/m.log"
		run ! grep -E 'warning|fatal|restarting' "$T/m.log"
	done
	start_master "$T/g.topo"
	expect_exit 0 60
	run -0 ds-verify -m exactly "$T/in" "$T/out"
}

@test "stop: a second SIGINT during an orderly stop that cannot end stops the job at once (75)" {
	# An operator that never answers: the stop cannot drain it.
	golden "ds-op --exec 'sleep 600'"
	start_master -v "$T/g.topo"
	wait_for "grep -q 'count.2 started' '$T/m.log'" 20
	kill -INT "$MASTER"
	wait_for "grep -q 'stopping the job in order' '$T/m.log'" 10
	kill -INT "$MASTER"
	expect_exit 75 20
	grep -q 'stopped at once by signal 2 during the orderly stop; run again to resume' "$T/m.log"
	[ ! -e "$T/state/drained" ]
}

@test "stop: the job's processes run in a process group of their own (a ^C reaches ds-master alone)" {
	golden
	start_master "$T/g.topo"
	wait_for "[ -S '$T/run/master' ] && ds-master status '$T/run' | grep -q '^count.0 pid=[1-9]'" 20
	pid=$(ds-master status "$T/run" | awk '$1 == "count.0" { sub("pid=", "", $2); print $2 }')
	[ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ]
	[ "$(ps -o pgid= -p "$MASTER" | tr -d ' ')" != "$pid" ]
	kill -INT "$MASTER"
	expect_exit 75 30
}

@test "stop: --drain and --resumed are for topology mode only (64)" {
	run -64 --separate-stderr ds-source --drain --file "$T/in"
	[[ $stderr == *"topology options need --listen, --pull or --master"* ]]
	run -64 --separate-stderr ds-op --resumed --builtin count
	[[ $stderr == *"topology options need"* ]]
	run -64 --separate-stderr ds-source --drain --file "$T/in" --id 1 \
	    --listen "ipc://$T/s" --consumers 2
	[[ $stderr == *"--drain needs --master"* ]]
	run -64 --separate-stderr ds-sink --resumed --id 2 --pull "least:1@ipc://$T/s"
	[[ $stderr == *"--resumed needs --master"* ]]
	run -64 --separate-stderr ds-op --drain --builtin count
	[[ $stderr == *"--drain"* ]]
}

# The count node's totals of the first $1 lines of in, sorted.
totals() {
	head -n "$1" "$T/in" | awk '{ n[$1]++ } END { for (k in n) print k "\t" n[k] }' | sort
}

@test "stop: count --final gives nothing at an orderly stop, and each key's total once at the real end (relative paths, exactly once)" {
	cat > "$T/f.topo" <<EOF
[topology]
once = exactly
keepalive = 2s
[node src]
run = ds-source --rate 8000 --file in --key-field 1
[node count]
run = ds-op --builtin count --final
input = src:hash
parallel = 3
[node sink]
run = ds-sink --append --file out
input = count
EOF
	cd /
	start_master "$T/f.topo"
	wait_for "ds-master status '$T/f.topo' 2>/dev/null | grep -Eq '^src.0 .* out=[1-9][0-9]{3}'" 30
	run -0 ds-master stop "$T/f.topo"
	[[ $output == "job f $T/f.topo stopped "*": by ds-master stop: src.0 at line "* ]]
	expect_exit 75 5
	[ ! -s "$T/out" ]
	start_master "$T/f.topo"
	expect_exit 0 60
	[ "$(sort "$T/out")" = "$(totals 40000)" ]
}

@test "stop: count --final=stop gives each key's total so far at an orderly stop, and again at the end" {
	golden "ds-op --builtin count --final=stop"
	start_master "$T/g.topo"
	wait_for "ds-master status '$T/g.topo' 2>/dev/null | grep -Eq '^src.0 .* out=[1-9][0-9]{3}'" 30
	run -0 ds-master stop "$T/g.topo"
	expect_exit 75 5
	n=$(sed -n 's/.*src.0 at line \([0-9]*\),.*/\1/p' "$T/state/stopped")
	[ "$n" -gt 0 ] && [ "$n" -lt 40000 ]
	[ "$(sort "$T/out")" = "$(totals "$n")" ]
	start_master "$T/g.topo"
	expect_exit 0 60
	[ "$(tail -n +$(($(totals "$n" | wc -l) + 1)) "$T/out" | sort)" = "$(totals 40000)" ]
}
