#!/usr/bin/env python3
"""final.py: the keyed count as a final table, for
`ds-op --exec-end --exec 'python3 examples/exec/final.py'` (ds-op(1),
OPERATOR PROTOCOL); its output equals `ds-op --builtin count --final`.

Each request "T <TAB> key <TAB> state <TAB> payload" only updates the
state (S) and says D: nothing is emitted per tuple.  With --exec-end,
at the end of input ds-op sends "F <TAB> key <TAB> state" for every key
that has state, in key order; the answer emits the key's count (E).
stdout is flushed after every D: ds-op waits for each answer (and warns
after 5 s of silence that a flush may be missing).
"""
import sys


def main():
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        if line == b"\n":
            continue  # padding
        f = line.rstrip(b"\n").split(b"\t")
        if f[0] == b"T" and len(f) == 4:
            out.write(b"S\t%d\nD\n" % (int(f[2] or b"0") + 1))
        elif f[0] == b"F" and len(f) == 3:
            out.write(b"E\t%s\t%s\nD\n" % (f[1], f[2]))
        else:
            sys.exit("final.py: unexpected line: %r" % line)
        out.flush()


main()
