#!/bin/sh
# count.sh: the keyed running count as an operator program in POSIX sh,
# for `ds-op --exec 'sh examples/exec/count.sh'` (ds-op(1), OPERATOR
# PROTOCOL).  Each request "T <TAB> key <TAB> state <TAB> payload" is
# answered with the new state, one output tuple and D.  Fields stay
# escaped (no raw TAB or newline can occur in them), so the key is copied
# through as is.  printf is a shell builtin that writes at once: no
# buffering to flush.  Slow (a few thousand tuples per second): it shows
# the protocol, it is not how to count.
tab=$(printf '\t')
while IFS= read -r line; do
	case $line in
	"") continue ;;		# padding
	T"$tab"*) ;;
	*) echo "count.sh: unexpected line: $line" >&2; exit 1 ;;
	esac
	rest=${line#T"$tab"}
	key=${rest%%"$tab"*}
	rest=${rest#*"$tab"}
	state=${rest%%"$tab"*}
	n=$((${state:-0} + 1))
	printf 'S\t%s\nE\t%s\t%s\nD\n' "$n" "$key" "$n"
done
