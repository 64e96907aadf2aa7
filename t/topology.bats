#!/usr/bin/env bats
# t/topology.bats: whole jobs under ds-master (issue 3 acceptance): the
# word count example, the golden keyed count at-least-once under SIGKILLs,
# and a SIGSTOPped zombie.  The at-most-once chaos run is t/chaos/most.bats
# (`make chaos`).

load helper
load golden
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

@test "topology: the word count example equals the pipe-mode result" {
	cd "$TOP"
	run ds-master run examples/wordcount/wordcount.topo
	[ "$status" -eq 0 ]
	printf '%s\n' "$output" | grep -v '^ds-' | sort > "$T/topo.out"
	# The same command lines, as a pipeline, where their paths lead: in
	# the topology's directory.
	cd examples/wordcount
	eval "$(awk '/^run = ds-source/ { sub(/^run = /, ""); print; exit }' \
	    wordcount.topo)" |
	    eval "$(awk '/^\[node split\]/ { f = 1 } f && /^run = / {
		sub(/^run = /, ""); print; exit }' wordcount.topo)" |
	    ds-op --builtin count | ds-sink | sort > "$T/pipe.out"
	[ -s "$T/pipe.out" ]
	cmp "$T/topo.out" "$T/pipe.out"
}

@test "topology: golden count, at-least-once, ds-op and ds-router SIGKILLed every 0.5-2 s" {
	golden_topo least "routers = yes"
	run_chaos least '^(count[.]|src-count$)'
	run ds-verify -m least "$T/in.all" "$T/out"
	echo "$output" >&2
	[ "$status" -eq 0 ]
}

@test "topology: golden count, at-most-once, ds-op and ds-router SIGKILLed every 0.5-2 s: no count twice" {
	golden_topo most "routers = yes"
	run_chaos most '^(count[.]|src-count$)'
	run ds-verify -m most "$T/in.all" "$T/out"
	echo "$output" >&2
	[ "$status" -eq 0 ]
}

@test "topology: golden count without a router (the source partitions), at-least-once, ds-op and ds-sink SIGKILLed every 0.5-2 s" {
	golden_topo least "routers = no"
	run_chaos least '^(count[.]|sink[.])'
	run ds-verify -m least "$T/in.all" "$T/out"
	echo "$output" >&2
	[ "$status" -eq 0 ]
}

