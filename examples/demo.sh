#!/bin/sh
# examples/demo.sh: the demo `make demo` runs.  A synthetic access log goes
# through dstream pipelines; each step prints what it computed.
set -eu
cd "$(dirname "$0")/.."
PATH="$PWD/bin:$PATH"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 20 000 log lines: user, URL, status, bytes; some users are far busier.
awk 'BEGIN {
	srand(7)
	split("/ /login /cart /search /api/items /api/price", url, " ")
	for (i = 1; i <= 20000; i++) {
		u = int(rand() * rand() * 40)
		printf "user%02d %s %d %d\n", u, url[1 + int(rand() * 6)],
		    rand() < 0.05 ? 500 : 200, 200 + int(rand() * 4000)
	}
}' > "$tmp/access.log"

echo "== running count per user (last 5 results)"
ds-source --file "$tmp/access.log" --key-field 1 |
    ds-op --builtin count | ds-sink | tail -5

echo "== top 5 users by requests"
ds-source --file "$tmp/access.log" --key-field 1 |
    ds-op --builtin topk 5 | ds-sink

echo "== server errors per URL (filter, then count), final values"
ds-source --file "$tmp/access.log" --key-field 2 |
    ds-op --builtin filter --match ' 500 ' | ds-op --builtin count |
    ds-sink | awk -F '\t' '{ last[$1] = $2 } END { for (k in last) print k "\t" last[k] }' |
    sort

echo "== bytes served per user (built-in sum), first three users"
ds-source --file "$tmp/access.log" --key-field 1 |
    ds-op --builtin sum 4 | ds-sink | sort -t "$(printf '\t')" -k1,1 -s |
    awk -F '\t' '{ last[$1] = $2 } END { for (k in last) print k, last[k] }' |
    sort | head -3
echo "== the same count in awk, Python and a C plugin agree with the built-in"
for op in "--builtin count" "--exec 'awk -f examples/exec/count.awk'" \
    "--exec 'python3 examples/exec/count.py'" \
    "--plugin examples/plugins/count.so"; do
	eval "ds-source --file \"$tmp/access.log\" --key-field 1 | ds-op $op | ds-sink" |
	    sort | cksum | sed "s|^|$op: |"
done

echo "== the word count as a topology under ds-master (4 counting instances): top 5 words"
ds-master run -q examples/wordcount/wordcount.topo |
    awk -F '\t' '{ if ($2 > last[$1]) last[$1] = $2 } END { for (w in last) print last[w], w }' |
    sort -rn | head -5
