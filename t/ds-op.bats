#!/usr/bin/env bats
# t/ds-op.bats: ds-op, one @test per documented option, built-in, plugin
# rule, protocol rule and exit code.  Frames are made and read by a small
# Python codec below (gen/dump), so these tests do not depend on ds-source
# or ds-sink; the end-to-end equivalences use them as a user would.

load helper

# gen: lines "key<TAB>payload[<TAB>time[<TAB>trace]]" (Python escapes such
# as \t \n \x00 allowed in fields) -> BUNDLE frames; a line "--" ends a
# bundle; then the END frame (gen -n: none, a stream still open or cut).
# gen_end COUNT LAST: an END frame alone.  dump: frames -> "bundle N" and
# "seq time trace key payload"; it checks the END and prints "no END" or
# "bad END" when it is missing or wrong, "end COUNT LAST" with dump -e.
PYCODEC='
import struct, sys
T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
    T.append(c)
def crc(b):
    c = 0xffffffff
    for x in b:
        c = T[(c ^ x) & 0xff] ^ (c >> 8)
    return c ^ 0xffffffff
def wrap(typ, p):
    h = b"\0DS\x01" + struct.pack("<HHI", typ, 0, len(p))
    return h + struct.pack("<I", crc(h + p)) + p
def frame(tuples):
    p = struct.pack("<QII", 0, 0, len(tuples))
    for seq, tm, tr, k, v in tuples:
        p += struct.pack("<BQQ", 1 if tr is not None else 0, seq, tm)
        if tr is not None:
            p += struct.pack("<Q", tr)
        p += struct.pack("<I", len(k)) + k + struct.pack("<I", len(v)) + v
    return wrap(1, p)
def end(count, last):
    return wrap(18, struct.pack("<QIQQ", 0, 0, count, last))
def unesc(s):
    return s.encode().decode("unicode_escape").encode("latin-1")
def esc(b):
    return b.replace(b"\\", b"\\\\").replace(b"\t", b"\\t").replace(
        b"\n", b"\\n").replace(b"\r", b"\\r").replace(b"\0", b"\\0").decode(
        "latin-1")
out = sys.stdout.buffer
if sys.argv[1] == "gen":
    cur, seq = [], 0
    for line in sys.stdin.read().split("\n"):
        if line == "--" or line == "":
            if cur:
                out.write(frame(cur))
            cur = []
            continue
        f = line.split("\t")
        seq += 1
        tm = int(f[2]) if len(f) > 2 else 1000 + seq
        tr = int(f[3]) if len(f) > 3 else None
        cur.append((seq, tm, tr, unesc(f[0]), unesc(f[1])))
    if cur:
        out.write(frame(cur))
    if sys.argv[2:] != ["-n"]:
        out.write(end(seq, seq))
elif sys.argv[1] == "end":
    out.write(end(int(sys.argv[2]), int(sys.argv[3])))
else:
    b = sys.stdin.buffer.read()
    ended, count, last = None, 0, 0
    while b:
        typ, n = struct.unpack("<H2xI", b[4:12])
        p, b = b[16:16 + n], b[16 + n:]
        if ended is not None:
            print("frame after END")
        if typ == 18:
            ended = struct.unpack("<QIQQ", p)
            if sys.argv[2:] == ["-e"]:
                print("end", ended[2], ended[3])
            if ended[2:] != (count, last):
                print("bad END")
            continue
        cnt = struct.unpack("<I", p[12:16])[0]
        count += cnt
        print("bundle", cnt)
        p = p[16:]
        for _ in range(cnt):
            fl, seq, tm = struct.unpack("<BQQ", p[:17])
            p = p[17:]
            tr = "-"
            if fl & 1:
                tr, p = struct.unpack("<Q", p[:8])[0], p[8:]
            kl = struct.unpack("<I", p[:4])[0]
            k, p = p[4:4 + kl], p[4 + kl:]
            vl = struct.unpack("<I", p[:4])[0]
            v, p = p[4:4 + vl], p[4 + vl:]
            print(seq, tm, tr, esc(k), esc(v), sep="\t")
            last = seq
    if ended is None:
        print("no END")
'
export PYCODEC
gen() { python3 -c "$PYCODEC" gen "$@"; }
gen_end() { python3 -c "$PYCODEC" end "$1" "$2"; }
dump() { python3 -c "$PYCODEC" dump "$@"; }
# Just "key<TAB>payload" of every output tuple.
kp() { dump | awk -F '\t' 'NF == 5 { print $4 "\t" $5 }'; }
# ds-op "$@" | kp, with ds-op's exit status.
opkp() { set -o pipefail; ds-op "$@" | kp; }

setup() {
	T=$BATS_TEST_TMPDIR
	bg=
}

teardown() {
	local f
	exec 7>&- 2>/dev/null || true
	if [ -n "$bg" ]; then
		kill "$bg" 2>/dev/null || true
		wait "$bg" 2>/dev/null || true
	fi
	# Operator programs a failed test may have left behind.
	for f in "$T/cpid" "$T/gpid" "$T/fpid"; do
		[ ! -s "$f" ] || kill -KILL "$(cat "$f")" 2>/dev/null || true
	done
}

# Build a plugin from C source on stdin into $T/$1.so.
plugin() {
	cc -std=c11 -Wall -Werror -fPIC -shared -I"$TOP/libds/op" -x c \
	    -o "$T/$1.so" -
}

# --- options and usage ---------------------------------------------------

@test "ds-op: --help prints the usage, equal to the man page SYNOPSIS" {
	run -0 --separate-stderr ds-op --help
	[[ ${lines[0]} == "usage: ds-op [-qv] "* ]]
	[[ $output == *"--builtin=NAME"* ]]
	assert_help_matches_synopsis ds-op ds-op.1
}

@test "ds-op: --version prints the version" {
	run -0 ds-op --version
	[[ $output == "ds-op "[0-9]* ]]
}

@test "ds-op: no operator is a usage error (64)" {
	run -64 --separate-stderr ds-op
	[[ $stderr == *"exactly one of --builtin, --plugin and --exec"* ]]
	[[ $stderr == *"usage: ds-op "* ]]
}

@test "ds-op: two operators are a usage error (64)" {
	run -64 --separate-stderr ds-op --builtin count --exec cat
	[[ $stderr == *"exactly one of"* ]]
}

@test "ds-op: an unknown option is a usage error (64)" {
	run -64 --separate-stderr ds-op --bogus --builtin count
	[[ $stderr == *"--bogus"* ]]
}

@test "ds-op: --builtin with an unknown name is a usage error (64)" {
	run -64 --separate-stderr ds-op --builtin frobnicate
	[[ $stderr == *"unknown built-in 'frobnicate'"*"count distinct filter identity sum topk"* ]]
}

@test "ds-op: bad built-in operands are usage errors (64)" {
	run -64 --separate-stderr ds-op --builtin count extra
	[[ $stderr == *"count takes no operands"* ]]
	run -64 --separate-stderr ds-op --builtin topk
	[[ $stderr == *"topk needs one operand N"* ]]
	run -64 --separate-stderr ds-op --builtin topk 0
	run -64 --separate-stderr ds-op --builtin topk 1000001
	run -64 --separate-stderr ds-op --builtin topk 3x
	[[ $stderr == *"topk: N must be a number 1..1000000, not '3x'"* ]]
	run -64 --separate-stderr ds-op --builtin topk 3 0
	[[ $stderr == *"topk: FIELD must be a number 1..1000000, not '0'"* ]]
	run -64 --separate-stderr ds-op --builtin topk 3 1 2
	[[ $stderr == *"topk needs one operand N"* ]]
	run -64 --separate-stderr ds-op --builtin sum 0
	[[ $stderr == *"sum: FIELD must be a number"* ]]
	run -64 --separate-stderr ds-op --builtin sum 1 2
	run -64 --separate-stderr ds-op --builtin identity x
}

