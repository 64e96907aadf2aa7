#!/usr/bin/env bats
# t/instance.bats: topology mode of ds-source, ds-op and ds-sink run by
# hand, without ds-master: the topology options and their exit codes,
# standalone chains whose output must equal pipe mode, and crash recovery
# from the state log (SIGKILL, restart with the next epoch).  A crash is
# made to hit mid-stream deterministically: the sink writes into a fifo
# the test reads only part of, so the chain cannot finish before the kill.

load helper

setup() {
	pids_setup
	exec 8<&- 2>/dev/null || true
}
teardown() {
	exec 8<&- 2>/dev/null || true
	pids_teardown
}

# The golden count input: $1 lines "user-NNNNN SEQ" over 97 keys.
count_input() {
	awk -v n="$1" 'BEGIN { for (i = 1; i <= n; i++)
	    printf "user-%05d %d\n", i % 97, i }' > "$2"
}

# Background process; its pid lands in pid.NAME, its exit status in
# rc.NAME.
bg() {	# NAME CMD...
	local name=$1
	shift
	rm -f "rc.$name" "pid.$name"
	("$@" & echo $! > "pid.$name"; r=0; wait $! || r=$?
	    echo $r > "rc.$name") \
	    3>&- 7>&- 8<&- &
	wait_for "[ -s pid.$name ]"
	PIDS+=("$(cat "pid.$name")")
}

# Wait for the background job $1 (a pid of this shell); its status must
# be $2.
reap() {
	local rc=0
	wait "$1" || rc=$?
	[ "$rc" = "$2" ] || { echo "pid $1 exited $rc, wanted $2" >&2; false; }
}

# Wait for background process NAME to exit; check its status is $2.
exited() {
	wait_for "[ -s rc.$1 ]" "${3:-30}"
	[ "$(cat "rc.$1")" = "$2" ] || {
		echo "$1 exited $(cat "rc.$1"), wanted $2" >&2
		cat "$1.err" >&2 2>/dev/null
		return 1
	}
}

@test "instance: topology options without --listen, --pull or --master are a usage error (64)" {
	run -64 --separate-stderr ds-source --id 1
	[[ $stderr == *"need --listen, --pull or --master"* ]]
	run -64 ds-op --builtin count --state .
	run -64 ds-sink --epoch 2
}

@test "instance: --id is required in topology mode, and not 0 (64)" {
	run -64 --separate-stderr ds-sink --pull least:1@ipc://x
	[[ $stderr == *"needs --id"* ]]
	run -64 ds-sink --id 0 --pull least:1@ipc://x
	run -64 ds-sink --id x --pull least:1@ipc://x
}

@test "instance: bad --pull syntax is a usage error (64)" {
	local p
	for p in least:1 least1@ipc://x bogus:1@ipc://x least:@ipc://x \
	    least:0@ipc://x least:1,,2@ipc://x least:1,1@ipc://x \
	    least:a@ipc://x least:1@ most@ipc://x; do
		run -64 --separate-stderr ds-sink --id 2 --pull "$p"
		[[ $stderr == *"--pull"* ]] || { echo "$p: $stderr"; false; }
	done
	run -64 --separate-stderr ds-sink --id 2 --pull exactly:1@ipc://x
	[[ $stderr == *"exactly-once needs --journal"* ]]
}

@test "instance: bad --consumers is a usage error (64)" {
	local c
	for c in "" a 1,,2 1,1 0 1, -1; do
		run -64 --separate-stderr ds-source --id 1 --listen ipc://x \
		    --consumers "$c"
		[[ $stderr == *"--consumers"* ]] || { echo "$c: $stderr"; false; }
	done
	run -64 --separate-stderr ds-source --id 1 --listen ipc://x
	[[ $stderr == *"--listen needs --consumers"* ]]
}

