#!/usr/bin/env bats
# t/tools-chaos.bats: tools/chaos, the fault-injection harness (issue 4):
# its options, usage errors and exit codes, and one short run.  The long
# seeded runs are `make chaos`.

load helper
BATS_TEST_TIMEOUT=60

setup() {
	pids_setup
	T=$BATS_TEST_TMPDIR
}

teardown() {
	pids_teardown
}

@test "chaos: --help and -h print the usage on stdout and exit 0" {
	run -0 --separate-stderr chaos --help
	[[ ${lines[0]} == "usage: chaos "* ]]
	[[ $output == *"-K KINDS"* ]]
	[ -z "$stderr" ]
	run -0 chaos -h
	[[ ${lines[0]} == "usage: chaos "* ]]
}

@test "chaos: --help's usage equals the synopsis in its header comment" {
	local h c
	h=$(chaos --help | head -n 1 | sed 's/^usage: //')
	c=$(awk '/^#   chaos /, /^#$/' "$TOP/tools/chaos" | sed 's/^#//' |
	    tr -s ' \t\n' '   ' | sed 's/^ //; s/ $//')
	[ "$h" = "$c" ] || { printf 'help:    %s\ncomment: %s\n' "$h" "$c" >&2; false; }
}

@test "chaos: usage errors exit 64 with usage on stderr" {
	local bad
	for bad in "-x" "--frob" "-m twice" "-n" "-n 0" "-n 12x" "-p 0" \
	    "-p 1025" "-s 0" "-s 2147483647" "-t 0" "-r -1" "-K" "-K op,cpu" \
	    "-K ," "-R maybe" "-R" "-S 0" "-S 65" "-S 2x" "-S" "-K up" \
	    "-K op,up" "-O" "-O x" "-O 1001" "extra"; do
		run -64 --separate-stderr chaos -d "$T/w" $bad
		[[ $stderr == *"usage: chaos "* ]] || { echo "no usage for: $bad" >&2; false; }
	done
}

@test "chaos: a short run with ds-op kills passes (exit 0) and prints seed, schedule, summary" {
	run -0 --separate-stderr chaos -s 7 -n 2000 -k 100 -m least -r 1000 -K op -t 50 -d "$T/w"
	[ "${lines[0]}" = "chaos: seed 7, routers yes" ]
	grep -qx 'routers = yes' "$T/w/chaos.topo"
	[[ $output == *"chaos: schedule ("* ]]
	[[ ${lines[-1]} == "chaos: seed=7 routers=yes kills: "*"verify=ok"* ]]
	[[ ${lines[-1]} == *"replay: tools/chaos -s 7 -n 2000 -k 100 -p 2 -m least -R yes -r 1000 -K op"* ]]
	[ -s "$T/w/out" ]
	run -0 ds-verify -m least "$T/w/in" "$T/w/out"
}

@test "chaos: -K up needs -U (64)" {
	run -64 --separate-stderr chaos -K op,up -d "$T/w"
	[[ $stderr == *"chaos: -K: the kind up needs -U"* ]]
	[[ $stderr == *"usage: chaos "* ]]
}

@test "chaos: -U puts an identity ds-op upstream of the hash edge, -K up kills only those, output verified" {
	run -0 --separate-stderr chaos -U -s 7 -n 2000 -k 100 -m least -r 1000 -K up -t 50 -d "$T/w"
	[ "${lines[0]}" = "chaos: seed 7, routers yes, upstream op x 2" ]
	grep -qx '\[node up\]' "$T/w/chaos.topo"
	grep -qx 'run = ds-op --builtin identity' "$T/w/chaos.topo"
	grep -qx 'input = src:shuffle' "$T/w/chaos.topo"
	grep -qx 'input = up:hash' "$T/w/chaos.topo"
	grep -qx 'parallel = 2' "$T/w/chaos.topo"
	# every kill of the kind up hit an instance of up, and one at least
	[[ $output == *"kill up up."[0-9]*" pid="* ]]
	[[ $output != *"kill up count."* ]]
	[[ ${lines[-1]} == "chaos: seed=7 routers=yes kills: "*" op=0 "*" up="[1-9]*"verify=ok"* ]]
	[[ ${lines[-1]} == *"replay: tools/chaos -s 7 -n 2000 -k 100 -p 2 -m least -R yes -r 1000 -K up -U" ]]
	run -0 ds-verify -m least "$T/w/in" "$T/w/out"
	# -p 3: the upstream op has as many instances as the count
	run -0 --separate-stderr chaos -q -U -p 3 -s 5 -n 300 -k 10 -r 0 -K sink -d "$T/v"
	[ "$(grep -c '^parallel = 3$' "$T/v/chaos.topo")" -eq 2 ]
	[[ $output == *" up=0 "*"verify=ok"* ]]
}