@test "ds-op: --check checks the options and operands, loads a plugin, looks up an --exec program, and starts nothing" {
	cd "$T"
	export XDG_RUNTIME_DIR="$T/xdg"
	run -0 ds-op --check --builtin count --id 131072 --name count.0 \
	    --listen "ipc://$T/sock" --consumers 196608 \
	    --pull "least:65536@ipc://$T/up" --master "ipc://$T/m"
	[ -z "$output" ]
	[ ! -e sock ]
	[ ! -e xdg ]
	run -64 --separate-stderr ds-op --check --buitin count
	[[ $stderr == "ds-op: --buitin: unknown option"* ]]
	# A built-in's operands go through its init.
	run -0 ds-op --check --builtin topk 3
	run -64 --separate-stderr ds-op --check --builtin topk x
	[[ $stderr == "ds-op: topk: N must be a number 1..1000000, not 'x'"* ]]
	run -64 ds-op --check --builtin count --id 1 --listen "ipc://$T/sock" \
	    --consumers 2 --pull "exactly:3@ipc://$T/up"
	run -0 ds-op --check --plugin "$TOP/examples/plugins/count.so"
	run -78 --separate-stderr ds-op --check --plugin "$T/nope.so"
	[[ $stderr == *"nope.so: cannot open shared object file"* ]]
	# The program is looked up, never started.
	run -0 ds-op --check --exec "touch $T/started"
	[ ! -e started ]
	run -69 --separate-stderr ds-op --check --exec 'no-such-program-x -v'
	[ "$stderr" = "ds-op: fatal: --exec: no-such-program-x: program not found" ]
	run -69 ds-op --check --exec "$T/nope.sh"
	# Only sh knows what these run.
	run -0 ds-op --check --exec 'exec no-such-program-x'
	run -0 ds-op --check --exec 'X=1 no-such-program-x'
}

@test "ds-op: --bundle N caps the tuples per output bundle" {
	printf 'k\t%s\n' $(seq 1 10) | gen > "$T/in"
	ds-op --bundle 3 --builtin identity < "$T/in" | dump > "$T/out"
	run -0 grep '^bundle' "$T/out"
	[ "$(echo $output)" = "bundle 3 bundle 3 bundle 3 bundle 1" ]
	run -64 --separate-stderr ds-op --bundle 0 --builtin identity
	[[ $stderr == *"--bundle: 0 out of range 1..1000000"* ]]
}

@test "ds-op: the outputs of one input bundle never share a bundle with the next" {
	printf 'a\t1\nb\t2\n--\nc\t3\nd\t4\n--\ne\t5\n' | gen > "$T/in"
	ds-op --builtin count < "$T/in" | dump > "$T/out"
	run -0 grep -c '^bundle' "$T/out"
	[ "$output" = 3 ]
	run -0 awk '$1 != "bundle" { print $1 }' "$T/out"
	[ "$(echo $output)" = "1 2 3 4 5" ]
}

@test "ds-op: --every is only valid with topk (64)" {
	run -64 --separate-stderr ds-op --every 100 --builtin count
	[[ $stderr == *"--every is only valid with topk"* ]]
	run -64 --separate-stderr ds-op --every 100 --exec cat
	run -64 --separate-stderr ds-op --every 0 --builtin topk 3
}

@test "ds-op: --final is only valid with count, sum and topk; WHEN is end or stop (64)" {
	run -64 --separate-stderr ds-op --final --builtin identity
	[[ $stderr == *"--final is only valid with count, sum and topk, not identity"* ]]
	run -64 --separate-stderr ds-op --final=later --builtin count
	[[ $stderr == *"--final: WHEN is end or stop, not 'later' (write --final=WHEN)"* ]]
	# An optional value is the next word: operands go before --final.
	run -64 --separate-stderr ds-op --builtin topk --final 3
	[[ $stderr == *"not '3' (write --final=WHEN)"* ]]
	run -64 --separate-stderr ds-op --final --exec cat
	[[ $stderr == *"--match, --every and --final are only valid with --builtin"* ]]
	run -64 --separate-stderr ds-op --final=stop --plugin "$TOP/examples/plugins/count.so"
	run -0 ds-op --builtin count --final=end < "$T_DATA/empty.frames"
	run -0 ds-op --builtin topk 3 --final=stop < "$T_DATA/empty.frames"
}

@test "ds-op: --exec-end is only valid with --exec (64)" {
	run -64 --separate-stderr ds-op --exec-end --builtin count
	[[ $stderr == *"--exec-end is only valid with --exec"* ]]
}

@test "ds-op: --exec takes no operands (64)" {
	run -64 --separate-stderr ds-op --exec awk x.awk
	[[ $stderr == *"--exec takes no operands"* ]]
}

@test "ds-op: --match is only valid with filter (64), and must compile (64)" {
	run -64 --separate-stderr ds-op --match x --builtin count
	[[ $stderr == *"--match is only valid with filter"* ]]
	run -64 --separate-stderr ds-op --builtin filter
	[[ $stderr == *"filter needs --match REGEX"* ]]
	run -64 --separate-stderr ds-op --builtin filter --match 'a('
	[[ $stderr == *"--match: "*"'a('"* ]]
}

@test "ds-op: --max-tuple refuses a bigger input tuple (65) naming the limit" {
	printf 'key\t12345\n' | gen > "$T/in"
	run -0 sh -c 'ds-op --max-tuple 8 --builtin identity < "$1" | wc -c' _ "$T/in"
	[ "$output" -gt 0 ]
	run -65 --separate-stderr ds-op --max-tuple 7 --builtin identity < "$T/in"
	[[ $stderr == "ds-op: fatal: stdin: bad frame at offset 0: tuple larger than the maximum tuple size (--max-tuple 7)" ]]
	run -65 --separate-stderr ds-op --max-tuple 7 --exec cat < "$T/in"
	run -64 --separate-stderr ds-op --max-tuple 0 --builtin identity
	run -64 --separate-stderr ds-op --max-tuple 64M --builtin identity
	run -0 ds-op --max-tuple 2K --builtin identity < "$T_DATA/empty.frames"
}

@test "ds-op: --max-tuple refuses a bigger emitted tuple (65)" {
	printf 'key\tv\n' | gen > "$T/in"
	run -65 --separate-stderr ds-op --max-tuple 10 \
	    --exec 'awk '\''NF { print "E\tkey\t0123456789"; print "D"; fflush() }'\''' < "$T/in"
	[[ $stderr == *"emitted a tuple of 13 bytes, over --max-tuple 10"* ]]
}

