"""Worker processes of one torch.distributed group on this machine, for the data-parallel
lesson: started fast, stopped cleanly, and a failure in one line.

The workers are forked from a server process that has imported torch once (the first time
this process starts workers): a worker then starts in a fraction of a second, instead of
importing torch again. Where the system has no fork server (Windows), they are spawned.
"""

import logging
import multiprocessing
import os
import re
import sys
import threading
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from plumbing.run import QuietWhenClosed, signals_held

TIMEOUT = 60  # seconds a worker waits for the others before it gives up (--timeout)


class WorkerFailed(Exception):
    """A worker process died or raised: the run cannot go on."""


def _worker(rank, workers, port, device, function, args, results, timeout):
    """One started worker: join the group at the parent's store, run function(*args), and
    hand rank 0's result back to the parent."""
    # Rank 0 may print; a reader that goes away (| head) must not crash it mid-run.
    sys.stdout = QuietWhenClosed(sys.stdout)
    # A worker whose parent is gone (killed, say) ends at once, instead of working on.
    parent = multiprocessing.parent_process()
    threading.Thread(target=lambda: (parent.join(), os._exit(1)), daemon=True).start()
    store = dist.TCPStore("127.0.0.1", port, is_master=False, timeout=timedelta(seconds=timeout))
    join_group(device, rank, workers, store=store, timeout=timeout)
    try:
        result = function(*args)
        if rank == 0:
            results.put(result)
    finally:
        dist.destroy_process_group()


def join_group(device, rank=None, workers=None, store=None, timeout=TIMEOUT):
    """Join the process group: gloo on the CPU, NCCL and this worker's own GPU with cuda.
    With no store, from torchrun's environment."""
    if device == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", rank)))
    joining = dict(store=store, rank=rank, world_size=workers) if store else {}
    dist.init_process_group("nccl" if device == "cuda" else "gloo",
                            timeout=timedelta(seconds=timeout), **joining)


def meeting_point(port=0, timeout=TIMEOUT):
    """The group's meeting point, held by the parent: a TCPStore on 127.0.0.1:port (port 0:
    one the system says is free). Taken before any worker starts, it cannot be taken by
    another program in between. A port that cannot be had raises OSError, with the
    system's reason."""
    try:
        return dist.TCPStore("127.0.0.1", port, is_master=True, wait_for_workers=False,
                             timeout=timedelta(seconds=timeout))
    except dist.DistNetworkError as error:
        reason = re.search(r"message: ([^\n]+)", str(error))  # e.g. address already in use
        raise OSError(f"cannot listen on 127.0.0.1:{port}: "
                      f"{reason.group(1) if reason else 'refused'}") from None


def start_workers(workers, function, args=(), store=None, device="cpu", timeout=TIMEOUT):
    """Run function(*args) on `workers` processes of one group on this machine, meeting at
    `store` (by default a new meeting_point()), and return rank 0's result. `function`
    must live at the top level of a module: the workers receive it by name.

    A worker that dies or fails raises WorkerFailed, once the others are stopped, and so
    does one that waits more than `timeout` seconds for the others (one stopped or stuck);
    Ctrl-C or SIGTERM stops the workers, then goes on as usual.
    """
    store = meeting_point(timeout=timeout) if store is None else store
    # forkserver where the system has it (Linux, macOS), else spawn (Windows).
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = mp.get_context(method)
    # spawn logs each worker it stops; the one line of WorkerFailed says what happened.
    logging.getLogger("torch.multiprocessing.spawn").setLevel(logging.ERROR)
    result = None
    try:
        # While the workers start, a stop signal waits (a worker half-started would print a
        # traceback); then the workers are stopped. The fork server and multiprocessing's
        # resource tracker (started for the queue's lock) start with the stop signals
        # ignored, and so do the workers forked: Ctrl-C, or a closed terminal's SIGHUP sent
        # to every process of the job, is for this process.
        with signals_held():
            with signals_held(ignore=True):
                results = context.SimpleQueue()
                if method == "forkserver":
                    from multiprocessing import forkserver

                    # It looks for modules by the standard path only: torch is there.
                    context.set_forkserver_preload(["torch", "torch.distributed"])
                    forkserver.ensure_running()
            running = mp.start_processes(
                _worker, args=(workers, store.port, device, function, args, results, timeout),
                nprocs=workers, join=False, start_method=method)
        # Read rank 0's result while waiting: a result larger than the pipe's buffer
        # would otherwise keep rank 0 from ending. If a worker dies, join stops the
        # others at once and raises; a worker that failed gets a second to end first.
        while not running.join(timeout=0.05, grace_period=1):
            if result is None and not results.empty():
                result = results.get()
    except mp.ProcessExitedException as error:
        raise WorkerFailed(f"worker {error.error_index} ended with exit code "
                           f"{error.exit_code}; the others were stopped") from None
    except mp.ProcessRaisedException as error:
        last = str(error).strip().splitlines()[-1]
        raise WorkerFailed(f"worker {error.error_index} " + (
            f"waited {timeout:g} s for the others (--timeout) and gave up: one of them is "
            "stopped or stuck; all were stopped" if "timed out" in last.lower() else
            f"failed: {last}")) from None
    except BaseException:  # Ctrl-C, SIGTERM: no worker outlives the run
        for process in multiprocessing.active_children():
            process.kill()
        raise
    return results.get() if result is None else result
