#!/usr/bin/env bats
# t/ds-master.bats: ds-master run/status/stop.  Most tests supervise fake
# programs (a shell script linked as fake/ds-source, fake/ds-op and
# fake/ds-sink) that record their argv and then wait, exit or fail as
# their options say; they never beat, so keepalive is long unless a test
# is about it.  The end-to-end tests at the bottom run real topologies.
# Every ds-master started in the background is in PIDS and is stopped in
# teardown (it stops its children; the fakes also end with their parent).

load helper

setup() {
	pids_setup
	T=$BATS_TEST_TMPDIR
	export FAKE_OUT="$T/out"
	mkdir -p "$T/fake" "$FAKE_OUT"
	cat > "$T/fake/ds-fake" <<'EOF'
#!/bin/sh
# Records "$0 $@" one word a line in $FAKE_OUT/NAME.argv (NAME from
# --name), then: --exit N: exit N; --fail-once N: exit N the first time,
# later run; otherwise run until the parent (ds-master) is gone.
name= prev= mode= code=
for a; do
	[ "$prev" = --name ] && name=$a
	case $prev in --exit|--fail-once) mode=$prev code=$a ;; esac
	prev=$a
done
printf '%s\n' "$0" "$@" > "$FAKE_OUT/$name.argv"
case $mode in
--exit) exit "$code" ;;
--fail-once)
	if [ ! -e "$FAKE_OUT/$name.failed" ]; then
		: > "$FAKE_OUT/$name.failed"
		exit "$code"
	fi ;;
esac
while kill -0 "$PPID" 2>/dev/null; do
	sleep 0.1
done
EOF
	chmod +x "$T/fake/ds-fake"
	for k in ds-source ds-op ds-sink; do
		ln -s ds-fake "$T/fake/$k"
	done
}

teardown() {
	local p
	pids_teardown
	# Wait for each master to stop its children.
	for p in "${PIDS[@]}"; do
		wait_for "! kill -0 $p 2>/dev/null" 10 || kill -9 "$p" 2>/dev/null || true
	done
}

# Write topology $1 (a name in $T) with a [topology] section holding run,
# state and the lines of $2, then the rest of stdin.
topo() {
	{
		printf '[topology]\nrun = %s\nstate = %s\n' "$T/run" "$T/state"
		[ -z "$2" ] || printf '%s\n' "$2"
		cat
	} > "$T/$1"
}

# Three fake nodes, src (parallel 2) -> op -> out, all forward.
fake_chain() {	# $1: extra [topology] lines, $2: extra options of op
	topo f.topo "keepalive = 60s
$1" <<EOF
[node src]
run = fake/ds-source --file x
parallel = 2
[node op]
run = fake/ds-op $2
input = src
[node out]
run = fake/ds-sink
input = op
EOF
}

# Start ds-master run $@ in the background, stderr in $T/m.log.
start_master() {
	ds-master run "$@" 2> "$T/m.log" 3>&- &
	MASTER=$!
	PIDS+=("$MASTER")
}

# Wait until the master answers status and every listed argv file exists.
wait_up() {	# $@: instance names
	local n
	wait_for "ds-master status '$T/f.topo' > /dev/null 2>&1" 10
	for n; do
		wait_for "[ -s '$FAKE_OUT/$n.argv' ]" 10
	done
}

# Wait at most $2 seconds (default 10) for the background master to exit
# with status $1.  (Not under `run`: only this shell can wait for it.)
expect_exit() {
	local rc=0
	if ! wait_for "! kill -0 $MASTER 2>/dev/null" "${2:-10}"; then
		echo "ds-master is still running" >&2
		return 1
	fi
	wait "$MASTER" || rc=$?
	if [ "$rc" -ne "$1" ]; then
		echo "ds-master exited $rc, not $1; its log:" >&2
		cat "$T/m.log" >&2
		return 1
	fi
}

# The argv recorded by fake instance $1, as one line.
argv_of() {
	tr '\n' ' ' < "$FAKE_OUT/$1.argv" | sed 's/ $//'
}

# --- options, operands, exit codes ------------------------------------

@test "ds-master: --help usage equals the SYNOPSIS of ds-master(1)" {
	assert_help_matches_synopsis ds-master ds-master.1
}