@test "ds-op: --max-emit stops a program flooding one request (70), killed, with memory bounded" {
	printf 'a\t1\nb\t2\n' | gen > "$T/in"
	# The peak RSS of ds-op (KiB) and its exit status, after it ended.
	cat > "$T/peak.py" <<-'EOF'
	import resource, subprocess, sys
	r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
	print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
	EOF
	flood='read l; echo $$ > "'"$T"'/fpid"; exec yes "E	k	flood"'
	# (ASan's shadow memory and quarantine would count too.)
	asan=0
	grep -q __asan_init "$TOP/bin/ds-op" && asan=1
	run -0 --separate-stderr python3 "$T/peak.py" ds-op --max-emit 1M --exec "$flood" < "$T/in"
	[ "${output%% *}" = 70 ]
	[ $asan = 1 ] || [ "${output#* }" -lt 32768 ]
	[[ $stderr == "ds-op: fatal: operator program "*" emitted more than --max-emit 1048576 bytes for one tuple, timer or end of input" ]]
	[ "$(grep -c . <<< "$stderr")" -eq 1 ]
	run ! kill -0 "$(cat "$T/fpid")"
	# The default is 64M: the flood stops there too, in bounded memory.
	run -0 --separate-stderr python3 "$T/peak.py" ds-op --exec "$flood" < "$T/in"
	[ "${output%% *}" = 70 ]
	[ $asan = 1 ] || [ "${output#* }" -lt 262144 ]
	[[ $stderr == *" emitted more than --max-emit 67108864 bytes for one tuple, timer or end of input" ]]
}

@test "ds-op: --max-emit counts each request on its own, and binds built-ins and plugins too" {
	# 1000 tuples of ~30 bytes each, 100 times: 3 KB per request.
	printf 'a\t1\nb\t2\nc\t3\n' | gen > "$T/in"
	run -0 opkp --max-emit 4K --exec 'awk '\''NF { for (i = 0; i < 100; i++) print "E\tkey\t0123456789"; print "D"; fflush() }'\''' < "$T/in"
	[ "${#lines[@]}" -eq 300 ]
	run -70 --separate-stderr ds-op --max-emit 2K --exec 'awk '\''NF { for (i = 0; i < 100; i++) print "E\tkey\t0123456789"; print "D"; fflush() }'\''' < "$T/in"
	[[ $stderr == *"emitted more than --max-emit 2048 bytes for one tuple, timer or end of input" ]]
	# identity emits one tuple of 25 + 2 bytes per input tuple.
	run -0 opkp --max-emit 27 --builtin identity < "$T/in"
	[ "${#lines[@]}" -eq 3 ]
	run -70 --separate-stderr ds-op --max-emit 26 --builtin identity < "$T/in"
	[ "$stderr" = "ds-op: fatal: built-in identity emitted more than --max-emit 26 bytes for one tuple, timer or end of input" ]
	run -64 ds-op --max-emit 0 --builtin identity
	run -64 ds-op --max-emit 1X --builtin identity
}

@test "ds-op: --max-keys stops an operator whose state would hold more keys (70), naming the count" {
	printf 'a\t1\nb\t1\na\t1\nc\t1\n' | gen > "$T/in"
	run -0 opkp --max-keys 3 --builtin count < "$T/in"
	[ "$output" = "$(printf 'a\t1\nb\t1\na\t2\nc\t1')" ]
	printf 'a\t1\nb\t1\na\t1\nc\t1\nd\t1\n' | gen > "$T/in"
	run -70 --separate-stderr ds-op --max-keys 3 --builtin count < "$T/in"
	[ "$stderr" = "ds-op: fatal: built-in count: the state would hold 4 keys, over --max-keys 3" ]
	run -70 --separate-stderr ds-op --max-keys 2 --exec "awk -f '$TOP/examples/exec/count.awk'" < "$T/in"
	[[ $stderr == "ds-op: fatal: operator program "*": the state would hold 3 keys, over --max-keys 2" ]]
	run -64 ds-op --max-keys 0 --builtin count
	run -64 ds-op --max-keys x --builtin count
}

@test "ds-op: the program runs in a process group of its own, killed whole when ds-op stops it" {
	printf 'a\t1\n' | gen > "$T/in"
	run -76 --separate-stderr ds-op --exec 'read l; echo $$ > "'"$T"'/cpid"; sleep 1000 & echo $! > "'"$T"'/gpid"; echo "X	y"; wait' < "$T/in"
	[ "$stderr" = "ds-op: fatal: operator program: line 1: unknown line type 'X'" ]
	wait_for "! kill -0 $(cat "$T/gpid") 2>/dev/null"
}

@test "ds-op: SIGKILLed, its operator program dies with it" {
	mkfifo "$T/fifo"
	ds-op --exec 'echo $$ > "'"$T"'/cpid"; exec sleep 1000' \
	    < "$T/fifo" > /dev/null 2> "$T/err" 3>&- &
	bg=$!
	exec 7> "$T/fifo"
	wait_for "[ -s '$T/cpid' ]"
	cpid=$(cat "$T/cpid")
	kill -0 "$cpid"
	[ "$(ps -o pgid= -p "$cpid" | tr -d ' ')" = "$cpid" ]
	kill -KILL "$bg"
	wait_for "! kill -0 $cpid 2>/dev/null" 10
	exec 7>&-
}

@test "ds-op: --notify-fd writes a newline once ready, before any input" {
	mkfifo "$T/fifo"
	ds-op --notify-fd 3 --builtin count < "$T/fifo" > "$T/out" 3> "$T/ready" &
	bg=$!
	exec 5> "$T/fifo"
	wait_for '[ -s "$T/ready" ]'
	[ "$(od -An -c "$T/ready" | tr -d ' ')" = '\n' ]
	gen_end 0 0 >&5
	exec 5>&-
	wait "$bg"
	bg=
	run -64 --separate-stderr ds-op --notify-fd 2 --builtin count
	run -64 --separate-stderr ds-op --notify-fd 9 --builtin count 9>&-
	[[ $stderr == *"--notify-fd: 9 is not open"* ]]
}

@test "ds-op: NOTIFY_SOCKET gets READY=1 when ready and STOPPING=1 at the end" {
	cat > "$T/listen.py" <<-'EOF'
	import socket, sys
	s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
	s.bind(sys.argv[1]); s.settimeout(20)
	open(sys.argv[1] + ".up", "w").close()
	while True:
	    m = s.recv(4096).decode()
	    print(m.replace("\n", " "), flush=True)
	    if "STOPPING=1" in m:
	        break
	EOF
	python3 "$T/listen.py" "$T/sock" > "$T/msgs" 3>&- &
	bg=$!
	wait_for '[ -e "$T/sock.up" ]'
	printf 'k\tv\n' | gen > "$T/in"
	NOTIFY_SOCKET="$T/sock" run -0 ds-op --builtin count < "$T/in"
	wait "$bg"
	bg=
	run -0 cat "$T/msgs"
	[[ ${lines[0]} == "READY=1 STATUS=running" ]]
	[[ ${lines[1]} == "STOPPING=1" ]]
}

@test "ds-op: -q silences warnings, -v adds info lines" {
	printf 'k\t1\nk\tx\nk\t2\n' | gen > "$T/in"
	run -0 --separate-stderr ds-op --builtin sum < "$T/in"
	[ "$stderr" = "ds-op: warning: sum: skipped tuple seq 2: field is not a number" ]
	run -0 --separate-stderr ds-op -q --builtin sum < "$T/in"
	[ -z "$stderr" ]
	run -0 --separate-stderr ds-op -v --builtin sum < "$T/in"
	[[ $stderr == *"ds-op: info: sum: 1 tuples skipped"* ]]
}

# --- built-ins -----------------------------------------------------------

@test "ds-op: identity keeps key, payload, time and trace; seq is a running count" {
	printf 'a\tone\t5\nb\ttwo\t7\t99\n--\nc\tth\\x00ree\t3\n' | gen > "$T/in"
	ds-op --builtin identity < "$T/in" | dump > "$T/out"
	printf 'bundle 2\n1\t5\t-\ta\tone\n2\t7\t99\tb\ttwo\nbundle 1\n3\t3\t-\tc\tth\\0ree\n' > "$T/want"
	run -0 diff "$T/want" "$T/out"
}

