"""A stand-in for a lesson script, for the signal and pipe tests: the same plumbing
(plumbing.run.run_as_command, plumbing.output.write_files), none of the lessons' imports, so
that it starts in a fraction of a second and waits where a test tells it to.

    python tests/standin.py OUT MODE [TEXT]

It writes a.txt, b.txt and c.txt, each holding TEXT, into OUT, all at once. MODE:
- plain: just that.
- wait: prints "ready", then waits for a line on its standard input before writing.
- staging: while writing b.txt (half of it written), prints "staging" and waits for a
  line on its standard input.
- chatty: prints "line 0", waits for a line on its standard input, then prints 10,000
  more lines before writing (its reader may be gone by then).
- after: writes them, prints "in place", then waits for a line on its standard input.
- workers: starts two worker processes (plumbing.workers) and waits; rank 0 prints
  "working" once the group has met.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plumbing.output import write_files  # noqa: E402
from plumbing.run import run_as_command  # noqa: E402


def wait_in_a_worker():
    import threading

    import torch.distributed as dist

    if dist.get_rank() == 0:
        print("working", flush=True)
    threading.Event().wait()  # until stopped


def main():
    out, mode, text = sys.argv[1], sys.argv[2], (sys.argv[3:] or ["new"])[0]

    def write(path, wait=False):
        with open(path, "w") as handle:
            handle.write(text[:len(text) // 2])
            if wait:
                handle.flush()
                print("staging", flush=True)
                sys.stdin.readline()
            handle.write(text[len(text) // 2:])

    if mode == "workers":
        from plumbing.workers import start_workers

        start_workers(2, wait_in_a_worker)
    if mode in ("wait", "chatty"):
        print("ready" if mode == "wait" else "line 0", flush=True)
        sys.stdin.readline()
    if mode == "chatty":
        for number in range(1, 10_001):
            print(f"line {number}")
    writers = {name: lambda path, name=name: write(path, mode == "staging" and name == "b.txt")
               for name in ("a.txt", "b.txt", "c.txt")}
    for path in write_files(out, writers):
        print(f"wrote {path}")
    if mode == "after":
        print("in place", flush=True)
        sys.stdin.readline()


if __name__ == "__main__":
    run_as_command(main)
