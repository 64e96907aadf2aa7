#!/usr/bin/env bats
# t/pipeline.bats: whole pipelines, ds-source | ds-op | ds-sink, checked
# against what awk computes from the same input.

load helper

teardown() { pids_teardown; }

setup() {
	seq 1 100000 | awk '{print "k" $1 % 97, $1}' > "$BATS_TEST_TMPDIR/in"
}

# The keyed count is right: 100000 lines, and for every key with n inputs
# its lines carry exactly 1..n, in order.
check_counts() {	# $1: file of "key<TAB>count" lines
	awk -F '\t' '
		FNR == NR { split($0, f, " "); want[f[1]]++; next }
		{ n++; if ($2 != ++got[$1]) { print "key " $1 ": got " $2 \
		    ", want " got[$1]; bad = 1 } }
		END {
			if (n != 100000) { print "lines: " n; bad = 1 }
			for (k in want) if (got[k] != want[k]) {
				print "key " k ": " got[k] " of " want[k]; bad = 1 }
			exit bad
		}' "$BATS_TEST_TMPDIR/in" "$1"
}

@test "pipeline: built-in count gives every key exactly 1..n" {
	ds-source --key-field 1 < "$BATS_TEST_TMPDIR/in" |
	    ds-op --builtin count | ds-sink > "$BATS_TEST_TMPDIR/out"
	run -0 check_counts "$BATS_TEST_TMPDIR/out"
}

@test "pipeline: count as C plugin, awk, sh and Python equal the built-in" {
	cd "$TOP"
	ds-source --key-field 1 < "$BATS_TEST_TMPDIR/in" |
	    ds-op --builtin count | ds-sink > "$BATS_TEST_TMPDIR/unsorted"
	run -0 check_counts "$BATS_TEST_TMPDIR/unsorted"
	sort "$BATS_TEST_TMPDIR/unsorted" > "$BATS_TEST_TMPDIR/builtin"
	for op in "--plugin examples/plugins/count.so" \
	    "--exec 'awk -f examples/exec/count.awk'" \
	    "--exec 'python3 examples/exec/count.py'"; do
		eval "ds-source --key-field 1 < '$BATS_TEST_TMPDIR/in' |
		    ds-op $op | ds-sink" | sort > "$BATS_TEST_TMPDIR/other"
		run -0 cmp "$BATS_TEST_TMPDIR/builtin" "$BATS_TEST_TMPDIR/other"
	done
}

@test "pipeline: count in POSIX sh equals the built-in (5000 tuples)" {
	cd "$TOP"
	head -5000 "$BATS_TEST_TMPDIR/in" > "$BATS_TEST_TMPDIR/small"
	ds-source --key-field 1 < "$BATS_TEST_TMPDIR/small" |
	    ds-op --builtin count | ds-sink | sort > "$BATS_TEST_TMPDIR/builtin"
	ds-source --key-field 1 < "$BATS_TEST_TMPDIR/small" |
	    ds-op --exec 'sh examples/exec/count.sh' | ds-sink |
	    sort > "$BATS_TEST_TMPDIR/sh"
	run -0 cmp "$BATS_TEST_TMPDIR/builtin" "$BATS_TEST_TMPDIR/sh"
}

@test "pipeline: identity through two ops keeps lines, keys and order" {
	ds-source --key-field 1 < "$BATS_TEST_TMPDIR/in" |
	    ds-op --builtin identity | ds-op --builtin identity |
	    ds-sink --format '%p' > "$BATS_TEST_TMPDIR/out"
	run -0 cmp "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/out"
}

@test "pipeline: topk agrees with sort | uniq -c" {
	ds-source --key-field 1 < "$BATS_TEST_TMPDIR/in" |
	    ds-op --builtin topk 5 | ds-sink > "$BATS_TEST_TMPDIR/out"
	awk '{print $1}' "$BATS_TEST_TMPDIR/in" | sort | uniq -c |
	    awk '{print $2 "\t" $1}' | sort -t "$(printf '\t')" -k2,2nr -k1,1 |
	    head -5 > "$BATS_TEST_TMPDIR/want"
	run -0 diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/out"
}

@test "pipeline: a corrupt frame in the middle stops ds-sink with 65 and no partial bundle" {
	ds-source --key-field 1 --bundle 10 < "$BATS_TEST_TMPDIR/in" > "$BATS_TEST_TMPDIR/f"
	# flip one byte far into the stream
	python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2]^=0x40; open(p,"wb").write(b)' "$BATS_TEST_TMPDIR/f"
	run -65 --separate-stderr ds-sink < "$BATS_TEST_TMPDIR/f"
	[[ $stderr == *"bad frame at offset"* ]]
	# every printed line is a whole tuple of a whole bundle: a multiple of 10
	n=$(printf '%s\n' "$output" | grep -c .)
	[ $((n % 10)) -eq 0 ]
	[ "$n" -lt 100000 ]
}