@test "ds-op: count emits each key's running count, with the input's time" {
	printf 'a\tx\t10\nb\tx\t20\na\tx\t30\na\tx\t40\t7\n' | gen > "$T/in"
	ds-op --builtin count < "$T/in" | dump > "$T/out"
	printf 'bundle 4\n1\t10\t-\ta\t1\n2\t20\t-\tb\t1\n3\t30\t-\ta\t2\n4\t40\t7\ta\t3\n' > "$T/want"
	run -0 diff "$T/want" "$T/out"
}

@test "ds-op: distinct passes the first tuple of each key only" {
	printf 'a\t1\nb\t2\na\t3\nc\t4\nb\t5\n\t6\n\t7\n' | gen > "$T/in"
	run -0 opkp --builtin distinct < "$T/in"
	[ "$output" = "$(printf 'a\t1\nb\t2\nc\t4\n\t6')" ]
}

@test "ds-op: filter --match passes payloads matching an extended regex" {
	printf 'a\tGET /x 200\nb\tGET /y 500\nc\tPOST /z 503\nd\tnul\\x00 500\n' | gen > "$T/in"
	run -0 opkp --builtin filter --match ' 5[0-9]{2}$' < "$T/in"
	[ "$output" = "$(printf 'b\tGET /y 500\nc\tPOST /z 503\nd\tnul\\0 500')" ]
}

@test "ds-op: sum adds the last field, or FIELD; integers stay exact" {
	printf 'a\tx 1 10\nb\ty 2 20\na\tz 3 -5\na\tz 4 9223372036854775000\n' | gen > "$T/in"
	run -0 opkp --builtin sum < "$T/in"
	[ "$output" = "$(printf 'a\t10\nb\t20\na\t5\na\t9223372036854775005')" ]
	run -0 opkp --builtin sum 2 < "$T/in"
	[ "$output" = "$(printf 'a\t1\nb\t2\na\t4\na\t8')" ]
}

@test "ds-op: sum switches a key to %.17g once it sees a fraction or overflows" {
	printf 'a\t1\nb\t0.1\na\t2.5\nb\t+.2\nc\t9223372036854775807\nc\t1\n' | gen > "$T/in"
	run -0 opkp --builtin sum < "$T/in"
	[ "$output" = "$(printf 'a\t1\nb\t0.10000000000000001\na\t3.5\nb\t0.30000000000000004\nc\t9223372036854775807\nc\t9.2233720368547758e+18')" ]
}

@test "ds-op: sum skips a missing or non-numeric field with a warning naming its seq" {
	printf 'a\t1 2\na\t5\na\t1 x\na\t  \na\t1 -\na\t3 1e5\na\t1 7\n' | gen > "$T/in"
	run -0 --separate-stderr opkp --builtin sum 2 < "$T/in"
	[ "$output" = "$(printf 'a\t2\na\t9')" ]
	[ "${#stderr_lines[@]}" -eq 5 ]
	[ "${stderr_lines[0]}" = "ds-op: warning: sum: skipped tuple seq 2: field missing" ]
	[ "${stderr_lines[1]}" = "ds-op: warning: sum: skipped tuple seq 3: field is not a number" ]
	[ "${stderr_lines[4]}" = "ds-op: warning: sum: skipped tuple seq 6: field is not a number" ]
}

@test "ds-op: topk N emits the N biggest counts at the end, ties by key" {
	printf 'b\t1\na\t1\nc\t1\nb\t1\nd\t1\nd\t1\nc\t1\ne\t1\nd\t1\n' | gen > "$T/in"
	ds-op --builtin topk 3 < "$T/in" | dump > "$T/out"
	printf 'bundle 3\n1\t1009\t-\td\t3\n2\t1009\t-\tb\t2\n3\t1009\t-\tc\t2\n' > "$T/want"
	run -0 diff "$T/want" "$T/out"
	run -0 opkp --builtin topk 100 < "$T/in"
	[ "$output" = "$(printf 'd\t3\nb\t2\nc\t2\na\t1\ne\t1')" ]
	run -0 sh -c 'ds-op --builtin topk 3 < "$T_DATA/empty.frames" | cmp - "$T_DATA/empty.frames"'
}

@test "ds-op: topk --every emits the current top N while input keeps coming" {
	mkfifo "$T/fifo"
	ds-op --builtin topk 2 --every 50 < "$T/fifo" > "$T/out" 3>&- &
	bg=$!
	exec 5> "$T/fifo"
	printf 'a\t1\nb\t1\nb\t1\n' | gen -n >&5
	wait_for '[ "$(kp < "$T/out" | head -2 | tr "\n" " ")" = "b	2 a	1 " ]'
	gen_end 3 3 >&5
	exec 5>&-
	wait "$bg"
	bg=
}

@test "ds-op: count --final and sum --final emit each key's total once, at the end, in key order" {
	seq 1 20000 | awk '{ print "k" ($1 * 7919 % 307), $1 % 101 - 50 }' > "$T/lines"
	ds-source --key-field 1 < "$T/lines" > "$T/in"
	# Computed apart: awk's count and sum of the last field, by key bytes.
	awk '{ n[$1]++ } END { for (k in n) print k "\t" n[k] }' "$T/lines" | sort > "$T/count.want"
	awk '{ s[$1] += $2 } END { for (k in s) print k "\t" s[k] }' "$T/lines" | sort > "$T/sum.want"
	[ "$(wc -l < "$T/count.want")" -eq 307 ]
	ds-op --builtin count --final < "$T/in" | ds-sink > "$T/count.got"
	cmp "$T/count.want" "$T/count.got"
	ds-op --builtin sum --final=end < "$T/in" | ds-sink > "$T/sum.got"
	cmp "$T/sum.want" "$T/sum.got"
	# The same as the last of the running values.
	ds-op --builtin count < "$T/in" | ds-sink |
	    awk -F '\t' '{ last[$1] = $2 } END { for (k in last) print k "\t" last[k] }' |
	    sort | cmp - "$T/count.want"
	# One tuple per key, with the largest input time; --final=stop is the
	# same in a pipe, which only ever ends.
	printf 'b\tx\t10\na\tx\t30\nb\tx\t20\n' | gen > "$T/small"
	ds-op --builtin count --final=stop < "$T/small" | dump -e > "$T/out"
	printf 'bundle 2\n1\t30\t-\ta\t1\n2\t30\t-\tb\t2\nend 2 2\n' > "$T/want"
	diff "$T/want" "$T/out"
	run -0 sh -c 'ds-op --builtin sum --final < "$T_DATA/empty.frames" | cmp - "$T_DATA/empty.frames"'
}

@test "ds-op: sum --final keeps the running sum's rules: fractions, skipped fields" {
	printf 'a\t1\nb\t0.1\na\t2.5\nb\t+.2\nc\t9223372036854775807\nc\t1\nd\tx\n' | gen > "$T/in"
	run -0 --separate-stderr opkp --builtin sum --final < "$T/in"
	[ "$output" = "$(printf 'a\t3.5\nb\t0.30000000000000004\nc\t9.2233720368547758e+18')" ]
	[ "$stderr" = "ds-op: warning: sum: skipped tuple seq 7: field is not a number" ]
}