@test "instance: bad --part is a usage error (64)" {
	local p
	for p in "" hash hash: broadcast:2 forward:2 bogus:2 hash:2,2 \
	    hash:0 hash:4 "hash:2;3"; do
		run -64 --separate-stderr ds-source --id 1 --listen ipc://x \
		    --consumers 2,3 --part "$p" < /dev/null
		[[ $stderr == *"--part"* ]] || { echo "$p: $stderr"; false; }
	done
	run -64 --separate-stderr ds-source --id 1 --listen ipc://x \
	    --consumers 2,3,4 --part hash:2 --part range:4,3,2
	[[ $stderr == *"--part: 2 is in two --part options"* ]]
	run -64 --separate-stderr ds-op --builtin count --id 2 \
	    --listen ipc://x --consumers 3 --pull least:1@ipc://y --part hash:4
	[[ $stderr == *"--part: 4 is not one of --consumers"* ]]
	run -64 ds-sink --id 2 --pull least:1@ipc://y --part hash:3
}

@test "instance: each executable needs its own topology options (64)" {
	run -64 --separate-stderr ds-source --id 1 --master ipc://m
	[[ $stderr == *"needs --listen"* ]]
	run -64 --separate-stderr ds-op --builtin count --id 2 \
	    --listen ipc://x --consumers 3
	[[ $stderr == *"needs --pull"* ]]
	run -64 ds-source --id 1 --listen ipc://x --consumers 2 \
	    --pull least:1@ipc://y
	run -64 ds-sink --id 2 --pull least:1@ipc://y --listen ipc://x
	run -64 ds-sink --id 2 --pull least:1@ipc://y --consumers 3
}