@test "ds-master: --help prints the options and exits 0" {
	run -0 --separate-stderr ds-master --help
	[ "${lines[0]}" = "usage: ds-master run [-qv] [--check] [--notify-fd FD] FILE" ]
	[[ $output == *"--check"* ]]
	[ -z "$stderr" ]
}

@test "ds-master: --version prints the name and version" {
	run -0 --separate-stderr ds-master --version
	[[ $output =~ ^ds-master\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "ds-master: an unknown option is a usage error (64)" {
	run -64 --separate-stderr ds-master run --bogus f.topo
	[[ $stderr == *"--bogus"* ]]
	[[ $stderr == *"usage: ds-master run "* ]]
}

@test "ds-master: a missing or unknown command is a usage error (64)" {
	run -64 --separate-stderr ds-master
	[[ $stderr == "ds-master: missing command"* ]]
	run -64 --separate-stderr ds-master units f.topo
	[[ $stderr == "ds-master: unknown command 'units'"* ]]
}

@test "ds-master: a missing or extra operand is a usage error (64)" {
	run -64 --separate-stderr ds-master run
	[[ $stderr == "ds-master: run: missing FILE"* ]]
	run -64 --separate-stderr ds-master status
	[[ $stderr == "ds-master: status: missing FILE or RUNDIR"* ]]
	run -64 --separate-stderr ds-master stop a b
	[[ $stderr == "ds-master: unexpected operand 'b'"* ]]
}

@test "ds-master: --check and --notify-fd are for run only (64)" {
	run -64 --separate-stderr ds-master status --check "$T"
	[[ $stderr == "ds-master: --check is for run only"* ]]
	run -64 --separate-stderr ds-master stop --notify-fd 5 "$T" 5>/dev/null
	[[ $stderr == "ds-master: --notify-fd is for run only"* ]]
	run -64 --separate-stderr ds-master run --notify-fd 9 f.topo 9>&-
	[[ $stderr == *"--notify-fd: 9 is not open"* ]]
}

@test "ds-master: a missing FILE exits 66" {
	run -66 --separate-stderr ds-master run "$T/nope.topo"
	[[ $stderr == *"nope.topo: cannot open: No such file or directory"* ]]
	run -66 --separate-stderr ds-master run --check "$T/nope.topo"
	run -66 --separate-stderr ds-master status "$T/nope.topo"
	run -66 --separate-stderr ds-master stop "$T/nope"
}

@test "ds-master: an invalid topology exits 78 naming FILE:LINE and key" {
	topo bad.topo "bogus = 1" < /dev/null
	run -78 --separate-stderr ds-master run "$T/bad.topo"
	[[ $stderr == "ds-master: fatal: $T/bad.topo:4: bogus: "* ]]
	run -78 --separate-stderr ds-master run --check "$T/bad.topo"
	[[ $stderr == *"bad.topo:4: bogus: "* ]]
	run -78 --separate-stderr ds-master status "$T/bad.topo"
	[ ! -e "$T/run" ]
	[ ! -e "$T/state" ]
}

@test "ds-master: once = exactly is refused (78), also per edge" {
	topo x.topo "once = exactly" <<EOF
[node src]
run = ds-source --file x
[node out]
run = ds-sink
input = src
EOF
	run -78 --separate-stderr ds-master run "$T/x.topo"
	[[ $stderr == *"exactly-once needs ds-journal, which the instances do not use yet: use most or least"* ]]
	run -78 --separate-stderr ds-master run --check "$T/x.topo"
	topo y.topo "" <<EOF
[node src]
run = ds-source --file x
[node out]
run = ds-sink
input = src
once.src = exactly
EOF
	run -78 --separate-stderr ds-master run "$T/y.topo"
	[[ $stderr == *"y.topo:8: input: src: exactly-once needs ds-journal, which the instances do not use yet: use most or least"* ]]
	[ ! -e "$T/run" ]
}

@test "ds-master: --check prints nothing and exits 0 on good files" {
	topo ok.topo "" <<EOF
[node src]
run = ds-source --file words.txt --key-field 1
parallel = 2
[node count]
run = ds-op --builtin count
input = src:hash
parallel = 3
[node out]
run = ds-sink --file counts.txt
input = count
EOF
	run -0 ds-master run --check "$T/ok.topo"
	[ -z "$output" ]
	run -0 ds-master run --check -v "$T/ok.topo"
	[ -z "$output" ]
	# Nothing is created, no program is looked up.
	[ ! -e "$T/run" ]
	[ ! -e "$T/state" ]
	run -0 env PATH=/nonexistent "$TOP/bin/ds-master" run --check "$T/ok.topo"
	[ -z "$output" ]
}

@test "ds-master: a program that cannot be found exits 69 naming node and program" {
	topo m.topo "" <<EOF
[node src]
run = ds-source --file x
[node op]
run = nowhere/ds-op --builtin count
input = src
[node out]
run = ds-sink
input = op
EOF
	run -69 --separate-stderr ds-master run "$T/m.topo"
	[ "$stderr" = "ds-master: fatal: node op: nowhere/ds-op: program not found" ]
}

@test "ds-master: a forward edge leaving an instance without input exits 78" {
	topo w.topo "" <<EOF
[node src]
run = fake/ds-source
[node out]
run = fake/ds-sink
input = src
parallel = 2
EOF
	run -78 --separate-stderr ds-master run "$T/w.topo"
	[[ $stderr == *"w.topo:6: parallel: instance out.1 gets no input"* ]]
}

@test "ds-master: an instance exiting at once 5 times in a row stops the job (69)" {
	fake_chain "" ""
	sed -i 's|^run = fake/ds-op.*|run = ds-op --no-such-option|' "$T/f.topo"
	SECONDS=0
	run -69 --separate-stderr ds-master run "$T/f.topo"
	[ $SECONDS -lt 15 ]
	last=$(printf '%s\n' "$stderr" | grep '^ds-master:' | tail -n 1)
	[[ $last == "ds-master: fatal: op.0 exited 5 times in a row within 2 s of starting, last with exit 64: cannot go on" ]]
	[[ $stderr == *"ds-master: warning: op.0 died (exit 64)"* ]]
	grep -qx 'op.0 5' "$T/state/epochs"
	# The other instances were stopped.
	wait_for "! pgrep -f '$T/fake/ds-' > /dev/null"
}

@test "ds-master: status and stop with no master exit 69" {
	fake_chain "" ""
	run -69 --separate-stderr ds-master status "$T/f.topo"
	[[ $stderr == "ds-master: fatal: no master answers at ipc://$T/run/master"* ]]
	mkdir "$T/empty"
	run -69 --separate-stderr ds-master status "$T/empty"
	[[ $stderr == *"no master answers at ipc://$T/empty/master"* ]]
	run -69 --separate-stderr ds-master stop "$T/f.topo"
	# A socket file nobody listens on any more.
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()' "$T/empty/master"
	SECONDS=0
	run -69 --separate-stderr ds-master status "$T/empty"
	[ $SECONDS -lt 5 ]
}

# --- supervision with fake programs -----------------------------------

@test "ds-master: status prints the job and one line per instance" {
	fake_chain "" ""
	start_master "$T/f.topo"
	wait_up src.0 src.1 op.0 out.0
	run -0 --separate-stderr ds-master status "$T/f.topo"
	[ "${lines[0]}" = "job f once=least instances=4 done=0" ]
	[ "${#lines[@]}" -eq 5 ]
	[[ ${lines[1]} =~ ^src\.0\ pid=[1-9][0-9]*\ epoch=1\ state=starting\ restarts=0\ in=0\ out=0\ fenced=0\ dup=0$ ]]
	[[ ${lines[2]} == "src.1 pid="*" epoch=1 state=starting "* ]]
	[[ ${lines[3]} == "op.0 pid="* ]]
	[[ ${lines[4]} == "out.0 pid="* ]]
	# The pid is the instance's.
	pid=${lines[3]#op.0 pid=}; pid=${pid%% *}
	[ "$(tr '\0' ' ' < /proc/$pid/cmdline)" = "/bin/sh $(argv_of op.0) " ]
	# RUNDIR works as well as FILE.
	run -0 ds-master status "$T/run"
	[ "${lines[0]}" = "job f once=least instances=4 done=0" ]
}

@test "ds-master: stop ends the job with 75; the children are gone" {
	fake_chain "" ""
	start_master "$T/f.topo"
	wait_up src.0 src.1 op.0 out.0
	run -0 --separate-stderr ds-master stop "$T/f.topo"
	[ "$output" = "stopping" ]
	expect_exit 75
	grep -q '^ds-master: warning: stopped by ds-master stop; run again to resume$' "$T/m.log"
	run ! pgrep -f "$T/fake/ds-"
	[ ! -e "$T/run/master" ]
	[ ! -e "$T/state/done" ]
}

@test "ds-master: SIGTERM and SIGINT end the job with 75" {
	fake_chain "" ""
	for sig in TERM INT; do
		start_master "$T/f.topo"
		wait_up src.0 src.1 op.0 out.0
		kill -$sig "$MASTER"
		expect_exit 75
		grep -q "stopped by signal .*; run again to resume" "$T/m.log"
		wait_for "! pgrep -f '$T/fake/ds-' > /dev/null"
		rm -f "$FAKE_OUT"/*.argv
	done
}

@test "ds-master: run resumes with every epoch one higher" {
	fake_chain "" ""
	start_master "$T/f.topo"
	wait_up src.0 src.1 op.0 out.0
	ds-master stop "$T/f.topo"
	expect_exit 75
	sort "$T/state/epochs" > "$T/e1"
	[ "$(cat "$T/e1")" = "$(printf 'op.0 1\nout.0 1\nsrc.0 1\nsrc.1 1')" ]
	rm -f "$FAKE_OUT"/*.argv
	start_master "$T/f.topo"
	wait_up src.0 src.1 op.0 out.0
	run -0 ds-master status "$T/f.topo"
	[[ ${lines[1]} == "src.0 pid="*" epoch=2 state=starting restarts=0 "* ]]
	[[ $(argv_of op.0) == *" --epoch 2 "* ]]
}

@test "ds-master: a second master on the same run directory exits 69" {
	fake_chain "" ""
	start_master "$T/f.topo"
	wait_up src.0
	run -69 --separate-stderr ds-master run "$T/f.topo"
	[[ $stderr == *"another ds-master runs job f"* ]]
}

@test "ds-master: the run line gets defaults first and topology options last" {
	fake_chain "bundle = 7
linger = 3ms
once = most" "--bundle 9"
	start_master "$T/f.topo"
	wait_up src.0 src.1 op.0 out.0
	R="$T/run" S="$T/state"
	[ "$(argv_of src.1)" = "$T/fake/ds-source --bundle 7 --linger 3 --file x --id 65537 --name src.1 --epoch 1 --master ipc://$R/master --keepalive 60000 --once most --state $S --listen ipc://$R/src.1 --consumers 131072" ]
	[[ $(argv_of op.0) == *"/fake/ds-op --bundle 7 --bundle 9 --id 131072 --name op.0 --epoch 1 --master ipc://$R/master --keepalive 60000 --once most --state $S --listen ipc://$R/op.0 --consumers 196608 --pull most:65536@ipc://$R/src.0 --pull most:65537@ipc://$R/src.1" ]]
	[[ $(argv_of out.0) == *"/fake/ds-sink --id 196608 --name out.0 --epoch 1 --master ipc://$R/master --keepalive 60000 --once most --state $S --pull most:131072@ipc://$R/op.0" ]]
}

@test "ds-master: forward edges pair instance i with i % d; per-edge once" {
	topo f.topo "keepalive = 60s" <<EOF
[node src]
run = fake/ds-source
parallel = 4
[node op]
run = fake/ds-op
input = src
parallel = 2
once.src = most
[node out]
run = fake/ds-sink
input = op
EOF
	start_master "$T/f.topo"
	wait_up src.0 src.1 src.2 src.3 op.0 op.1 out.0
	R="$T/run"
	[[ $(argv_of op.1) == *" --pull most:65537@ipc://$R/src.1 --pull most:65539@ipc://$R/src.3" ]]
	[[ $(argv_of op.0) == *" --pull most:65536@ipc://$R/src.0 --pull most:65538@ipc://$R/src.2" ]]
	[[ $(argv_of src.3) == *" --consumers 131073" ]]
	[[ $(argv_of src.2) == *" --consumers 131072" ]]
	[[ $(argv_of out.0) == *" --once least "*" --pull least:131072@ipc://$R/op.0 --pull least:131073@ipc://$R/op.1" ]]
	[[ $(argv_of op.0) == *" --consumers 196608 "* ]]
}

@test "ds-master: routed edges go through one ds-router per edge" {
	[ -x "$TOP/bin/ds-router" ] || skip "bin/ds-router is not built yet"
	topo f.topo "keepalive = 60s" <<EOF
[node src]
run = fake/ds-source
parallel = 2
[node op]
run = fake/ds-op
input = src:hash
parallel = 3
[node out]
run = fake/ds-sink
input = op:broadcast
input = src
once.op = most
EOF
	start_master "$T/f.topo"
	wait_up src.0 src.1 op.0 op.1 op.2 out.0
	R="$T/run" r1=$(( (1 << 40) | 1 )) r2=$(( (1 << 40) | 2 ))
	[[ $(argv_of src.1) == *" --consumers $r1,196608" ]]
	[[ $(argv_of op.2) == *" --consumers $r2 "* ]]
	[[ $(argv_of op.2) == *" --pull least:65536,65537@ipc://$R/src-op" ]]
	[[ $(argv_of out.0) == *" --pull most:131072,131073,131074@ipc://$R/op-out --pull least:65536@ipc://$R/src.0 --pull least:65537@ipc://$R/src.1" ]]
	run -0 ds-master status "$T/f.topo"
	[ "${lines[0]}" = "job f once=least instances=8 done=0" ]
	[[ $output == *$'\nsrc-op pid='* ]]
	pid=$(printf '%s\n' "$output" | sed -n 's/^op-out pid=\([0-9]*\) .*/\1/p')
	[ "$(tr '\0' ' ' < /proc/$pid/cmdline)" = "ds-router --dist broadcast --listen ipc://$R/op-out --consumers 196608 --pull most:131072@ipc://$R/op.0 --pull most:131073@ipc://$R/op.1 --pull most:131074@ipc://$R/op.2 --id $r2 --name op-out --epoch 1 --master ipc://$R/master --keepalive 60000 --once most " ]
}

@test "ds-master: a failed instance is restarted with the next epoch" {
	fake_chain "" "--fail-once 3"
	start_master -v "$T/f.topo"
	wait_up src.0 src.1 out.0
	wait_for "[ -e '$FAKE_OUT/op.0.failed' ] && grep -q 'op.0 started pid=[0-9]* epoch=2$' '$T/m.log'"
	grep -q '^ds-master: warning: op.0 died (exit 3) pid=[0-9]* epoch=1; restarting$' "$T/m.log"
	grep -q '^ds-master: info: op.0 started pid=[0-9]* epoch=1$' "$T/m.log"
	run -0 ds-master status "$T/f.topo"
	[[ ${lines[3]} == "op.0 pid="*" epoch=2 state=starting restarts=1 "* ]]
	grep -qx 'op.0 2' "$T/state/epochs"
	grep -qx 'src.0 1' "$T/state/epochs"
}

@test "ds-master: a job whose processes all exit 0 exits 0 and writes STATE/done" {
	fake_chain "" ""
	sed -i 's|^run = fake/\(.*\)|run = fake/\1 --exit 0|' "$T/f.topo"
	run -0 --separate-stderr ds-master run "$T/f.topo"
	[ -z "$stderr" ]
	[ -e "$T/state/done" ]
	[ ! -e "$T/run/master" ]
	# The next run starts over: state logs removed, epochs go on.
	: > "$T/state/op.0.slog"
	: > "$T/state/keep.txt"
	run -0 --separate-stderr ds-master run -v "$T/f.topo"
	[[ $stderr == *"previous run finished: starting over"* ]]
	[ ! -e "$T/state/op.0.slog" ]
	[ -e "$T/state/keep.txt" ]
	[ -e "$T/state/done" ]
	grep -qx 'op.0 2' "$T/state/epochs"
}

@test "ds-master: -v logs every start, -q only fatal lines" {
	fake_chain "" ""
	sed -i 's|^run = fake/\(.*\)|run = fake/\1 --exit 0|' "$T/f.topo"
	run -0 --separate-stderr ds-master run -v "$T/f.topo"
	[[ $stderr == *"ds-master: info: src.0 started pid="*" epoch=1"* ]]
	[[ $stderr == *"ds-master: info: out.0 started pid="*" epoch=1"* ]]
	sed -i 's|^run = fake/ds-op.*|run = ds-op --no-such-option|' "$T/f.topo"
	sed -i 's|--exit 0||' "$T/f.topo"
	run -69 --separate-stderr ds-master run -q "$T/f.topo"
	[ "$(printf '%s\n' "$stderr" | grep -c '^ds-master: ')" -eq 1 ]
	[[ $stderr == *"ds-master: fatal: op.0 exited 5 times"* ]]
}

@test "ds-master: an instance with no beat for the keepalive is killed and replaced" {
	fake_chain "keepalive = 500ms" ""
	sed -i '/^keepalive = 60s$/d' "$T/f.topo"
	start_master "$T/f.topo"
	wait_up op.0
	pid=$(ds-master status "$T/f.topo" | sed -n 's/^op\.0 pid=\([0-9]*\) .*/\1/p')
	wait_for "grep -q 'op.0 declared dead: no beat for 500 ms; killing pid=$pid epoch=1' '$T/m.log'"
	wait_for "! kill -0 $pid 2>/dev/null"
	wait_for "ds-master status '$T/f.topo' | grep -q '^op.0 pid=[0-9]* epoch=[2-9]'"
}

@test "ds-master: with zombies = fence a silent instance is replaced, not killed" {
	fake_chain "keepalive = 500ms
zombies = fence" ""
	sed -i '/^keepalive = 60s$/d' "$T/f.topo"
	start_master "$T/f.topo"
	wait_up op.0
	pid=$(ds-master status "$T/f.topo" | sed -n 's/^op\.0 pid=\([0-9]*\) .*/\1/p')
	wait_for "grep -q 'op.0 declared dead: no beat for 500 ms; fencing pid=$pid epoch=1' '$T/m.log'"
	wait_for "ds-master status '$T/f.topo' | grep -q '^op.0 pid=[0-9]* epoch=[2-9]'"
	kill -0 "$pid"
	# Stopping the job also ends the zombie.
	ds-master stop "$T/f.topo"
	expect_exit 75
	run ! kill -0 "$pid"
}

@test "ds-master: --notify-fd writes a newline once every process is started" {
	fake_chain "" ""
	mkfifo "$T/ready"
	ds-master run --notify-fd 3 "$T/f.topo" 2> "$T/m.log" 3> "$T/ready" &
	MASTER=$!
	PIDS+=("$MASTER")
	run -0 timeout 10 cat "$T/ready"
	[ "$output" = "" ]
	[ "${#lines[@]}" -eq 0 ]
	run -0 ds-master status "$T/f.topo"
	[ "${#lines[@]}" -eq 5 ]
	[[ $output != *"state=waiting"* ]]
}

# --- end to end: real ds-source, ds-op, ds-router, ds-sink -------------

# Skip until the programs speak topology mode.
need_topology_mode() {
	[ -x "$TOP/bin/ds-router" ] || skip "bin/ds-router is not built yet"
	ds-sink --help | grep -q -- '--master' ||
	    skip "ds-sink has no topology mode yet"
	ds-source --help | grep -q -- '--master' ||
	    skip "ds-source has no topology mode yet"
	ds-op --help | grep -q -- '--master' ||
	    skip "ds-op has no topology mode yet"
}

# words -> count (hash, parallel 2) -> sink; $1: the source's --file.
wordcount() {
	topo wc.topo "keepalive = 2s
once = least" <<EOF
[node words]
run = ds-source --file $1 --key-field 1
[node count]
run = ds-op --builtin count
input = words:hash
parallel = 2
[node out]
run = ds-sink --file $T/counts.txt
input = count
EOF
}

@test "ds-master: end to end: a finite word count runs to the end and exits 0" {
	need_topology_mode
	awk 'BEGIN { for (i = 0; i < 3000; i++) print "w" (i % 7) }' > "$T/words.txt"
	wordcount "$T/words.txt"
	run -0 --separate-stderr timeout 60 ds-master run "$T/wc.topo"
	[ -e "$T/state/done" ]
	# Every key's counts 1..n, each exactly once (least: duplicates
	# would show as repeated lines).
	for k in 0 1 2 3 4 5 6; do
		n=$(awk -v k="w$k" '$1 == k' "$T/words.txt" | wc -l)
		got=$(awk -F '\t' -v k="w$k" '$1 == k { print $2 }' "$T/counts.txt" | sort -n | uniq)
		[ "$got" = "$(seq 1 "$n")" ]
	done
}

@test "ds-master: end to end: status while running shows running instances" {
	need_topology_mode
	mkfifo "$T/fifo"
	wordcount "$T/fifo"
	start_master "$T/wc.topo"
	exec 7> "$T/fifo"
	printf 'a\nb\na\n' >&7
	# Counters come with the next beats.
	wait_for "ds-master status '$T/wc.topo' | grep -q '^out.0 pid=[0-9]* epoch=1 state=running restarts=0 in=3 '" 20
	run -0 ds-master status "$T/wc.topo"
	[ "${lines[0]}" = "job wc once=least instances=5 done=0" ]
	[ "${#lines[@]}" -eq 6 ]
	[[ $output == *$'\nwords.0 pid='*" epoch=1 state=running restarts=0 in="*" out=3 "* ]]
	[[ $output == *$'\nwords-count pid='*" epoch=1 state=running "* ]]
	[[ $output == *$'\ncount.1 pid='*" epoch=1 state=running "* ]]
	# End of input ends the job.
	exec 7>&-
	expect_exit 0 30
	[ -e "$T/state/done" ]
}

@test "ds-master: end to end: stop exits 75 and the next run resumes" {
	need_topology_mode
	mkfifo "$T/fifo"
	wordcount "$T/fifo"
	start_master "$T/wc.topo"
	exec 7> "$T/fifo"
	printf 'a\nb\n' >&7
	wait_for "[ \$(grep -c . '$T/counts.txt' 2>/dev/null || echo 0) -ge 2 ]" 20
	run -0 ds-master stop "$T/wc.topo"
	[ "$output" = "stopping" ]
	expect_exit 75 20
	exec 7>&-
	[ ! -e "$T/state/done" ]
	grep -qx 'words.0 1' "$T/state/epochs"
	# Resume on a file with the same first bytes: the source goes on
	# after what was acked (least: maybe again from a bit before).
	rm "$T/fifo"
	printf 'a\nb\nc\n' > "$T/fifo"
	run -0 timeout 60 ds-master run "$T/wc.topo"
	grep -qx 'words.0 2' "$T/state/epochs"
	[ -e "$T/state/done" ]
	# At least once: every key's counts 1..n with no gap (a replay from
	# before the stop may count a key again, so n may exceed its inputs).
	for k in a b c; do
		got=$(awk -F '\t' -v k=$k '$1 == k { print $2 }' "$T/counts.txt" | sort -n | uniq)
		[ -n "$got" ]
		[ "$got" = "$(seq 1 "$(echo "$got" | tail -1)")" ]
	done
}

@test "ds-master: end to end: a killed instance is restarted and the job finishes" {
	need_topology_mode
	mkfifo "$T/fifo"
	wordcount "$T/fifo"
	start_master "$T/wc.topo"
	exec 7> "$T/fifo"
	printf 'a\n' >&7
	wait_for "ds-master status '$T/wc.topo' 2>/dev/null | grep -q '^count.0 .*state=running'" 20
	pid=$(ds-master status "$T/wc.topo" | sed -n 's/^count\.0 pid=\([0-9]*\) .*/\1/p')
	[ "$pid" -gt 1 ]
	kill -9 "$pid"
	wait_for "ds-master status '$T/wc.topo' | grep -q '^count.0 pid=[0-9]* epoch=2 state=running restarts=1 '" 20
	grep -q "count.0 died (signal 9)" "$T/m.log"
	printf 'a\n' >&7
	exec 7>&-
	expect_exit 0 30
	[ "$(awk -F '\t' '$1 == "a" { print $2 }' "$T/counts.txt" | sort -n | uniq | tr '\n' ' ')" = "1 2 " ]
}