@test "ds-op: topk N FIELD ranks keys by the sum of field FIELD (numbered as sum's), ties by key" {
	seq 1 5000 | awk '{ print "k" ($1 * 7919 % 53), "GET", ($1 * 104729) % 9973 }' > "$T/lines"
	ds-source --key-field 1 < "$T/lines" > "$T/in"
	# Computed apart: the sum of field 3 of the payload (the whole line,
	# as sum 3 would add it), biggest first, ties by key.
	awk '{ s[$1] += $3 } END { for (k in s) print s[k] "\t" k }' "$T/lines" |
	    sort -t "$(printf '\t')" -k1,1nr -k2,2 | head -7 |
	    awk -F '\t' '{ print $2 "\t" $1 }' > "$T/want"
	ds-op --builtin topk 7 3 < "$T/in" | ds-sink > "$T/got"
	cmp "$T/want" "$T/got"
	# The same sums as sum 3's last values.
	ds-op --builtin sum 3 --final < "$T/in" | ds-sink |
	    sort -t "$(printf '\t')" -k2,2nr -k1,1 | head -7 > "$T/got"
	cmp "$T/want" "$T/got"
	# Fractions and negative sums rank with the integers; a missing or
	# non-numeric field is skipped with a warning, as in sum.
	printf 'a\tx 5\nb\tx 2.5\nc\tx -1\na\tx -1\nd\tx\nb\tx y\n' | gen > "$T/small"
	run -0 --separate-stderr opkp --builtin topk 3 2 < "$T/small"
	[ "$output" = "$(printf 'a\t4\nb\t2.5\nc\t-1')" ]
	[ "${stderr_lines[0]}" = "ds-op: warning: topk: skipped tuple seq 5: field missing" ]
	[ "${stderr_lines[1]}" = "ds-op: warning: topk: skipped tuple seq 6: field is not a number" ]
}

@test "ds-op: results are written before ds-op waits for more input" {
	mkfifo "$T/fifo"
	ds-op --builtin count < "$T/fifo" > "$T/out" 3>&- &
	bg=$!
	exec 5> "$T/fifo"
	printf 'k\tv\n' | gen -n >&5
	wait_for '[ "$(kp < "$T/out")" = "k	1" ]'
	gen_end 1 1 >&5
	exec 5>&-
	wait "$bg"
	bg=
}

@test "ds-op: an empty stream gives an empty stream and exit 0" {
	run -0 sh -c 'ds-op --builtin count < "$T_DATA/empty.frames" | cmp - "$T_DATA/empty.frames"'
}

@test "ds-op: ends its output with its own END: its tuple count and last seq" {
	printf 'a\tx\nb\ty\na\tz\nc\tx\n' | gen > "$T/in"
	ds-op --builtin filter --match x < "$T/in" | dump -e > "$T/out"
	printf 'bundle 2\n1\t1001\t-\ta\tx\n2\t1004\t-\tc\tx\nend 2 2\n' > "$T/want"
	run -0 diff "$T/want" "$T/out"
}

@test "ds-op: a cut input exits 65 (stream cut) with no END, so ds-sink exits 65 too" {
	printf 'a\t1\n--\nb\t2\n' | gen -n > "$T/in"
	run -65 --separate-stderr opkp --builtin count < "$T/in"
	[ "$output" = "$(printf 'a\t1\nb\t1')" ]
	[ "$stderr" = "ds-op: fatal: stdin: stream cut: end of input without an END frame at offset 118, after 2 tuples (last seq 2)" ]
	rc=0
	ds-op --builtin count < "$T/in" > "$T/out" 2> /dev/null || rc=$?
	[ $rc = 65 ]
	run -0 dump < "$T/out"
	[ "${#lines[@]}" = 5 ]	# two bundles of one tuple
	[ "${lines[-1]}" = "no END" ]
	run -0 bash -c 'ds-op --builtin count < "$1" 2> /dev/null | ds-sink 2> "$1.err"; echo "${PIPESTATUS[*]}"' _ "$T/in"
	[ "${lines[-1]}" = "65 65" ]
	[ "$(cat "$T/in.err")" = "ds-sink: fatal: stdin: stream cut: end of input without an END frame at offset 118, after 2 tuples (last seq 2)" ]
	run -65 --separate-stderr ds-op --builtin count < /dev/null
	[ "$stderr" = "ds-op: fatal: stdin: stream cut: end of input without an END frame at offset 0, before any tuple" ]
}

@test "ds-op: a frame after the END, or an END that disagrees, exits 65" {
	{ printf 'a\t1\n' | gen; printf 'b\t2\n' | gen; } > "$T/in"
	run -65 --separate-stderr opkp --builtin identity < "$T/in"
	[ "$output" = "$(printf 'a\t1')" ]
	[ "$stderr" = "ds-op: fatal: stdin: bad frame at offset 103: frame after the END frame" ]
	{ printf 'a\t1\n' | gen -n; gen_end 2 2; } > "$T/in"
	run -65 --separate-stderr ds-op --builtin identity < "$T/in"
	[ "$stderr" = "ds-op: fatal: stdin: bad END at offset 59: it says 2 tuples (last seq 2), 1 was read (last seq 1)" ]
}

# --- plugins -------------------------------------------------------------

@test "ds-op: --plugin count.so equals --builtin count" {
	seq 1 3000 | awk '{ print "k" $1 % 7 "\t" $1 }' | gen > "$T/in"
	ds-op --builtin count < "$T/in" | dump > "$T/a"
	ds-op --plugin "$TOP/examples/plugins/count.so" < "$T/in" | dump > "$T/b"
	run -0 cmp "$T/a" "$T/b"
}

@test "ds-op: a plugin gets FILE and the operands, and a name without / is local" {
	plugin args <<-'EOF'
	#include <string.h>
	#include "ds_op.h"
	static int
	init(struct ds_op_ctx *c, int argc, char *const argv[])
	{
		static char buf[256];
		int i;
		buf[0] = 0;
		for (i = 0; i < argc; i++) {
			strcat(buf, argv[i]);
			strcat(buf, "|");
		}
		return ds_emit(c, "args", 4, buf, strlen(buf), 0);
	}
	static int
	tuple(struct ds_op_ctx *c, const struct ds_op_tuple *t)
	{
		return ds_emit(c, t->key, t->keylen, t->payload, t->paylen, 0);
	}
	DS_OP_PLUGIN("args", init, tuple, NULL, NULL, NULL);
	EOF
	cd "$T"
	run -0 opkp --plugin args.so one -- -two < "$T_DATA/empty.frames"
	[ "$output" = "$(printf 'args\targs.so|one|-two|')" ]
}

@test "ds-op: a plugin that cannot be loaded is a configuration error (78)" {
	run -78 --separate-stderr ds-op --plugin "$T/none.so"
	[[ $stderr == "ds-op: fatal: $T/none.so: cannot open shared object file"* ]]
	echo 'int nothing = 1;' | plugin empty
	run -78 --separate-stderr ds-op --plugin "$T/empty.so"
	[[ $stderr == *"undefined symbol: ds_op_plugin"* ]]
	plugin abi <<-'EOF'
	#include "ds_op.h"
	const struct ds_op_plugin ds_op_plugin = { 99, "abi", 0, 0, 0, 0, 0 };
	EOF
	run -78 --separate-stderr ds-op --plugin "$T/abi.so"
	[[ $stderr == *"plugin ABI 99, ds-op supports ABI 1 to 2" ]]
	# A plugin built for ABI 1 (before ds_next_key) still loads.
	plugin abi1 <<-'EOF'
	#include "ds_op.h"
	static int
	tuple(struct ds_op_ctx *c, const struct ds_op_tuple *t)
	{
		return ds_emit(c, t->key, t->keylen, t->payload, t->paylen, 0);
	}
	const struct ds_op_plugin ds_op_plugin = { 1, "abi1", 0, tuple, 0, 0, 0 };
	EOF
	printf 'k\tv\n' | gen > "$T/in"
	run -0 opkp --plugin "$T/abi1.so" < "$T/in"
	[ "$output" = "$(printf 'k\tv')" ]
	plugin notuple <<-'EOF'
	#include "ds_op.h"
	DS_OP_PLUGIN("notuple", NULL, NULL, NULL, NULL, NULL);
	EOF
	run -78 --separate-stderr ds-op --plugin "$T/notuple.so"
	[[ $stderr == *"plugin has no on_tuple callback" ]]
}

