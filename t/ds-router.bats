#!/usr/bin/env bats
# t/ds-router.bats: ds-router, the partitioner of a topology edge.  Options
# and exit codes first; then real edges without a master: ds-source (in
# topology mode) -> ds-router -> two ds-sinks over ipc:// sockets in the
# test's directory, checked tuple by tuple (the sinks print producer:seq
# and the key).  Background processes are recorded in PIDS and killed in
# teardown; every wait has a deadline.

load helper

setup() { pids_setup; }
teardown() { pids_teardown; }

SRC=65536		# ds_topo_producer(0, 0)
RID=1099511627777	# (1 << 40) | 1: the router of edge 0
SINK0=131072		# ds_topo_producer(1, 0)
SINK1=131073		# ds_topo_producer(1, 1)

# A router line that parses: add or override options after it.
router_ok() {
	ds-router --dist hash --id $RID --listen "ipc://$PWD/r" \
	    --consumers $SINK0,$SINK1 --pull "least:$SRC@ipc://$PWD/s" "$@"
}

# The real runs need ds-source and ds-sink in topology mode.
need_topology() {
	ds-source --help | grep -q -- '--listen' ||
	    skip "ds-source has no topology mode (--listen) yet"
	ds-sink --help | grep -q -- '--pull' ||
	    skip "ds-sink has no topology mode (--pull) yet"
}

# XXH64 of each line of stdin, seed 0, mod $1: "key index" lines.
xxh64_mod() {
	python3 -c '
import sys
M = (1 << 64) - 1
P1, P2, P3 = 11400714785074694791, 14029467366897019727, 1609587929392839161
P4, P5 = 9650029242287828579, 2870177450012600261
def rotl(x, r): return ((x << r) | (x >> (64 - r))) & M
def rnd(a, v): return rotl((a + v * P2) & M, 31) * P1 & M
def le(b, i, n): return int.from_bytes(b[i:i + n], "little")
def xxh64(b):
    n, i = len(b), 0
    if n >= 32:
        v = [(P1 + P2) & M, P2, 0, (-P1) & M]
        while i + 32 <= n:
            v = [rnd(v[k], le(b, i + 8 * k, 8)) for k in range(4)]
            i += 32
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & M
        for x in v:
            h = ((h ^ rnd(0, x)) * P1 + P4) & M
    else:
        h = P5
    h = (h + n) & M
    while i + 8 <= n:
        h = (rotl(h ^ rnd(0, le(b, i, 8)), 27) * P1 + P4) & M
        i += 8
    if i + 4 <= n:
        h = (rotl(h ^ (le(b, i, 4) * P1 & M), 23) * P2 + P3) & M
        i += 4
    while i < n:
        h = rotl(h ^ (b[i] * P5 & M), 11) * P1 & M
        i += 1
    h = (h ^ (h >> 33)) * P2 & M
    h = (h ^ (h >> 29)) * P3 & M
    return h ^ (h >> 32)
d, mode = int(sys.argv[1]), sys.argv[2]
assert xxh64(b"") == 0xEF46DB3751D8E999
for line in sys.stdin.buffer.read().split(b"\n")[:-1]:
    h = xxh64(line)
    i = h % d if mode == "hash" else (h * d) >> 64
    print(line.decode(), i)
' "$@"
}

# Start source, router and sinks in this directory.  $1: --dist, $2: the
# router's extra options; input from the file in (or stdin from the file
# $SRC_STDIN if set), outputs out0 and out1 ("producer:seq key" lines).
start_edge() {
	local dist=$1
	shift
	if [ -n "${SRC_STDIN:-}" ]; then
		ds-source --key-field 1 --id $SRC --listen "ipc://$PWD/s" \
		    --consumers $RID < "$SRC_STDIN" 3>&- 2> src.err &
	else
		ds-source --key-field 1 --file in --id $SRC \
		    --listen "ipc://$PWD/s" --consumers $RID 3>&- 2> src.err &
	fi
	SRCPID=$!
	PIDS+=("$SRCPID")
	start_router --dist "$dist" "$@"
	ds-sink --id $SINK0 --pull "${MODE:-least}:$SRC@ipc://$PWD/r" \
	    --format '%i %k' --file out0 3>&- 2> sink0.err &
	SINK0PID=$!
	ds-sink --id $SINK1 --pull "${MODE:-least}:$SRC@ipc://$PWD/r" \
	    --format '%i %k' --file out1 3>&- 2> sink1.err &
	SINK1PID=$!
	PIDS+=("$SINK0PID" "$SINK1PID")
}

