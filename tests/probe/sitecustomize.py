"""Loaded by Python as it starts, when a test puts this folder on PYTHONPATH: the first
import of the module named by STARTUP_PROBE prints "importing NAME" on standard error and
waits for a line on standard input, so that a test can send a signal at that moment of a
script's start-up, then let it go on."""

import os
import sys


class Probe:
    def find_spec(self, name, path=None, target=None):
        if name == os.environ.get("STARTUP_PROBE"):
            sys.meta_path.remove(self)
            print(f"importing {name}", file=sys.stderr, flush=True)
            sys.stdin.readline()
        return None  # the usual finders import it


sys.meta_path.insert(0, Probe())