# ds-source < fifo in | ds-op --builtin count | ds-sink > out, each stage
# started on its own (fifos a and b between them) so that each has a pid
# and an exit status; fd 7 writes the input.  Sets SRC, OP, SINK.
start_stages() {
	cd "$BATS_TEST_TMPDIR"
	mkfifo feed a b
	ds-source --key-field 1 < feed > a 2> src.err 3>&- &
	SRC=$!
	PIDS+=("$SRC")
	ds-op --builtin count < a > b 2> op.err 3>&- &
	OP=$!
	PIDS+=("$OP")
	ds-sink < b > out 2> sink.err 3>&- &
	SINK=$!
	PIDS+=("$SINK")
	exec 7> feed
}

# Wait for background pid $1; its exit status in RC.
wait_rc() {
	RC=0
	wait "$1" || RC=$?
}

@test "pipeline: ds-source SIGKILLed mid-stream: ds-op and ds-sink exit 65 (stream cut), not 0" {
	PIDS=()
	start_stages
	head -1000 "$BATS_TEST_TMPDIR/in" >&7
	# Everything written so far has gone through all three.
	wait_for '[ "$(wc -l < out)" -ge 1000 ]' 20
	kill -KILL "$SRC"
	wait_rc "$SRC"; [ "$RC" = 137 ]
	wait_rc "$OP"; [ "$RC" = 65 ]
	wait_rc "$SINK"; [ "$RC" = 65 ]
	exec 7>&-
	[[ $(cat op.err) == "ds-op: fatal: stdin: stream cut: end of input without an END frame at offset "*", after 1000 tuples (last seq 1000)" ]] ||
	    { cat op.err; false; }
	[[ $(cat sink.err) == "ds-sink: fatal: stdin: stream cut: end of input without an END frame at offset "*", after 1000 tuples (last seq 1000)" ]] ||
	    { cat sink.err; false; }
	# What came is there, and is all of it.
	[ "$(wc -l < out)" = 1000 ]
}

@test "pipeline: the same three stages ended cleanly exit 0 with the whole result" {
	PIDS=()
	start_stages
	head -1000 "$BATS_TEST_TMPDIR/in" >&7
	wait_for '[ "$(wc -l < out)" -ge 1000 ]' 20
	tail -n +1001 "$BATS_TEST_TMPDIR/in" >&7
	exec 7>&-
	wait_rc "$SRC"; [ "$RC" = 0 ]
	wait_rc "$OP"; [ "$RC" = 0 ]
	wait_rc "$SINK"; [ "$RC" = 0 ]
	[ ! -s src.err ] && [ ! -s op.err ] && [ ! -s sink.err ]
	run -0 check_counts out
}

@test "pipeline: ds-source stopped by SIGTERM writes no END: ds-op and ds-sink exit 65" {
	PIDS=()
	start_stages
	head -1000 "$BATS_TEST_TMPDIR/in" >&7
	wait_for '[ "$(wc -l < out)" -ge 1000 ]' 20
	kill -TERM "$SRC"
	wait_rc "$SRC"; [ "$RC" = 0 ]
	wait_rc "$OP"; [ "$RC" = 65 ]
	wait_rc "$SINK"; [ "$RC" = 65 ]
	exec 7>&-
	grep -q '^ds-sink: fatal: stdin: stream cut: .*after 1000 tuples (last seq 1000)$' sink.err
}

@test "pipeline: ds-op SIGKILLed mid-stream: ds-sink exits 65 (stream cut)" {
	PIDS=()
	start_stages
	head -1000 "$BATS_TEST_TMPDIR/in" >&7
	wait_for '[ "$(wc -l < out)" -ge 1000 ]' 20
	kill -KILL "$OP"
	wait_rc "$OP"; [ "$RC" = 137 ]
	wait_rc "$SINK"; [ "$RC" = 65 ]
	exec 7>&-
	grep -q '^ds-sink: fatal: stdin: stream cut: end of input without an END frame at offset [0-9]*, after 1000 tuples (last seq 1000)$' sink.err
	# ds-source then ends with no reader left for its END: 74.
	wait_rc "$SRC"; [ "$RC" = 74 ]
}