start_router() {
	ds-router --id $RID --listen "ipc://$PWD/r" \
	    --consumers $SINK0,$SINK1 --pull "${MODE:-least}:$SRC@ipc://$PWD/s" \
	    "$@" 3>&- 7>&- 2>> router.err &
	RPID=$!
	PIDS+=("$RPID")
}

# Wait (deadline $2 s) for pid $1 to exit; its status must be 0.
wait_exit0() {
	wait_for "! kill -0 $1 2>/dev/null" "${2:-30}" || {
		echo "pid $1 still running" >&2
		cat ./*.err >&2
		return 1
	}
	wait "$1" || { echo "pid $1 exited $?" >&2; cat ./*.err >&2; return 1; }
}

wait_all() {
	wait_exit0 "$SINK0PID" && wait_exit0 "$SINK1PID" &&
	    wait_exit0 "$RPID" && wait_exit0 "$SRCPID"
}

# n lines "kN payload" with keys k0..k(m-1): in.
make_input() {	# $1: lines, $2: keys
	awk -v n="$1" -v m="$2" \
	    'BEGIN { for (i = 1; i <= n; i++) print "k" i % m, "v" i }' > in
}

@test "ds-router: --help usage equals the SYNOPSIS of ds-router(1)" {
	assert_help_matches_synopsis ds-router ds-router.1
}

@test "ds-router: --help prints the options and exits 0" {
	run -0 --separate-stderr ds-router --help
	[[ ${lines[0]} == "usage: ds-router [-qv] "* ]]
	[[ $output == *"--pull=MODE:IDS@ADDR"* ]]
	[[ $output == *"--dist=DIST"* ]]
	[ -z "$stderr" ]
}

@test "ds-router: --version prints the name and version" {
	run -0 --separate-stderr ds-router --version
	[[ $output =~ ^ds-router\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "ds-router: an unknown option is a usage error (64)" {
	run -64 --separate-stderr router_ok --bogus
	[[ $stderr == *"--bogus"* ]]
	[[ $stderr == *"usage: ds-router "* ]]
}

@test "ds-router: an operand is a usage error (64)" {
	run -64 --separate-stderr router_ok extra
	[[ $stderr == "ds-router: unexpected operand 'extra'"* ]]
}

@test "ds-router: --check checks every option and exits 0 without binding, connecting or making a key" {
	export XDG_RUNTIME_DIR="$PWD/xdg"
	run -0 router_ok --check --master "ipc://$PWD/m" --name a-b
	[ -z "$output" ]
	[ ! -e r ]
	[ ! -e xdg ]
	run -64 --separate-stderr router_ok --check --buffr 1M
	[[ $stderr == "ds-router: --buffr: unknown option"* ]]
	run -64 --separate-stderr ds-router --check --dist hash --id $RID \
	    --listen "ipc://$PWD/r" --pull "least:$SRC@ipc://$PWD/s"
	[[ $stderr == "ds-router: --consumers is required"* ]]
}

# The required options but the one named $1, each as OPTION VALUE.
required_but() {
	local o
	for o in --dist hash --id $RID --listen "ipc://$PWD/r" --consumers 1,2 \
	    --pull "least:$SRC@ipc://$PWD/s"; do
		printf '%s\n' "$o"
	done | awk -v skip="$1" '
		NR % 2 == 1 { drop = $0 == skip }
		!drop'
}

@test "ds-router: each required option missing is a usage error (64)" {
	local missing
	for missing in --dist --id --listen --consumers --pull; do
		mapfile -t args < <(required_but $missing)
		[ ${#args[@]} = 8 ]
		run -64 --separate-stderr ds-router "${args[@]}"
		[[ $stderr == "ds-router: $missing is required"* ]]
		[[ $stderr == *"usage: ds-router "* ]]
	done
}

@test "ds-router: --dist must be hash, range, shuffle or broadcast (64)" {
	local dist
	for dist in hash range shuffle broadcast; do
		run -64 --separate-stderr router_ok --dist "$dist" --epoch 0
		[[ $stderr == *"--epoch"* ]]
	done
	for dist in forward HASH "" hash,range; do
		run -64 --separate-stderr router_ok --dist "$dist"
		[[ $stderr == "ds-router: --dist: expected hash, range,"* ]]
	done
}

@test "ds-router: a malformed --pull is a usage error (64)" {
	local p
	for p in "least:1" "least@ipc://x" "1@ipc://x" "least:1@" \
	    "sometimes:1@ipc://x" "most:@ipc://x" "most:1,,2@ipc://x" \
	    "most:x@ipc://x" "most:-1@ipc://x" "most:1,@ipc://x" \
	    "most:1,1@ipc://x" "@least:1"; do
		run -64 --separate-stderr router_ok --pull "$p"
		[[ $stderr == "ds-router: --pull: "* ]] ||
		    { echo "accepted --pull $p: $stderr"; false; }
	done
}

@test "ds-router: --pull splits at the first @ and allows several" {
	# Both parse; the second names the address "ipc://a@b".
	run -64 --separate-stderr router_ok --pull "most:7,8@ipc://a@b" --epoch 0
	[[ $stderr == *"--epoch: 0 out of range"* ]]
}

@test "ds-router: a producer in two --pull options is a usage error (64)" {
	run -64 --separate-stderr router_ok --pull "most:9,$SRC@ipc://$PWD/t"
	[[ $stderr == "ds-router: --pull: producer $SRC given twice"* ]]
}

@test "ds-router: a bad --consumers list is a usage error (64)" {
	local c
	for c in "" "1,,2" "a" "1,1" "2,1,2" "1,"; do
		run -64 --separate-stderr router_ok --consumers "$c"
		[[ $stderr == "ds-router: --consumers: "* ]]
	done
}

@test "ds-router: numeric options are checked (64)" {
	run -64 --separate-stderr router_ok --epoch 0
	[[ $stderr == *"--epoch: 0 out of range 1..4294967295"* ]]
	run -64 --separate-stderr router_ok --epoch 4294967296
	run -64 --separate-stderr router_ok --id x
	[[ $stderr == *"--id: not a number"* ]]
	run -64 --separate-stderr router_ok --buffer 1000
	[[ $stderr == *"--buffer"* ]]
	run -64 --separate-stderr router_ok --buffer 1Q
	run -64 --separate-stderr router_ok --keepalive 99
	[[ $stderr == *"--keepalive"* ]]
	run -64 --separate-stderr router_ok --max-tuple 0
	run -64 --separate-stderr router_ok --once always
	[[ $stderr == *"--once: mode must be most, least or exactly"* ]]
	run -64 --separate-stderr router_ok --notify-fd 9 9>&-
	[[ $stderr == *"--notify-fd: 9 is not open"* ]]
}

@test "ds-router: an address that cannot be bound exits 69; not ipc:// or tcp:// 64" {
	run -69 --separate-stderr router_ok --listen "ipc://$PWD/no/such/dir"
	[[ $stderr == "ds-router: fatal: unable to listen at ipc://$PWD/no/such/dir"* ]]
	run -64 --separate-stderr router_ok --listen "bogus://x"
	[[ $stderr == "ds-router: --listen: only ipc:// and tcp:// addresses: 'bogus://x'"* ]]
	run -64 --separate-stderr router_ok --listen "tcp://127.0.0.1:0"
	[[ $stderr == *"--listen: tcp:// needs --network tcp"* ]]
}

@test "ds-router: --notify-fd after bind; SIGTERM exits 0" {
	ds-router --dist shuffle --id $RID --listen "ipc://$PWD/r" \
	    --consumers 1 --pull "most:$SRC@ipc://$PWD/s" --notify-fd 5 \
	    --once least --state "$PWD" --name a-b --buffer 1M \
	    --max-tuple 2K -v 5> ready 3>&- 2> err &
	local pid=$!
	PIDS+=("$pid")
	wait_for '[ -s ready ]' 10
	run -0 od -An -c ready
	[ "$(echo $output)" = '\n' ]
	[ -S r ]
	kill -TERM "$pid"
	wait_for "! kill -0 $pid 2>/dev/null" 10
	run -0 wait "$pid"
	run -0 cat err
	[[ $output == *"stopped by signal 15"*"name=a-b"* ]]
}

@test "ds-router: no answer from --master for --keepalive ms exits 75" {
	run -75 --separate-stderr timeout 20 ds-router --dist hash --id $RID \
	    --listen "ipc://$PWD/r" --consumers 1 --pull "most:1@ipc://$PWD/s" \
	    --master "ipc://$PWD/nomaster" --keepalive 300
	[[ $stderr == *"lease lost"* ]]
}

@test "ds-router: hash sends each tuple exactly once, each key to xxh64 % 2" {
	need_topology
	make_input 20000 101
	start_edge hash
	wait_all
	cat out0 out1 | cut -d' ' -f1 | sort > got
	seq 1 20000 | sed "s/^/$SRC:/" | sort > want
	run -0 cmp want got
	# Every key on one sink, the one XXH64 % 2 names.
	{ sed 's/$/ 0/' out0; sed 's/$/ 1/' out1; } |
	    awk '{ print $2, $3 }' | sort -u > keys
	[ "$(wc -l < keys)" = 101 ]
	cut -d' ' -f1 keys | xxh64_mod 2 hash > want_keys
	run -0 diff want_keys keys
}

@test "ds-router: range sends each key to (xxh64 * 2) >> 64" {
	need_topology
	make_input 5000 37
	start_edge range
	wait_all
	cat out0 out1 | cut -d' ' -f1 | sort > got
	seq 1 5000 | sed "s/^/$SRC:/" | sort > want
	run -0 cmp want got
	{ sed 's/$/ 0/' out0; sed 's/$/ 1/' out1; } |
	    awk '{ print $2, $3 }' | sort -u > keys
	cut -d' ' -f1 keys | xxh64_mod 2 range > want_keys
	run -0 diff want_keys keys
}

@test "ds-router: shuffle sends seq s of producer p to (p + s) % 2" {
	need_topology
	make_input 3000 5
	start_edge shuffle
	wait_all
	run -0 awk -v p=$SRC -F '[: ]' '
		FNR == 1 { f++ }
		{ n++; if ((p + $2) % 2 != f - 1) bad++ }
		END { if (n != 3000 || bad) { print n, bad; exit 1 } }' out0 out1
}

@test "ds-router: broadcast sends every tuple to both sinks" {
	need_topology
	make_input 4000 13
	start_edge broadcast
	wait_all
	seq 1 4000 | sed "s/^/$SRC:/" > want
	cut -d' ' -f1 out0 > got0
	cut -d' ' -f1 out1 > got1
	run -0 cmp want got0
	run -0 cmp want got1
}

@test "ds-router: most-once edges deliver everything when nothing fails" {
	need_topology
	make_input 5000 17
	MODE=most start_edge hash
	wait_all
	cat out0 out1 | cut -d' ' -f1 | sort > got
	seq 1 5000 | sed "s/^/$SRC:/" | sort > want
	run -0 cmp want got
}

@test "ds-router: several --pull servers are merged, each tuple once" {
	need_topology
	make_input 3000 9
	awk '{ print "x" $0 }' in > in2
	ds-source --key-field 1 --file in --id $SRC --listen "ipc://$PWD/s" \
	    --consumers $RID 3>&- 2> src.err &
	SRCPID=$!
	ds-source --key-field 1 --file in2 --id 65537 --listen "ipc://$PWD/s2" \
	    --consumers $RID 3>&- 2> src2.err &
	local src2=$!
	PIDS+=("$SRCPID" "$src2")
	start_router --dist shuffle --pull "least:65537@ipc://$PWD/s2"
	ds-sink --id $SINK0 --pull "least:$SRC,65537@ipc://$PWD/r" \
	    --format '%i %k' --file out0 3>&- 2> sink0.err &
	SINK0PID=$!
	ds-sink --id $SINK1 --pull "least:65537,$SRC@ipc://$PWD/r" \
	    --format '%i %k' --file out1 3>&- 2> sink1.err &
	SINK1PID=$!
	PIDS+=("$SINK0PID" "$SINK1PID")
	wait_all
	wait_exit0 "$src2"
	cat out0 out1 | cut -d' ' -f1 | sort > got
	{ seq 1 3000 | sed "s/^/$SRC:/"; seq 1 3000 | sed "s/^/65537:/"; } |
	    sort > want
	run -0 cmp want got
	run -0 grep -c ' x' out0 out1
}

@test "ds-router: a pull from a consumer not in --consumers is refused" {
	need_topology
	start_router --dist hash
	ds-sink --id 999 --pull "least:$SRC@ipc://$PWD/r" --file late \
	    3>&- 2> late.err &
	PIDS+=("$!")
	wait_for "grep -q 'refused a pull of unknown consumer 999' router.err" 10
}

@test "ds-router: a small --buffer still delivers everything (back-pressure)" {
	need_topology
	make_input 30000 7
	start_edge hash --buffer 1K
	wait_all
	cat out0 out1 | cut -d' ' -f1 | sort > got
	seq 1 30000 | sed "s/^/$SRC:/" | sort > want
	run -0 cmp want got
}

@test "ds-router: SIGKILLed and restarted mid-stream loses nothing" {
	need_topology
	make_input 40000 11
	# The source reads a fifo: the second half is written only after
	# the kill, so the stream is open (and the first half may be in
	# flight) when the router dies.
	mkfifo fin
	SRC_STDIN=fin start_edge hash --buffer 4K
	exec 7> fin
	head -n 20000 in >&7
	wait_for '[ $(cat out0 out1 2>/dev/null | wc -l) -ge 1000 ]' 20
	kill -KILL "$RPID"
	wait "$RPID" || true
	[ $(cat out0 out1 | wc -l) -lt 40000 ]
	start_router --dist hash --buffer 4K --epoch 2
	tail -n +20001 in >&7
	exec 7>&-
	wait_all
	# At least once: every tuple is there; duplicates are allowed.
	cat out0 out1 | cut -d' ' -f1 | sort -u > got
	seq 1 40000 | sed "s/^/$SRC:/" | sort > want
	run -0 cmp want got
	# Routing is the same across the restart: each key on one sink.
	{ sed 's/$/ 0/' out0; sed 's/$/ 1/' out1; } |
	    awk '{ print $2, $3 }' | sort -u > keys
	[ "$(wc -l < keys)" = 11 ]
	cut -d' ' -f1 keys | xxh64_mod 2 hash > want_keys
	run -0 diff want_keys keys
}

@test "ds-router: a consumer with a stale epoch is fenced" {
	need_topology
	make_input 10 2
	start_edge hash
	wait_all
	# The router is gone; a new one sees sink 0 at epoch 5 first.
	rm -f router.err
	start_router --dist hash -vv
	ds-sink --id $SINK0 --epoch 5 --pull "least:$SRC@ipc://$PWD/r" \
	    --file late5 3>&- 2> late5.err &
	PIDS+=("$!")
	wait_for "grep -q 'consumer $SINK0 epoch 5: first pull' router.err" 10
	run --separate-stderr timeout 20 ds-sink --id $SINK0 --epoch 4 \
	    --pull "least:$SRC@ipc://$PWD/r" --file late4
	[ "$status" = 75 ]
	grep -q "fenced consumer $SINK0 epoch 4 < 5" router.err
}