@test "topology: golden count without a router, at-most-once, ds-op and ds-sink SIGKILLed every 0.5-2 s: no count twice" {
	golden_topo most "routers = no"
	run_chaos most '^(count[.]|sink[.])'
	run ds-verify -m most "$T/in.all" "$T/out"
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

@test "topology: every example topology runs and exits 0; exactly.topo equals the pipe-mode count" {
	local f
	# A copy, so that their state directories land in the test's
	# directory; run from elsewhere, as they may be.
	mkdir "$T/top" "$T/elsewhere"
	cp -r "$TOP/examples" "$T/top/examples"
	rm -rf "$T"/top/examples/*/*.state
	for f in "$T"/top/examples/topologies/*.topo; do
		sed -i "s|/tmp/dstream-exactly.out|$T/exactly.out|" "$f"
		(cd "$T/elsewhere" && timeout 60 ds-master run -q "$f" \
		    > "$T/out.$(basename "$f")") ||
		    { echo "$f failed" >&2; return 1; }
	done
	ds-source --file "$TOP/examples/wordcount/input.txt" --key-field 2 |
	    ds-op --builtin count | ds-sink | sort > "$T/want"
	sort "$T/exactly.out" | cmp - "$T/want"
}

@test "topology: tools/chaos, exactly-once, one seeded run: SIGKILLs of every process kind (ds-master too) and zombies, output exactly right" {
	# The short version of `make chaos` (50 seeds).
	run "$TOP/tools/chaos" -q -z -s 1 -m exactly -t 240 -d "$T/chaos"
	echo "$output" >&2
	[ "$status" -eq 0 ]
	[[ $output == *"verify=ok"* ]]
}

@test "topology: a sink with parallel 2 and one --file is refused (78); with %i each instance writes its own file, and their union is exactly the golden count" {
	golden_input 20000 100 20000 > "$T/in.all"
	cat > "$T/split.topo" <<TOPO
[topology]
once = exactly
keepalive = 2s
state = $T/state
run = $T/run

[node src]
run = ds-source --file $T/in.all --key-field 1

[node count]
run = ds-op --builtin count
input = src:hash
parallel = 2

[node sink]
run = ds-sink --file $T/out
input = count
parallel = 2
TOPO
	run -78 --separate-stderr ds-master run "$T/split.topo"
	[[ $stderr == *"split.topo:16: sink: sink.0 and sink.1 both write "*"/out: parallel = 2 needs %i"* ]]
	[ ! -e "$T/out" ]
	[ ! -e "$T/state" ]
	sed -i "s|--file $T/out|--file $T/out.%i|" "$T/split.topo"
	run -0 timeout 120 ds-master run -q "$T/split.topo"
	[ -s "$T/out.0" ]
	[ -s "$T/out.1" ]
	[ ! -e "$T/out.%i" ]
	cat "$T/out.0" "$T/out.1" > "$T/out"
	run ds-verify -m exactly "$T/in.all" "$T/out"
	echo "$output" >&2
	[ "$status" -eq 0 ]
}

@test "topology: a slow --exec operator keeps its lease (keepalive 2s) while it works for longer" {
	# 6 000 tuples, 0.3 s of sleep every 500: about 3.6 s of work, more
	# than the keepalive, mostly inside one pulled reply.
	seq 1 6000 | awk '{ print "k" $1 % 10, $1 }' > "$T/in"
	cat > "$T/slow.awk" <<'AWK'
BEGIN { FS = OFS = "\t" }
$1 == "T" {
	if (++n % 500 == 0) system("sleep 0.3")
	print "S", $3 + 1; print "E", $2, $3 + 1; print "D"; fflush(); next
}
AWK
	cat > "$T/slow.topo" <<TOPO
[topology]
name = slow
keepalive = 2s
state = $T/state
run = $T/run

[node src]
run = ds-source --file $T/in --key-field 1

[node slow]
run = ds-op --exec 'awk -f $T/slow.awk'
input = src:hash

[node sink]
run = ds-sink --file $T/out
input = slow
TOPO
	run -0 --separate-stderr timeout 60 ds-master run "$T/slow.topo"
	[[ $stderr != *"lease lost"* ]]
	[[ $stderr != *"died"* ]]
	ds-source --file "$T/in" --key-field 1 | ds-op --builtin count |
	    ds-sink | sort > "$T/want"
	sort "$T/out" | cmp - "$T/want"
}

@test "topology: count --final gives one line per key with its total, also when an instance is SIGKILLed mid-run (least, exactly)" {
	local once master victim rc
	# 40 000 lines over about 4 s, 500 keys; the totals computed apart.
	golden_input 40000 500 1000 > "$T/in.all"
	awk '{ n[$1]++ } END { for (k in n) print k "\t" n[k] }' "$T/in.all" |
	    sort > "$T/want"
	[ "$(wc -l < "$T/want")" -eq 500 ]
	for once in least exactly; do
		rm -rf "$T/state" "$T/run" "$T/out"
		cat > "$T/final.topo" <<-TOPO
		[topology]
		name = final
		once = $once
		keepalive = 2s
		state = $T/state
		run = $T/run

		[node src]
		run = ds-source --key-field 1

		[node count]
		run = ds-op --builtin count --final
		input = src:hash
		parallel = 2

		[node sink]
		run = ds-sink --file $T/out
		input = count
		TOPO
		golden_input 40000 500 1000 |
		    ds-master run "$T/final.topo" 2> "$T/master.err" &
		master=$!
		PIDS+=("$master")
		wait_for "[ -S '$T/run/master' ]" 20
		wait_for "[ -n \"\$(pids_of '^count[.]0$')\" ]" 20
		sleep 1		# a quarter of the input in
		victim=$(pids_of '^count[.]0$')
		kill -KILL "$victim"
		rc=0
		wait "$master" || rc=$?
		[ "$rc" -eq 0 ] || { tail -20 "$T/master.err" >&2; return 1; }
		grep -q "count[.]0 died (signal 9) pid=$victim .*restarting" "$T/master.err"
		# One line per key, each with the key's total: the state the
		# restarted instance recovered went on counting.
		cut -f1 "$T/out" | sort | uniq -d > "$T/twice"
		[ ! -s "$T/twice" ] || { echo "$once: keys twice" >&2; return 1; }
		sort "$T/out" | cmp - "$T/want" || { echo "$once: wrong totals" >&2; return 1; }
	done
}