@test "chaos: -S splits the input over source nodes merged by the next node" {
	run -0 --separate-stderr chaos -U -S 2 -s 5 -n 2000 -k 100 -m most -r 1000 -K up,op -t 50 -d "$T/w"
	[ "${lines[0]}" = "chaos: seed 5, routers yes, upstream op x 2, 2 sources" ]
	grep -qx '\[node src1\]' "$T/w/chaos.topo"
	grep -qx '\[node src2\]' "$T/w/chaos.topo"
	grep -qx "run = ds-source --rate 500 --file $T/w/in.1 --key-field 1" "$T/w/chaos.topo"
	grep -qx 'input = src1:shuffle' "$T/w/chaos.topo"
	grep -qx 'input = src2:shuffle' "$T/w/chaos.topo"
	[ "$(wc -l < "$T/w/in.1")" -eq 1000 ]
	cmp <(sort "$T/w/in") <(sort "$T/w/in.1" "$T/w/in.2")
	[[ ${lines[-1]} == "chaos: seed=5 routers=yes "*"verify=ok"* ]]
	[[ ${lines[-1]} == *"replay: tools/chaos -s 5 -n 2000 -k 100 -p 2 -m most -R yes -r 1000 -K up,op -S 2 -U" ]]
	# without -U the sources feed the count
	run -0 --separate-stderr chaos -q -S 3 -s 6 -n 300 -k 10 -r 0 -K sink -d "$T/v"
	[ "$(grep -c '^input = src[123]:hash$' "$T/v/chaos.topo")" -eq 3 ]
	[[ $output == "chaos: seed=6 routers=no "*"verify=ok"* ]]
}

@test "chaos: the same seed gives the same schedule" {
	run -0 chaos -s 99 -n 400 -k 10 -r 100 -K op,router,sink -z -t 40 -d "$T/a"
	local a=$output
	run -0 chaos -s 99 -n 400 -k 10 -r 100 -K op,router,sink -z -t 40 -d "$T/b"
	diff <(grep '^chaos:   +' <<<"$a") <(grep '^chaos:   +' <<<"$output")
	[ "$(grep -c '^chaos:   +' <<<"$a")" -ge 2 ]
	run -0 chaos -s 100 -n 400 -k 10 -r 100 -K op,router,sink -z -t 40 -d "$T/c"
	[ "$(grep '^chaos:   +' <<<"$a")" != "$(grep '^chaos:   +' <<<"$output")" ]
}

@test "chaos: -q prints only the summary line" {
	run -0 --separate-stderr chaos -q -s 5 -n 300 -k 10 -r 0 -K sink -d "$T/w"
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == "chaos: seed=5 routers=yes kills: "*"verify=ok"* ]]
}

@test "chaos: -R no runs the hash edge without a router, even seeds by default too" {
	run -0 --separate-stderr chaos -q -s 5 -R no -n 2000 -k 100 -r 1000 -K op,router -t 50 -d "$T/w"
	[[ $output == "chaos: seed=5 routers=no kills: source=0 op="*" router=0 "*"verify=ok"* ]]
	[[ $output == *"replay: tools/chaos -s 5 -n 2000 -k 100 -p 2 -m least -R no -r 1000 -K op,router"* ]]
	grep -qx 'routers = no' "$T/w/chaos.topo"
	run -0 --separate-stderr chaos -q -s 6 -n 300 -k 10 -r 0 -K sink -d "$T/v"
	[[ $output == "chaos: seed=6 routers=no "*"verify=ok"* ]]
}

@test "chaos: a job that does not finish in time exits 2 and keeps the work directory" {
	# 20 000 tuples at 2 000 a second take 10 s: a 2 s timeout ends it.
	run -2 --separate-stderr chaos -q -s 3 -n 20000 -k 10 -r 2000 -K op \
	    -t 2 -d "$T/w"
	[[ $stderr == *"work directory kept: $T/w"* ]]
	[ -e "$T/w/chaos.topo" ]
}

@test "chaos: wrong output exits 1" {
	# chaos puts its own ../bin and ../tools first on PATH: run a copy
	# whose tools/ holds a verifier that always says WRONG
	mkdir -p "$T/top/tools"
	ln -s "$TOP/bin" "$T/top/bin"
	cp "$TOP/tools/chaos" "$T/top/tools/chaos"
	printf '#!/bin/sh\necho "ds-verify: fake: WRONG"; exit 1\n' > "$T/top/tools/ds-verify"
	chmod +x "$T/top/tools/ds-verify"
	run -1 --separate-stderr "$T/top/tools/chaos" -q -s 3 -n 300 -k 10 -r 0 -K sink -d "$T/w"
	[[ $output == *"verify=WRONG (ds-verify: fake: WRONG)"* ]]
	[[ $stderr == *"work directory kept: $T/w"* ]]
}

# Issue 13: an orderly stop is exact in every mode.  Two seeds here, 20 in
# `make chaos`.
@test "chaos: -O 3 stops (ds-master stop, SIGINT) and resumes the job three times; at least once the output is exact" {
	run -0 --separate-stderr chaos -O 3 -s 1 -n 60000 -k 100 -p 3 -m least -r 10000 -t 50 -d "$T/w"
	[[ $output == *"halt stop"* || $output == *"halt int"* ]]
	[[ ${lines[-1]} == *" halts=3 "*"verify=ok (ds-verify: exactly: "* ]]
	[[ ${lines[-1]} == *"-K none -O 3"* ]]
	[ "$(grep -c 'halt by .*: ds-master exit 75' <<<"$output")" -eq 3 ]
	run -0 ds-verify -m exactly "$T/w/in" "$T/w/out"
	run ! grep -E 'fatal|restarting|warning' "$T/w/master.log"
}

@test "chaos: -O 3 exactly once, through a router" {
	run -0 --separate-stderr chaos -O 3 -s 2 -n 60000 -k 100 -p 3 -m exactly -R yes -r 10000 -t 50 -d "$T/w"
	[[ ${lines[-1]} == *" halts=3 "*"verify=ok (ds-verify: exactly: "* ]]
	run ! grep -E 'fatal|restarting|warning' "$T/w/master.log"
}
