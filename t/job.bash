# t/job.bash: a real job under ds-master for the suites that attack one
# (auth.bats, epochs.bats): teardown, start_master, expect_exit, and the
# routed word count.  Loaded after helper.bash; T is the test's directory
# and R, if set, the run directory (default $T/run).

teardown() {
	local p
	pids_teardown
	for p in "${PIDS[@]}"; do
		wait_for "! kill -0 $p 2>/dev/null" 10 || kill -9 "$p" 2>/dev/null || true
	done
}

start_master() {
	ds-master run "$@" 2> "$T/m.log" 3>&- &
	MASTER=$!
	PIDS+=("$MASTER")
}

expect_exit() {	# $1: status, $2: seconds
	local rc=0
	wait_for "! kill -0 $MASTER 2>/dev/null" "${2:-30}" || return 1
	wait "$MASTER" || rc=$?
	[ "$rc" -eq "$1" ] || { cat "$T/m.log" >&2; return 1; }
}

# words (ds-source on $1) -> count (hash, parallel 2, routed) -> out.
# ids: words.0 65536, count.I 131072+I, out.0 196608, the router of
# edge 0 (words -> count) 2^40 + 1, the journal 2^41.
wordcount() {	# $1 input, $2 once
	cat > "$T/wc.topo" <<EOF
[topology]
run = ${R:-$T/run}
state = $T/state
keepalive = 2s
once = $2
routers = yes
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