@test "ds-op: a plugin callback that fails stops ds-op (70) naming it" {
	plugin fail <<-'EOF'
	#include <stdlib.h>
	#include <string.h>
	#include "ds_op.h"
	static int
	init(struct ds_op_ctx *c, int argc, char *const argv[])
	{
		(void)c;
		return argc > 1 && strcmp(argv[1], "init") == 0 ? 3 : 0;
	}
	static int
	tuple(struct ds_op_ctx *c, const struct ds_op_tuple *t)
	{
		(void)c;
		return t->paylen == 4 ? -1 : 0;
	}
	static int
	end(struct ds_op_ctx *c)
	{
		(void)c;
		return getenv("FAIL_END") != NULL;
	}
	DS_OP_PLUGIN("failer", init, tuple, NULL, end, NULL);
	EOF
	run -70 --separate-stderr ds-op --plugin "$T/fail.so" init < /dev/null
	[ "$stderr" = "ds-op: fatal: plugin failer: init failed (returned 3)" ]
	printf 'k\tok\nk\tfail\n' | gen > "$T/in"
	run -70 --separate-stderr ds-op --plugin "$T/fail.so" < "$T/in"
	[ "$stderr" = "ds-op: fatal: plugin failer: on_tuple failed (returned -1)" ]
	FAIL_END=1 run -70 --separate-stderr ds-op --plugin "$T/fail.so" < "$T_DATA/empty.frames"
	[ "$stderr" = "ds-op: fatal: plugin failer: on_end failed (returned 1)" ]
}

@test "ds-op: plugin state is per key; over --max-tuple it stops ds-op (65)" {
	plugin st <<-'EOF'
	#include <errno.h>
	#include <string.h>
	#include "ds_op.h"
	static int
	init(struct ds_op_ctx *c, int argc, char *const argv[])
	{
		const void *v;
		size_t l;
		(void)argc; (void)argv;
		/* no current key outside on_tuple and on_timer */
		if (ds_state_get(c, &v, &l) != -1 || errno != EINVAL)
			return 1;
		return ds_timer_set(c, 1) != -1;
	}
	static int
	tuple(struct ds_op_ctx *c, const struct ds_op_tuple *t)
	{
		const void *v = "";
		size_t l = 0;
		static const char big[100];
		if (t->paylen == 3 && memcmp(t->payload, "del", 3) == 0)
			return ds_state_del(c);
		if (t->paylen == 3 && memcmp(t->payload, "big", 3) == 0)
			return ds_state_put(c, big, sizeof(big)) == -1 ? 0 : 0;
		ds_state_get(c, &v, &l);
		if (ds_emit(c, t->key, t->keylen, v, l, 0) == -1)
			return 1;
		return ds_state_put(c, t->payload, t->paylen) == -1 ? 0 : 0;
	}
	DS_OP_PLUGIN("st", init, tuple, NULL, NULL, NULL);
	EOF
	printf 'a\t1\nb\t2\na\t3\na\tdel\na\t4\nb\t5\n' | gen > "$T/in"
	run -0 opkp --plugin "$T/st.so" < "$T/in"
	[ "$output" = "$(printf 'a\t\nb\t\na\t1\na\t\nb\t2')" ]
	printf 'a\tbig\n' | gen > "$T/in"
	run -65 --separate-stderr ds-op --max-tuple 50 --plugin "$T/st.so" < "$T/in"
	[ "$stderr" = "ds-op: fatal: plugin st stored a state of 100 bytes, over --max-tuple 50" ]
}

@test "ds-op: plugin timers fire per key with that key current" {
	mkfifo "$T/fifo"
	ds-op --plugin "$TOP/examples/plugins/idle.so" 100 < "$T/fifo" > "$T/out" 3>&- &
	bg=$!
	exec 5> "$T/fifo"
	printf 'a\t1\na\t1\nb\t1\na\t1\n' | gen -n >&5
	wait_for '[ "$(kp < "$T/out" | sort | tr "\n" " ")" = "a	3 b	1 " ]'
	printf 'a\t1\n' | gen -n >&5
	wait_for '[ "$(kp < "$T/out" | tail -1)" = "a	1" ]'
	gen_end 5 1 >&5	# 5 tuples; gen numbered the last one 1
	exec 5>&-
	wait "$bg"
	bg=
}

@test "ds-op: pending timers are dropped at the end of input" {
	printf 'a\t1\n' | gen > "$T/in"
	run -0 sh -c 'ds-op --plugin "$1" 60000 < "$2" | cmp - "$T_DATA/empty.frames"' _ "$TOP/examples/plugins/idle.so" "$T/in"
}

@test "ds-op: a plugin's on_end iterates the state: mean.so gives one mean per key, in key order" {
	seq 1 3000 | awk '{ print "k" $1 % 17, ($1 * 31) % 1000 / 8 }' > "$T/lines"
	echo 'k3 not-a-number' >> "$T/lines"
	awk '$2 ~ /^[0-9.]+$/ { n[$1]++; s[$1] += $2 } END {
		for (k in n) printf "%s\t%.17g\n", k, s[k] / n[k] }' "$T/lines" |
	    sort > "$T/want"
	ds-source --key-field 1 < "$T/lines" |
	    ds-op --plugin "$TOP/examples/plugins/mean.so" | ds-sink > "$T/got"
	cmp "$T/want" "$T/got"
}

@test "ds-op: ds_next_key: in on_end only; put and del on the key it made current" {
	plugin iter <<-'EOF'
	#include <errno.h>
	#include <string.h>
	#include "ds_op.h"
	static int
	tuple(struct ds_op_ctx *c, const struct ds_op_tuple *t)
	{
		const void *k;
		size_t it = 0, kl;
		if (ds_next_key(c, &it, &k, &kl) != -1 || errno != EINVAL)
			return 2;
		return ds_state_put(c, t->payload, t->paylen);
	}
	/* Two rounds: the first deletes "b" and doubles the others, the
	 * second emits what is left. */
	static int
	end(struct ds_op_ctx *c)
	{
		const void *k, *v;
		size_t it = 0, kl, vl;
		char buf[64];
		int rc;
		while ((rc = ds_next_key(c, &it, &k, &kl)) == 1) {
			if (ds_state_get(c, &v, &vl) != 1 || vl > 32)
				return 3;
			if (kl == 1 && memcmp(k, "b", 1) == 0) {
				if (ds_state_del(c) != 0)
					return 4;
				continue;
			}
			memcpy(buf, v, vl);
			memcpy(buf + vl, v, vl);
			if (ds_state_put(c, buf, 2 * vl) != 0)
				return 5;
		}
		if (rc != 0 || ds_state_get(c, &v, &vl) != -1 || errno != EINVAL)
			return 6;
		for (it = 0; (rc = ds_next_key(c, &it, &k, &kl)) == 1;)
			if (ds_state_get(c, &v, &vl) != 1 ||
			    ds_emit(c, k, kl, v, vl, 0) != 0)
				return 7;
		return rc;
	}
	DS_OP_PLUGIN("iter", NULL, tuple, NULL, end, NULL);
	EOF
	printf 'c\t3\nb\t2\na\t1\naa\t4\n\t0\n' | gen > "$T/in"
	run -0 opkp --plugin "$T/iter.so" < "$T/in"
	[ "$output" = "$(printf '\t00\na\t11\naa\t44\nc\t33')" ]
}