@test "instance: --epoch, --once, --keepalive and --name are checked (64)" {
	local p=(--id 2 --pull least:1@ipc://y)
	run -64 ds-sink "${p[@]}" --epoch 0
	run -64 ds-sink "${p[@]}" --epoch 4294967296
	run -64 ds-sink "${p[@]}" --once bogus
	run -64 --separate-stderr ds-sink "${p[@]}" --once exactly
	[[ $stderr == *"exactly-once needs --journal"* ]]
	run -64 --separate-stderr ds-sink "${p[@]}" --journal ipc://j
	[[ $stderr == *"--journal needs --once exactly"* ]]
	run -64 --separate-stderr ds-sink "${p[@]}" --once exactly \
	    --journal ipc://j
	[[ $stderr == *"exactly-once needs --file"* ]]
	run -64 ds-sink "${p[@]}" --once exactly --journal ""
	run -64 --separate-stderr ds-sink "${p[@]}" --keepalive 1000
	[[ $stderr == *"--keepalive needs --master"* ]]
	run -64 ds-sink "${p[@]}" --master ipc://m --keepalive 99
	run -64 ds-sink "${p[@]}" --name a/b
	run -64 ds-sink "${p[@]}" --name ""
	run -64 ds-sink "${p[@]}" --state ""
}

@test "instance: a bad address exits 64, tcp:// only with --network tcp, one that cannot be used 69" {
	run -64 --separate-stderr ds-source --id 1 --listen bogus://x \
	    --consumers 2 < /dev/null
	[[ $stderr == *"--listen: only ipc:// and tcp:// addresses: 'bogus://x'"* ]]
	run -69 ds-source --id 1 --listen "ipc://$BATS_TEST_TMPDIR/no/such" \
	    --consumers 2 < /dev/null
	run -64 --separate-stderr ds-sink --id 2 --pull least:1@bogus://x
	[[ $stderr == *"--pull: only ipc:// and tcp:// addresses"* ]]
	run -64 --separate-stderr ds-sink --id 2 --pull least:1@tcp://127.0.0.1:1
	[[ $stderr == *"--pull: tcp:// needs --network tcp"* ]]
	run -64 --separate-stderr ds-sink --id 2 --network udp \
	    --pull least:1@tcp://127.0.0.1:1
	[[ $stderr == *"--network: expected ipc or tcp: 'udp'"* ]]
}

@test "instance: no answer from --master within --keepalive exits 75" {
	run -75 --separate-stderr ds-sink --id 2 --pull "least:1@ipc://$PWD/s" \
	    --master "ipc://$PWD/nomaster" --keepalive 200
	[[ $stderr == *"lease lost"* ]]
	seq 3 > in
	run -75 ds-source --id 1 --file in --listen "ipc://$PWD/s" \
	    --consumers 2 --master "ipc://$PWD/nomaster" --keepalive 200
	run -75 ds-op --builtin count --id 2 --listen "ipc://$PWD/o" \
	    --consumers 3 --pull "least:1@ipc://$PWD/s" \
	    --master "ipc://$PWD/nomaster" --keepalive 200
}

@test "instance: ds-source in topology mode stops with 75 on SIGTERM" {
	mkfifo in
	ds-source --id 1 --listen "ipc://$PWD/s" --consumers 2 --notify-fd 5 \
	    < in 5> ready 2> err 3>&- &
	local src=$!
	PIDS+=("$src")
	exec 7> in
	wait_for '[ -s ready ]'
	kill -TERM "$src"
	reap "$src" 75
	grep -q "stopped by signal 15" err
}

@test "instance: --state with standard input is ignored with a warning" {
	mkfifo in
	ds-source --id 1 --listen "ipc://$PWD/s" --consumers 2 --state . \
	    < in 2> err 3>&- &
	PIDS+=("$!")
	exec 7> in
	wait_for 'grep -q "standard input cannot be read again" err'
	[ ! -e 1.slog ]
}

@test "instance: --state with a regular file on standard input keeps a log" {
	count_input 100 in
	ds-source --id 1 --listen "ipc://$PWD/s" --consumers 2 --state . \
	    --key-field 1 < in 2> err 3>&- &
	PIDS+=("$!")
	wait_for '[ -s 1.slog ]'
	run -1 grep -q "cannot be read again" err
}

@test "instance: ds-source -> ds-sink over ipc equals pipe mode" {
	count_input 20000 in
	ds-source --file in --key-field 1 | ds-sink --format '%k %p %s' > want
	bg src ds-source --file in --key-field 1 --listen "ipc://$PWD/src" \
	    --consumers 2 --id 1 > src.out 2> src.err
	bg sink ds-sink --id 2 --pull "least:1@ipc://$PWD/src" \
	    --format '%P %e %k %p %s' > got 2> sink.err
	exited src 0
	exited sink 0
	[ ! -s src.out ]
	# Producer and epoch are the instance's; the rest as in pipe mode.
	run -0 sh -c "cut -d ' ' -f 3- got | cmp - want"
	run -0 sh -c "awk '\$1 != 1 || \$2 != 1' got | wc -l"
	[ "$output" = 0 ]
}

@test "instance: ds-source -> ds-op count -> ds-sink equals pipe mode" {
	count_input 20000 in
	ds-source --file in --key-field 1 | ds-op --builtin count |
	    ds-sink > want
	bg src ds-source --file in --key-field 1 --listen "ipc://$PWD/src" \
	    --consumers 2 --id 1 2> src.err
	bg op ds-op --builtin count --id 2 --listen "ipc://$PWD/op" \
	    --consumers 3 --pull "least:1@ipc://$PWD/src" 2> op.err
	bg sink ds-sink --id 3 --pull "least:2@ipc://$PWD/op" > got \
	    2> sink.err
	exited src 0
	exited op 0
	exited sink 0
	cmp got want
}

# A source -> two sinks edge, once with the source partitioning (--part)
# and once through ds-router: each sink must get the same tuples, with the
# same ids, either way.
two_sinks() {	# $1 NAME, $2 ADDR: sinks 2 and 3 of producer 1 into NAME0/1
	bg "${1}0" ds-sink --id 2 --pull "least:1@$2" --format '%i %k' \
	    > "${1}0" 2> "${1}0.err"
	bg "${1}1" ds-sink --id 3 --pull "least:1@$2" --format '%i %k' \
	    > "${1}1" 2> "${1}1.err"
}

@test "instance: ds-source --part hash, range and shuffle: each consumer gets what ds-router would send it" {
	local d p
	count_input 20000 in
	for d in hash range shuffle; do
		mkdir "$d"
		cd "$d"
		bg src ds-source --file ../in --key-field 1 --id 1 \
		    --listen "ipc://$PWD/src" --consumers 2,3 --part "$d:2,3" \
		    2> src.err
		two_sinks d "ipc://$PWD/src"
		bg rsrc ds-source --file ../in --key-field 1 --id 1 \
		    --listen "ipc://$PWD/rsrc" --consumers 9 2> rsrc.err
		bg r ds-router --dist "$d" --id 9 --listen "ipc://$PWD/r" \
		    --consumers 2,3 --pull "least:1@ipc://$PWD/rsrc" 2> r.err
		two_sinks r "ipc://$PWD/r"
		for p in src d0 d1 rsrc r r0 r1; do
			exited "$p" 0
		done
		[ -s d0 ] && [ -s d1 ]
		[ "$(cat d0 d1 | wc -l)" -eq 20000 ]
		cmp d0 r0
		cmp d1 r1
		cd ..
	done
}

@test "instance: ds-op --part hash splits its output between two sinks, each key on one" {
	count_input 20000 in
	ds-source --file in --key-field 1 | ds-op --builtin count |
	    ds-sink | sort > want
	bg src ds-source --file in --key-field 1 --listen "ipc://$PWD/src" \
	    --consumers 2 --id 1 2> src.err
	bg op ds-op --builtin count --id 2 --listen "ipc://$PWD/op" \
	    --consumers 3,4 --part hash:3,4 --pull "least:1@ipc://$PWD/src" \
	    2> op.err
	bg s0 ds-sink --id 3 --pull "least:2@ipc://$PWD/op" > got0 2> s0.err
	bg s1 ds-sink --id 4 --pull "least:2@ipc://$PWD/op" > got1 2> s1.err
	exited src 0
	exited op 0
	exited s0 0
	exited s1 0
	[ -s got0 ] && [ -s got1 ]
	sort got0 got1 | cmp - want
	cut -f1 got0 | sort -u > keys0
	cut -f1 got1 | sort -u > keys1
	[ -z "$(comm -12 keys0 keys1)" ]
}

@test "instance: ds-op merges two sources pulled through two --pull" {
	count_input 5000 a
	count_input 3000 b
	bg s1 ds-source --file a --key-field 1 --listen "ipc://$PWD/s1" \
	    --consumers 3 --id 1 2> s1.err
	bg s2 ds-source --file b --key-field 1 --listen "ipc://$PWD/s2" \
	    --consumers 3 --id 2 2> s2.err
	bg op ds-op --builtin count --id 3 --listen "ipc://$PWD/op" \
	    --consumers 4 --pull "least:1@ipc://$PWD/s1" \
	    --pull "most:2@ipc://$PWD/s2" 2> op.err
	bg sink ds-sink --id 4 --pull "least:3@ipc://$PWD/op" > got \
	    2> sink.err
	exited s1 0
	exited s2 0
	exited op 0
	exited sink 0
	cat a b > ab
	run -0 ds-verify ab got
}

# Start source -> count -> sink with state in st/; the sink writes into a
# fifo of which the test has read $1 bytes, so the chain cannot finish.
# Extra ds-op options in OPX, edge modes in SRCMODE / OPMODE.
start_blocked_chain() {
	count_input 200000 in
	mkdir -p st
	mkfifo out.fifo
	bg src ds-source --bundle 16 --file in --key-field 1 \
	    --listen "ipc://$PWD/src" --consumers 2 --id 1 --state st \
	    --name src 2> src.err
	ds-sink --id 3 --pull "least:2@ipc://$PWD/op" --state st \
	    --name sink > out.fifo 2> sink.err 3>&- &
	SINK=$!
	PIDS+=("$SINK")
	exec 8< out.fifo
	ds-op --builtin count --id 2 --listen "ipc://$PWD/op" --consumers 3 \
	    --pull "${SRCMODE:-least}:1@ipc://$PWD/src" --state st --name op \
	    ${OPX:-} 2> op1.err 3>&- 8<&- &
	OP=$!
	PIDS+=("$OP")
	head -c "$1" <&8 > got
	[ "$(wc -c < got)" = "$1" ]
}

@test "instance: SIGKILL of ds-op mid-stream, restart with --epoch 2: every count at least once" {
	start_blocked_chain 300000
	kill -KILL "$OP"
	reap "$OP" 137
	bg op ds-op --builtin count --id 2 --epoch 2 \
	    --listen "ipc://$PWD/op" --consumers 3 \
	    --pull "least:1@ipc://$PWD/src" --state st --name op -v 2> op.err
	cat <&8 >> got
	exited op 0
	exited src 0
	reap "$SINK" 0
	grep -q "recovered mark" op.err
	run -0 ds-verify -m least in got
}

@test "instance: ds-op restarted with --max-keys below its recovered keys stops (70) naming the count" {
	count_input 2000 in
	mkdir st
	bg src ds-source --file in --key-field 1 --listen "ipc://$PWD/src" \
	    --consumers 2 --id 1 --state st --name src 2> src.err
	bg op ds-op --builtin count --id 2 --listen "ipc://$PWD/op" \
	    --consumers 3 --pull "least:1@ipc://$PWD/src" --state st \
	    --name op 2> op.err
	bg sink ds-sink --id 3 --pull "least:2@ipc://$PWD/op" --state st \
	    --name sink --file got 2> sink.err
	exited src 0
	exited op 0
	exited sink 0
	bg op2 ds-op --builtin count --id 2 --epoch 2 --max-keys 10 \
	    --listen "ipc://$PWD/op" --consumers 3 \
	    --pull "least:1@ipc://$PWD/src" --state st --name op 2> op2.err
	exited op2 70
	grep -q '^ds-op: fatal: the recovered state holds 97 keys, over --max-keys 10' op2.err
}

@test "instance: SIGKILL of an at-most-once ds-op: no count twice after the restart" {
	SRCMODE=most OPX="--once most" start_blocked_chain 300000
	kill -KILL "$OP"
	reap "$OP" 137
	bg op ds-op --builtin count --id 2 --epoch 2 --once most \
	    --listen "ipc://$PWD/op" --consumers 3 \
	    --pull "most:1@ipc://$PWD/src" --state st --name op 2> op.err
	cat <&8 >> got
	exited op 0
	exited src 0
	reap "$SINK" 0
	run -0 ds-verify -m most in got
}

@test "instance: SIGKILL of ds-source mid-stream, restart with --epoch 2 resumes from its state log" {
	count_input 200000 in
	mkdir st
	mkfifo out.fifo
	ds-source --bundle 16 --file in --key-field 1 \
	    --listen "ipc://$PWD/src" --consumers 2 --id 1 --state st \
	    --name src 2> src1.err 3>&- &
	local src=$!
	PIDS+=("$src")
	ds-sink --id 2 --pull "least:1@ipc://$PWD/src" --state st \
	    --name sink --format '%s %p' > out.fifo 2> sink.err 3>&- &
	local sink=$!
	PIDS+=("$sink")
	exec 8< out.fifo
	# Past the first reply (65536 lines, acked), not near the end.
	head -c 2500000 <&8 > got
	kill -KILL "$src"
	reap "$src" 137
	bg src ds-source --bundle 16 --file in --key-field 1 --epoch 2 \
	    --listen "ipc://$PWD/src" --consumers 2 --id 1 --state st \
	    --name src -v 2> src.err
	cat <&8 >> got
	exited src 0
	reap "$sink" 0
	grep -q "resuming in at offset" src.err
	# Every line at least once, with its own line number as seq.
	run -0 sh -c "awk '{ print \$1, \$2, \$3 }' got | sort -u | wc -l"
	[ "$output" = 200000 ]
	run -0 sh -c "awk '{ print \$1 }' got | sort -un | wc -l"
	[ "$output" = 200000 ]
	run -0 sh -c "awk '\$1 != \$3' got | wc -l"
	[ "$output" = 0 ]
}

@test "instance: SIGKILL of ds-sink, restart with --epoch 2 appends to --file and loses nothing" {
	mkfifo in
	mkdir st
	ds-source --id 1 --listen "ipc://$PWD/src" --consumers 2 --linger 0 \
	    < in 2> src.err 3>&- &
	local src=$!
	PIDS+=("$src")
	exec 7> in
	ds-sink --id 2 --pull "least:1@ipc://$PWD/src" --state st --name k \
	    --file got --format '%s' 2> sink1.err 3>&- 7>&- &
	local sink=$!
	PIDS+=("$sink")
	seq 1 1000 >&7
	wait_for '[ "$(wc -l < got)" -ge 1000 ]' 10
	kill -KILL "$sink"
	reap "$sink" 137
	bg sink ds-sink --id 2 --epoch 2 --pull "least:1@ipc://$PWD/src" \
	    --state st --name k --file got --format '%s' 2> sink.err
	seq 1001 2000 >&7
	exec 7>&-
	exited sink 0
	reap "$src" 0
	run -0 sh -c 'sort -un got | wc -l'
	[ "$output" = 2000 ]
	[ "$(head -1 got)" = 1 ]
}

@test "instance: --ended producers are over at once: a sink whose only producer ended exits 0" {
	# The producer is not running at all: without --ended the sink
	# would wait for it forever.
	bg sink timeout 20 ds-sink --id 2 --pull "least:1@ipc://$PWD/gone" \
	    --ended 1 --file out
	exited sink 0
	[ -f out ] && [ ! -s out ]
	run -64 ds-sink --id 2 --pull "least:1@ipc://$PWD/gone" --ended 0
}

# Exactly-once by hand: ds-journal, then source -> count -> sink, all
# --once exactly; $1 (src, op, sink or none) is SIGKILLed once the sink's
# file has grown past $2 bytes, and started again with epoch 2.
exactly_chain() {
	local kill=$1 at=$2
	ex_setup
	if [ "$kill" != none ]; then
		wait_for "[ \$(stat -c %s got 2>/dev/null || echo 0) -gt $at ]"
		kill -KILL "$(cat "pid.$kill")"
		wait_for "[ -s rc.$kill ]"
		mv "rc.$kill" "rc.$kill.1"
		ex_start "$kill" 2
	fi
	exited src 0 60
	exited op 0 60
	exited sink 0 60
	cmp got want
}

# The pipe-mode result in want, then ds-journal and the chain at epoch 1.
ex_setup() {
	count_input 300000 in
	ds-source --file in --key-field 1 | ds-op --builtin count |
	    ds-sink > want
	mkdir -p jdir
	bg journal ds-journal --dir jdir --listen "ipc://$PWD/jr" \
	    2> journal.err
	ex_start src 1
	ex_start op 1
	ex_start sink 1
}

ex_start() {	# KIND EPOCH [NAME]
	local n=${3:-$1} x=(--once exactly --journal "ipc://$PWD/jr"
	    --epoch "$2")
	case $1 in
	src)	bg "$n" ds-source -v --file in --key-field 1 --id 1 \
		    --listen "ipc://$PWD/src" --consumers 2 "${x[@]}" \
		    ${SRC_RATE:+--rate "$SRC_RATE"} 2>> src.err ;;
	op)	local opc=(--builtin count)
		[ -z "${OPCMD+set}" ] || opc=("${OPCMD[@]}")
		bg "$n" ds-op -v "${opc[@]}" --id 2 \
		    --listen "ipc://$PWD/op" --consumers 3 \
		    --pull "exactly:1@ipc://$PWD/src" "${x[@]}" 2>> op.err ;;
	sink)	bg "$n" ds-sink -v --id 3 --pull "exactly:2@ipc://$PWD/op" \
		    --file got "${x[@]}" 2>> sink.err ;;
	esac
}

