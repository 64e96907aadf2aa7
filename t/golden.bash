# t/golden.bash: the golden keyed count under ds-master and its chaos
# helpers, shared by t/topology.bats and t/chaos/*.bats.  Needs $T (the
# test's directory) and PIDS (see pids_setup in t/helper.bash).

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