# --- the operator protocol ----------------------------------------------

@test "ds-op: --exec count in awk, Python and sh equals --builtin count" {
	cd "$TOP"
	seq 1 2000 | awk '{ print "k" $1 % 13 "\t" $1 }' | gen > "$T/in"
	ds-op --builtin count < "$T/in" | dump > "$T/want"
	for p in 'awk -f examples/exec/count.awk' 'python3 examples/exec/count.py' \
	    'sh examples/exec/count.sh'; do
		ds-op --exec "$p" < "$T/in" | dump > "$T/got"
		run -0 cmp "$T/want" "$T/got"
	done
}

@test "ds-op: --exec keeps a key's requests in order, one in flight (single key)" {
	cd "$TOP"
	seq 1 1000 | awk '{ print "only\t" $1 }' | gen > "$T/in"
	ds-op --exec 'awk -f examples/exec/count.awk' < "$T/in" | kp > "$T/out"
	run -0 cut -f2 "$T/out"
	[ "$(echo $output)" = "$(echo $(seq 1 1000))" ]
}

@test "ds-op: the acceptance pipeline gives the same counts for all five operators" {
	cd "$TOP"
	seq 1 100000 | awk '{print "k" $1 % 97, $1}' > "$T/lines"
	ds-source --key-field 1 < "$T/lines" | ds-op --builtin count | ds-sink | sort > "$T/want"
	[ "$(wc -l < "$T/want")" -eq 100000 ]
	for op in "--plugin examples/plugins/count.so" \
	    "--exec 'awk -f examples/exec/count.awk'" \
	    "--exec 'python3 examples/exec/count.py'" \
	    "--exec 'sh examples/exec/count.sh'"; do
		eval "ds-source --key-field 1 < '$T/lines' | ds-op $op | ds-sink" |
		    sort > "$T/got"
		run -0 cmp "$T/want" "$T/got"
	done
}

@test "ds-op: fields are escaped both ways: TAB, newline, CR, backslash; NUL is raw" {
	cat > "$T/echo.py" <<-'EOF'
	import sys
	log = open(sys.argv[1], "ab")
	for l in sys.stdin.buffer:
	    if l == b"\n":
	        continue
	    log.write(l)
	    log.flush()
	    f = l.rstrip(b"\n").split(b"\t")
	    sys.stdout.buffer.write(b"E\t" + f[1] + b"\t" + f[3] + b"\nD\n")
	    sys.stdout.buffer.flush()
	EOF
	printf '%s\t%s\n' 'k\ty' 'p\\q\tr\ns\rt\x00u' | gen > "$T/in"
	ds-op --exec "python3 '$T/echo.py' '$T/req'" < "$T/in" | dump > "$T/out"
	printf 'bundle 1\n1\t1001\t-\tk\\ty\tp\\\\q\\tr\\ns\\rt\\0u\n' > "$T/want"
	run -0 diff "$T/want" "$T/out"
	printf 'T\tk\\ty\t\tp\\\\q\\tr\\ns\\rt\0u\n' > "$T/want"
	run -0 cmp "$T/want" "$T/req"
}

@test "ds-op: S replaces the key's state, an empty S deletes it, and state is escaped" {
	printf 'a\t1\na\t2\na\t3\nb\t4\n' | gen > "$T/in"
	cat > "$T/p.sh" <<-'EOF'
	tab=$(printf '\t')
	while IFS= read -r l; do
		[ -z "$l" ] && continue
		printf '%s\n' "$l" >> "$0.req"
		case $l in
		*"${tab}3") printf 'S\t\nD\n' ;;
		*) printf 'S\tx\\ty\\\\\nD\n' ;;
		esac
	done
	EOF
	run -0 ds-op --exec "sh $T/p.sh" < "$T/in"
	[ "$(cat "$T/p.sh.req")" = "$(printf 'T\ta\t\t1\nT\ta\tx\\ty\\\\\t2\nT\ta\tx\\ty\\\\\t3\nT\tb\t\t4')" ]
}

@test "ds-op: E lines after the end of input are taken, with the largest input time" {
	printf 'a\t1\t50\nb\t2\t70\nc\t3\t60\n' | gen > "$T/in"
	ds-op --exec 'awk '\''$1 == "T" { n++; print "D"; fflush() } END { print "E\ttotal\t" n }'\''' < "$T/in" | dump > "$T/out"
	printf 'bundle 1\n1\t70\t-\ttotal\t3\n' > "$T/want"
	run -0 diff "$T/want" "$T/out"
}

@test "ds-op: the program gets DS_EXEC_PROTOCOL=1 and no NOTIFY_SOCKET" {
	NOTIFY_SOCKET=/nonexistent/sock run -0 ds-op --exec \
	    "env > '$T/env'; cat > /dev/null" < "$T_DATA/empty.frames"
	run -1 grep NOTIFY_SOCKET "$T/env"
	run -0 grep -x DS_EXEC_PROTOCOL=1 "$T/env"
}

@test "ds-op: a program writing much more than it reads does not deadlock" {
	# 1.6 MB of requests at once, and 50 KB of answers to each one
	cat > "$T/much.awk" <<-'EOF'
	BEGIN { pad = sprintf("%1000s", "") }
	$1 == "T" { for (i = 0; i < 50; i++) print "E\tk\t" pad; print "D"; fflush() }
	EOF
	python3 -c 'for i in range(200): print("k%d\t%s" % (i, "x" * 8000))' | gen > "$T/in"
	ds-op --exec "awk -f '$T/much.awk'" < "$T/in" | dump > "$T/out"
	run -0 grep -vc '^bundle' "$T/out"
	[ "$output" -eq 10000 ]
}

@test "ds-op: a program that exits non-zero at the end stops ds-op (70)" {
	printf 'a\t1\n' | gen > "$T/in"
	run -70 --separate-stderr ds-op --exec 'awk -f '"$TOP"'/examples/exec/count.awk; exit 3' < "$T/in"
	[ "$stderr" = "ds-op: fatal: operator program exited with status 3" ]
	run -70 --separate-stderr ds-op --exec 'exit 4' < "$T_DATA/empty.frames"
	[ "$stderr" = "ds-op: fatal: operator program exited with status 4" ]
}

@test "ds-op: a program that dies before answering stops ds-op (70)" {
	printf 'a\t1\n' | gen > "$T/in"
	run -70 --separate-stderr ds-op --exec 'read l; exit 5' < "$T/in"
	[ "$stderr" = "ds-op: fatal: operator program exited with status 5" ]
	run -70 --separate-stderr ds-op --exec 'read l; kill -9 $$' < "$T/in"
	[ "$stderr" = "ds-op: fatal: operator program killed by signal 9" ]
	run -70 --separate-stderr ds-op --exec 'read l' < "$T/in"
	[ "$stderr" = "ds-op: fatal: operator program exited with status 0 before answering all tuples" ]
}

