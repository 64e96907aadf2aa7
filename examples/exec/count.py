#!/usr/bin/env python3
"""count.py: the keyed running count as an operator program, for
`ds-op --exec 'python3 examples/exec/count.py'` (ds-op(1), OPERATOR
PROTOCOL).

Each request "T <TAB> key <TAB> state <TAB> payload" gets the new state
(S), one output tuple (E) and D.  It works on bytes, so keys need not be
UTF-8, and copies the key through still escaped.  stdout is flushed after
every D: ds-op waits for the answer before it sends that key again.
"""
import sys


def main():
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        if line == b"\n":
            continue  # padding
        f = line.rstrip(b"\n").split(b"\t")
        if f[0] != b"T" or len(f) != 4:
            sys.exit("count.py: unexpected line: %r" % line)
        n = int(f[2] or b"0") + 1
        out.write(b"S\t%d\nE\t%s\t%d\nD\n" % (n, f[1], n))
        out.flush()


main()