@test "instance: exactly-once chain with ds-journal equals pipe mode" {
	exactly_chain none 0
}

@test "instance: exactly-once: SIGKILL of ds-op mid-stream, restart: output identical" {
	exactly_chain op 200000
	grep -q "recovered mark" op.err
}

@test "instance: exactly-once: SIGKILL of ds-sink mid-stream, restart cuts the file back: output identical" {
	exactly_chain sink 200000
	grep -q "recovered mark" sink.err
}

@test "instance: exactly-once: SIGKILL of ds-source mid-stream, restart: output identical" {
	# Paced, so that the kill finds it mid-stream: unpaced, it may have
	# read its whole file before the sink wrote 100 000 bytes, and its
	# consumer finish while the restart replays what was not acked yet,
	# which then waits for that consumer forever (ds-master does not
	# restart a producer whose consumers all finished).
	SRC_RATE=100000 exactly_chain src 100000
	grep -q "recovered mark" src.err
}

@test "instance: exactly-once: a zombie ds-op (SIGSTOP, a new epoch starts, SIGCONT) is fenced and changes nothing" {
	ex_setup
	wait_for "[ \$(stat -c %s got 2>/dev/null || echo 0) -gt 100000 ]"
	kill -STOP "$(cat pid.op)"
	ex_start op 2 op2
	wait_for "grep -q 'recovered mark' op.err" 20
	kill -CONT "$(cat pid.op)"
	# The zombie learns from the journal or its peers that it is
	# fenced, and stops (75) without writing anything.
	exited op 75 30
	grep -q "fenced" op.err
	exited src 0 60
	exited op2 0 60
	exited sink 0 60
	cmp got want
}