@test "ds-op: a broken answer stops ds-op (76) naming the line, and kills the program" {
	printf 'a\t1\nb\t2\n' | gen > "$T/in"
	run -76 --separate-stderr ds-op --exec 'read l; echo D; echo "X	y"; exec sleep 30' < "$T/in"
	[ "$stderr" = "ds-op: fatal: operator program: line 2: unknown line type 'X'" ]
	run -76 --separate-stderr ds-op --exec 'read l; printf "E\tk\nD\n"; exec sleep 30' < "$T/in"
	[ "$stderr" = "ds-op: fatal: operator program: line 1: E line has 2 fields, want 3" ]
	run -76 --separate-stderr ds-op --exec 'read l; printf "D\textra\n"' < "$T/in"
	[ "$stderr" = "ds-op: fatal: operator program: line 1: D line has 2 fields, want 1" ]
	run -76 --separate-stderr ds-op --exec 'read l; printf "S\tbad\\\\q\nD\n"' < "$T/in"
	[ "$stderr" = "ds-op: fatal: operator program: line 1: bad escape in a field of an S line" ]
	run -76 --separate-stderr ds-op --exec 'read l; printf "E\tk\tv\n"' < "$T/in"
	[ "$stderr" = "ds-op: fatal: operator program: line 2: output ended where D was expected (missing D)" ]
}

@test "ds-op: S or D after the end of input, or a last line without newline, is a protocol error (76)" {
	run -76 --separate-stderr ds-op --exec 'printf "S\tx\n"' < "$T_DATA/empty.frames"
	[ "$stderr" = "ds-op: fatal: operator program: line 1: S line after the end of input" ]
	run -76 --separate-stderr ds-op --exec 'printf "D\n"' < "$T_DATA/empty.frames"
	[ "$stderr" = "ds-op: fatal: operator program: line 1: D line after the end of input" ]
	run -76 --separate-stderr ds-op --exec 'printf "E\tk\tv"' < "$T_DATA/empty.frames"
	[ "$stderr" = "ds-op: fatal: operator program: line 1: last line has no newline" ]
}

@test "ds-op: an answer line over twice --max-tuple is refused (65)" {
	printf 'a\t1\n' | gen > "$T/in"
	run -65 --separate-stderr ds-op --max-tuple 100 --exec \
	    'read l; head -c 100000 /dev/zero | tr "\0" x; exec sleep 30' < "$T/in"
	[[ $stderr == "ds-op: fatal: operator program: line 1 is over 264 bytes" ]]
}

@test "ds-op: a program that reads in blocks (mawk) gets padding and finishes" {
	command -v mawk > /dev/null || skip "no mawk"
	printf 'a\t1\nb\t1\na\t1\n' | gen > "$T/in"
	run -0 opkp --exec "mawk -f '$TOP/examples/exec/count.awk'" < "$T/in"
	[ "$output" = "$(printf 'a\t1\nb\t1\na\t2')" ]
}

@test "ds-op: --exec-end: final.py, answering F requests, equals count --final" {
	cd "$TOP"
	seq 1 2000 | awk '{ print "k" $1 % 13 "\t" $1 }' | gen > "$T/in"
	ds-op --builtin count --final < "$T/in" | dump > "$T/want"
	ds-op --exec-end --exec 'python3 examples/exec/final.py' < "$T/in" | dump > "$T/got"
	cmp "$T/want" "$T/got"
	[ "$(grep -c '^bundle' "$T/got")" -ge 1 ]
}

@test "ds-op: --exec-end sends F, key, state for each key with state, in key order; S and E answer it" {
	# T: the payload becomes the state ("-": none); F: emit the state,
	# delete it.  Every request is logged.
	cat > "$T/p.awk" <<-'EOF'
	BEGIN { FS = OFS = "\t" }
	$0 == "" { next }
	{ print > LOG; fflush(LOG) }
	$1 == "T" { print "S", ($4 == "-" ? "" : $4); print "D"; fflush(); next }
	$1 == "F" { print "E", $2, "final " $3; print "S", ""; print "D"; fflush() }
	EOF
	printf 'b\t2\na\t1\nc\t-\nb\tx\\ty\n' | gen > "$T/in"
	run -0 opkp --exec-end --exec "awk -v LOG='$T/req' -f '$T/p.awk'" < "$T/in"
	[ "$output" = "$(printf 'a\tfinal 1\nb\tfinal x\\ty')" ]
	run -0 grep '^F' "$T/req"
	[ "$output" = "$(printf 'F\ta\t1\nF\tb\tx\\ty')" ]
	# Without --exec-end, no F request.
	rm "$T/req"
	run -0 opkp --exec "awk -v LOG='$T/req' -f '$T/p.awk'" < "$T/in"
	[ -z "$output" ]
	run -1 grep '^F' "$T/req"
}

@test "ds-op: a program that does not flush is named once within 6 s; ds-op keeps waiting" {
	printf 'k1\tv\n' | gen > "$T/in"
	# awk writing to a pipe keeps its output in a buffer without fflush.
	ds-op --exec 'echo $$ > "'"$T"'/cpid"; exec awk '\''NF { print "D" }'\''' \
	    < "$T/in" > /dev/null 2> "$T/err" 3>&- &
	bg=$!
	t0=$(date +%s%N)
	wait_for '[ -s "$T/err" ]' 8
	ms=$((($(date +%s%N) - t0) / 1000000))
	echo "warned after $ms ms" >&2
	[ "$ms" -lt 6000 ] && [ "$ms" -ge 4500 ]
	run -0 cat "$T/err"
	[ "$output" = "ds-op: warning: operator program: no answer for 5 s to request 1 (T for input tuple seq 1, key 'k1'): does it flush its output after each D? (Python: print(..., flush=True) or sys.stdout.flush(); awk: fflush(); C: fflush(stdout)); still waiting" ]
	# Not an error: it still waits, and says it once.
	sleep 1
	kill -0 "$bg"
	[ "$(wc -l < "$T/err")" -eq 1 ]
	cpid=$(cat "$T/cpid")
	kill "$bg"
	wait "$bg" || true
	bg=
	wait_for "! kill -0 $cpid 2>/dev/null" 10
}

# --- bad input and output ------------------------------------------------

@test "ds-op: input that is not a frame stream is refused (76)" {
	run -76 --separate-stderr sh -c 'echo hello | ds-op --builtin identity'
	[ "$stderr" = "ds-op: fatal: stdin: bad frame at offset 0: bad magic (not a dstream frame stream)" ]
}

@test "ds-op: a truncated or corrupt frame is refused (65) after the good bundles" {
	printf 'a\t1\n--\nb\t2\n' | gen > "$T/in"
	head -c -47 "$T/in" > "$T/trunc"	# the END and 3 bytes of b
	run -65 --separate-stderr opkp --builtin identity < "$T/trunc"
	[ "$output" = "$(printf 'a\t1')" ]
	[ "$stderr" = "ds-op: fatal: stdin: stream cut: truncated frame payload at offset 59, after 1 tuple (last seq 1)" ]
	python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[-45] ^= 1; sys.stdout.buffer.write(b)' "$T/in" > "$T/bad"
	run -65 --separate-stderr ds-op --builtin identity < "$T/bad"
	[[ $stderr == *"checksum mismatch"* ]]
}

@test "ds-op: running out of memory is a system error (71)" {
	if grep -q __asan_init "$TOP/bin/ds-op"; then
		skip "address-space limits do not work under ASan"
	fi
	seq 1 500000 | ds-source --key-field 1 > "$T/in"
	run -71 --separate-stderr sh -c 'ulimit -v 40000 && exec ds-op --builtin count < "$1" > /dev/null' _ "$T/in"
	[[ $stderr == "ds-op: fatal: out of memory"* ]]
}

@test "ds-op: a closed stdout is an I/O error (74)" {
	seq 1 300000 | ds-source > "$T/in"
	run -74 --separate-stderr sh -c '(ds-op --builtin identity < "$1"; echo $? > "$1.rc") | head -c 10 > /dev/null; exit $(cat "$1.rc")' _ "$T/in"
	[ "$stderr" = "ds-op: fatal: unable to write stdout: Broken pipe" ]
}