@test "instance: exactly-once: timers pending at a SIGKILL of ds-op are recovered from the journal and fire" {
	local J="ipc://$PWD/jr" x=(--once exactly --journal "ipc://$PWD/jr")
	mkdir -p jdir
	bg journal ds-journal --dir jdir --listen "$J" 2> journal.err
	mkfifo fin
	exec 8<> fin
	# (A background job's stdin is /dev/null unless redirected in it.)
	bg src sh -c 'exec ds-source --key-field 1 --id 1 --listen "$1" \
	    --consumers 2 --once exactly --journal "$2" < fin' sh \
	    "ipc://$PWD/src" "$J" 2> src.err
	# A burst per key ends after 3 s of quiet: the op is killed before.
	bg op ds-op --plugin "$TOP/examples/plugins/idle.so" 3000 --id 2 \
	    --listen "ipc://$PWD/op" --consumers 3 \
	    --pull "exactly:1@ipc://$PWD/src" "${x[@]}" 2> op.err
	bg sink ds-sink --id 3 --pull "exactly:2@ipc://$PWD/op" --file got \
	    "${x[@]}" 2> sink.err
	printf 'a 1\na 2\nb 3\na 4\n' >&8
	# Both timers are durable in the op's journal state.
	wait_for "[ \$(ds-jctl read '$J' 2 1 | grep -c '^timer ') -ge 2 ]" 10
	kill -KILL "$(cat pid.op)"
	wait_for "[ -s rc.op ]"
	[ ! -s got ]
	bg op2 ds-op --plugin "$TOP/examples/plugins/idle.so" 3000 --id 2 \
	    --epoch 2 --listen "ipc://$PWD/op" --consumers 3 \
	    --pull "exactly:1@ipc://$PWD/src" "${x[@]}" 2>> op.err
	wait_for "[ \$(wc -l < got) -ge 2 ]" 20
	run -0 sort got
	[ "${lines[0]}" = "$(printf 'a\t3')" ]
	[ "${lines[1]}" = "$(printf 'b\t1')" ]
	exec 8>&-
	exited src 0 30
	exited op2 0 30
	exited sink 0 30
}

# Exactly-once into ds-sink --tc: source -> count -> sink as in
# exactly_chain, over 300000 lines and 50000 keys so that db.tch grows
# while the chain runs; with $1 = sink the sink is SIGKILLed once it has
# journaled $2 units with tuples (its -vv "unit N: M tuples") and started
# again with epoch 2.  The database must hold what pipe mode puts.
tc_chain() {
	local kill=$1 at=$2
	command -v tchmgr > /dev/null || skip "tchmgr (tokyocabinet-bin) missing"
	awk 'BEGIN { for (i = 1; i <= 300000; i++)
	    printf "user-%05d %d\n", i % 50000, i }' > in
	ds-source --file in --key-field 1 | ds-op --builtin count |
	    ds-sink --tc want.tch
	mkdir -p jdir
	bg journal ds-journal --dir jdir --listen "ipc://$PWD/jr" \
	    2> journal.err
	ex_start src 1
	ex_start op 1
	tc_sink 1
	if [ "$kill" = sink ]; then
		wait_for "[ \$(grep -c ': unit [0-9]*: [1-9][0-9]* tuples' \
		    sink.err) -ge $at ]" 30
		# Kill once such a unit is durable: a restart then resumes.
		local u
		u=$(sed -n 's/.*: unit \([0-9]*\): [1-9][0-9]* tuples.*/\1/p' \
		    sink.err | sed -n "${at}p")
		wait_for "durable_from $u" 30
		kill -KILL "$(cat pid.sink)"
		wait_for "[ -s rc.sink ]"
		mv rc.sink rc.sink.1
		tc_sink 2
	fi
	exited src 0 60
	exited op 0 60
	exited sink 0 60
	tchmgr list -pv want.tch | LC_ALL=C sort > want
	tchmgr list -pv db.tch | LC_ALL=C sort > got
	[ "$(wc -l < want)" = 50000 ]
	cmp got want
}

# durable_from U: sink.err shows a unit >= U durable.
durable_from() {
	sed -n 's/.*: unit \([0-9]*\) durable.*/\1/p' sink.err |
	    awk -v u="$1" '$1 >= u { f = 1 } END { exit !f }'
}

tc_sink() {	# EPOCH
	bg sink ds-sink -vv --id 3 --pull "exactly:2@ipc://$PWD/op" \
	    --tc db.tch --once exactly --journal "ipc://$PWD/jr" \
	    --epoch "$1" 2>> sink.err
}

@test "instance: exactly-once into --tc equals pipe mode" {
	tc_chain none 0
}

@test "instance: exactly-once: SIGKILL of ds-sink --tc mid-stream, restart re-puts from the frontier: same database" {
	tc_chain sink 1
	[ "$(cat rc.sink.1)" = 137 ]
	grep -q "recovered mark" sink.err
	# The restart resumed from a journaled frontier, not from the start.
	local n
	n=$(sed -n 's/.*end of input: \([0-9]*\) tuples$/\1/p' sink.err)
	[ "$n" -gt 0 ] && [ "$n" -lt 300000 ]
}

@test "instance: exactly-once with the journal's disk full: input is held with a warning, nothing is lost, the job ends once there is room (tmpfs)" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to mount a tmpfs"
	unshare -m true 2>/dev/null || skip "no private mount namespace (unshare -m)"
	count_input 50000 in
	ds-source --file in --key-field 1 | ds-op --builtin count |
	    ds-sink > want
	mkdir -p jdir
	cat > full.sh <<-EOF
	set -e
	J="ipc://$PWD/jr" x="--once exactly --journal ipc://$PWD/jr"
	mount -t tmpfs -o size=16m,mode=0700 tmpfs jdir
	# Leave less than --min-free: every write is refused (FULL).
	dd if=/dev/zero of=jdir/fill bs=1M count=13 2>/dev/null
	ds-journal --dir jdir --listen "\$J" --min-free 4M 2> journal.err &
	jp=\$!
	ds-source --file in --key-field 1 --id 1 --listen "ipc://$PWD/src" \
	    --consumers 2 \$x 2> src.err &
	sp=\$!
	ds-op --builtin count --id 2 --listen "ipc://$PWD/op" --consumers 3 \
	    --pull "exactly:1@ipc://$PWD/src" \$x 2> op.err &
	op=\$!
	ds-sink --id 3 --pull "exactly:2@ipc://$PWD/op" --file got \$x \
	    2> sink.err &
	kp=\$!
	trap 'kill \$jp \$sp \$op \$kp 2>/dev/null || true' EXIT
	i=0
	until grep -q "short of disk space" src.err; do
		i=\$((i + 1)); [ \$i -lt 400 ] || exit 9; sleep 0.05
	done
	rm jdir/fill
	wait \$sp; wait \$op; wait \$kp
	echo finished
	EOF
	run -0 unshare -m sh full.sh
	echo "$output"
	[ "${lines[-1]}" = finished ]
	grep -q "refusing writes" journal.err
	cmp got want
}

@test "instance: exactly-once with an --exec operator (count.awk): SIGKILL of ds-op mid-stream, restart: output identical" {
	OPCMD=(--exec "awk -f $TOP/examples/exec/count.awk")
	exactly_chain op 200000
	grep -q "recovered mark" op.err
}

@test "instance: exactly-once with a C plugin (count.so): SIGKILL of ds-op mid-stream, restart: output identical" {
	OPCMD=(--plugin "$TOP/examples/plugins/count.so")
	exactly_chain op 200000
	grep -q "recovered mark" op.err
}
