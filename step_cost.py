"""What one step costs, down to the hardware's limit.

One step of the tutorial's batch descent must read every x and every y: 8n bytes in float32.
No step can be faster than that many bytes at the machine's memory bandwidth, measured here
in the same run. This lesson times one step five ways, the rungs taking turns, from the
tutorial's autograd step to the gradient written out, compiled into one pass, and the step
least squares allows: four means of the data taken once, then every step in O(1). Each
rung's path is held to the tutorial's. Run `python step_cost.py --help` for the knobs;
docs/step_cost.md is the lesson. Importing this module only defines things.
"""

from plumbing.run import run_as_command  # first: a stop while the libraries load is one line

# isort: split
import contextlib
import statistics
import time

import torch

from descent import divergence_report, exit_on
from model import criterion, final_loss, forward, largest_distance, stability_bound

START = (-10.0, -20.0)  # the tutorial's (w, b)
SIZES = [1_000, 10_000, 100_000, 1_000_000, 10_000_000]
LARGE = 100_000_000
BANDWIDTH_BYTES = 2**28  # 256 MB: far more than any cache, so the sum reads main memory
# The most one size's work holds at once, a sample: x and y, a step's temporaries of n
# floats, the moments' float64 copies. Checked before the data is made (about 3 GB at LARGE).
BYTES_A_SAMPLE = 32
TEST_ARGS = ["--sizes", "1000", "20000", "--repeats", "1", "--no-compile"]

# The knobs, {name: (type, interval, help)}, beside their defaults; --lr and --device are
# the shared ones (plumbing/options.py).
OPTIONS = {
    "sizes": (int, "[100, 10_000_000]", "data sizes n", {"nargs": "+", "most": 20}),
    "large": (bool, None, f"also n = {LARGE:,}, where memory allows (about 3 GB)"),
    "repeats": (int, "[1, 20]", "timings of every rung at every n, taking turns; the median "
                "is shown, with the spread"),
    "threads": (int, "[1, 1024]", "threads torch may use for one operation, at most the "
                "machine's CPU cores (os.cpu_count())", {"shown": "torch's"}),
    "no_compile": (bool, None, "leave out rung 4, the compiled gradient (compiling takes "
                   "seconds)"),
}
DEFAULTS = {"sizes": SIZES, "large": False, "repeats": 5, "threads": None, "no_compile": False,
            "lr": 0.1, "device": "cpu"}


# The rungs. Each takes the data, X and Y of shape (n, 1), and the step size, and returns
# (step, where): step() takes one step of batch descent, where() gives (w, b) as floats.

def tutorial(X, Y, lr):
    """train_batch's loop body, exactly: autograd, the .data update, the zeroing."""
    w = torch.tensor(START[0], requires_grad=True, device=X.device)
    b = torch.tensor(START[1], requires_grad=True, device=X.device)
    loss_BGD = []

    def step():
        Y_pred = forward(X, w, b)  # Step 1: forward pass
        loss = criterion(Y_pred, Y)  # Step 2: the loss, stored
        loss_BGD.append(loss.item())
        loss.backward()  # Step 3: backward pass
        w.data = w.data - lr * w.grad.data  # Step 4: the update
        b.data = b.data - lr * b.grad.data
        w.grad.data.zero_()  # Step 5: zero the gradients
        b.grad.data.zero_()

    return step, lambda: (w.item(), b.item())


def optim_sgd(X, Y, lr):
    """The same step with torch.optim.SGD taking Steps 4 and 5."""
    w = torch.tensor(START[0], requires_grad=True, device=X.device)
    b = torch.tensor(START[1], requires_grad=True, device=X.device)
    optimizer = torch.optim.SGD([w, b], lr=lr)

    def step():
        optimizer.zero_grad()  # Step 5, done first
        loss = criterion(forward(X, w, b), Y)  # Steps 1 and 2
        loss.backward()  # Step 3
        optimizer.step()  # Step 4

    return step, lambda: (w.item(), b.item())


def gradient(x, y, w, b):
    """The MSE's gradient written out, no autograd: with r = w*x + b - y,
    dloss/dw = 2 mean(r*x) and dloss/db = 2 mean(r)."""
    r = w * x + b - y
    return 2 * (r * x).mean(), 2 * r.mean()


def by_hand(X, Y, lr, grad=gradient):
    """The gradient by hand: six operations on arrays of n floats (w*x, +b, -y, *x and two
    means), each its own pass over memory, eight reads and four writes of n floats in all."""
    x, y = X.reshape(-1), Y.reshape(-1)
    wb = [torch.tensor(START[0], device=X.device), torch.tensor(START[1], device=X.device)]

    def step():
        grad_w, grad_b = grad(x, y, *wb)
        wb[:] = wb[0] - lr * grad_w, wb[1] - lr * grad_b

    return step, lambda: (wb[0].item(), wb[1].item())


def one_line(error):
    reason = (str(error).strip().splitlines() or [""])[0][:160]
    return f"{type(error).__name__}: {reason}"


def dynamo_missing():
    """Why torch._dynamo, which torch.optim and torch.compile load, cannot load here (an
    unwritable TORCHINDUCTOR_CACHE_DIR, say), or None. Imported once, first: a failed import
    leaves it half-loaded, and every later try fails with an error of its own."""
    try:
        import torch._dynamo  # noqa: F401
    except Exception as error:
        return one_line(error)
    return None


def compile_gradient():
    """`gradient` through torch.compile, which fuses its operations into one pass over x
    and y; or the one-line reason it cannot be compiled here."""
    try:
        compiled = torch.compile(gradient, dynamic=True)
        compiled(torch.ones(8), torch.ones(8), torch.tensor(1.0), torch.tensor(1.0))
    except Exception as error:  # no C++ compiler, an unsupported platform: one line
        return None, one_line(error)
    return compiled, None


def moments(X, Y):
    """The data's sufficient statistics for the MSE's gradient: the means of x^2, x, x*y
    and y. Taken once, in float64: the data widened, then two dot products and two sums."""
    x, y = X.reshape(-1).double(), Y.reshape(-1).double()
    return [value.item() / len(x) for value in (x @ x, x.sum(), x @ y, y.sum())]


def sufficient_statistics(X, Y, lr, taken=None):
    """Every step in O(1): the gradient is linear in (w, b), so it needs only the moments,
    whatever n is: dloss/dw = 2 (w <x^2> + b <x> - <xy>), dloss/db = 2 (w <x> + b - <y>)."""
    xx, x1, xy, y1 = taken or moments(X, Y)
    wb = list(START)

    def step():
        w, b = wb
        grad_w = 2 * (w * xx + b * x1 - xy)
        grad_b = 2 * (w * x1 + b - y1)
        wb[:] = w - lr * grad_w, b - lr * grad_b

    return step, lambda: tuple(wb)


RUNGS = {
    "1 tutorial: autograd, .data update": tutorial,
    "2 torch.optim.SGD": optim_sgd,
    "3 gradient by hand, 6 operations": by_hand,
    "4 gradient by hand, compiled: 1 pass": None,  # by_hand with the compiled gradient
    "5 sufficient statistics: O(1)": sufficient_statistics,
}
CONSTANT = "5 sufficient statistics: O(1)"  # the step that reads no data
MOMENTS = "5 the moments, once"


# The measurements.

class NotEnoughMemory(Exception):
    """Memory that cannot be had here, in one line: what needed it, and how much."""


@contextlib.contextmanager
def allocating(nbytes, what, device):
    """Check, before `what` is built, that nbytes can be had on the device: a block that size
    is taken and given back at once (it costs address space, not memory, until written). An
    allocation inside that still fails is NotEnoughMemory too, never a traceback."""
    try:
        torch.empty(nbytes, dtype=torch.uint8, device=device)
        yield
    except (RuntimeError, MemoryError) as error:
        if not isinstance(error, MemoryError) and "memory" not in str(error):
            raise
        raise NotEnoughMemory(f"{what} needs about {size_text(nbytes)}: not enough memory "
                              "here") from None


def synchronize(device):
    """What a timing waits for: on a GPU the work queued, on the CPU nothing."""
    return torch.cuda.synchronize if device == "cuda" else (lambda: None)


def seconds_per_step(step, steps, sync):
    sync()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return (time.perf_counter() - started) / steps


def bandwidth(device, repeats):
    """Bytes a second of a read-only sum over a 256 MB tensor: [the fastest repeat's, the
    median's, the slowest's]. A sum only reads, as a step must only read x and y; its tensor
    is far larger than the caches, so it measures main memory. The fastest repeat is the
    limit: the most the machine was seen to deliver."""
    big = torch.ones(BANDWIDTH_BYTES // 4, device=device)
    sync = synchronize(device)
    big.sum()
    seconds = [seconds_per_step(big.sum, 1, sync) for _ in range(repeats)]
    return [BANDWIDTH_BYTES / s for s in (min(seconds), statistics.median(seconds),
                                          max(seconds))]


def steps_for(n):
    """Steps a timing runs: enough that a small step's timing is not all clock, few for n
    in the millions."""
    return max(3, min(200, 1_000_000 // n))


def time_rungs(X, Y, lr, rungs, repeats, sync):
    """{rung: [seconds per step, one a repeat]}, the rungs taking turns in a rotating
    order, after one untimed step each; the moments' pass (once a run) timed as a rung."""
    n = len(X)
    made = {name: make(X, Y, lr)[0] for name, make in rungs.items()}
    made[MOMENTS] = lambda: moments(X, Y)
    counts = {name: steps_for(n) for name in made}
    counts[MOMENTS] = max(1, counts[MOMENTS] // 10)
    if CONSTANT in counts:
        counts[CONSTANT] = 1000  # the O(1) step: a thousand, whatever n is
    for step in made.values():
        step()
    timings = {name: [] for name in made}
    names = list(made)
    for repeat in range(repeats):
        for name in names[repeat % len(names):] + names[:repeat % len(names)]:
            timings[name].append(seconds_per_step(made[name], counts[name], sync))
    return timings


def path_of(make, X, Y, lr, steps):
    step, where = make(X, Y, lr)
    path = [where()]
    for _ in range(steps):
        step()
        path.append(where())
    return path


def parts_of_a_step(X, Y, lr, steps, sync):
    """Seconds per step of each part of the tutorial's step, timed one after another: the
    median over the steps, each part's own."""
    w = torch.tensor(START[0], requires_grad=True, device=X.device)
    b = torch.tensor(START[1], requires_grad=True, device=X.device)
    parts = {part: [] for part in ["1 forward", "2 loss", "loss.item()", "3 backward",
                                   "4 update", "5 zero"]}
    for timed in [False] + [True] * steps:  # the first step untimed
        marks = [time.perf_counter()]
        Y_pred = forward(X, w, b)
        sync()
        marks.append(time.perf_counter())
        loss = criterion(Y_pred, Y)
        sync()
        marks.append(time.perf_counter())
        loss.item()
        marks.append(time.perf_counter())
        loss.backward()
        sync()
        marks.append(time.perf_counter())
        w.data = w.data - lr * w.grad.data
        b.data = b.data - lr * b.grad.data
        sync()
        marks.append(time.perf_counter())
        w.grad.data.zero_()
        b.grad.data.zero_()
        sync()
        marks.append(time.perf_counter())
        if timed:
            for number, name in enumerate(parts):
                parts[name].append(marks[number + 1] - marks[number])
    return {name: statistics.median(seconds) for name, seconds in parts.items()}


def operations_of_a_step(X, Y, lr):
    """The operations torch runs for one tutorial step, forward and backward: the names of
    its aten operators, as its dispatcher sees them (views and detaches included)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Record(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.names = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.names.append(func.__name__.split(".")[0])
            return func(*args, **(kwargs or {}))

    step, _ = tutorial(X, Y, lr)
    step()
    with Record() as record:
        step()
    return record.names


def run(args, sizes, out_dir, data, output):
    """Time, check and draw every rung at every n; returns the line saying where the
    tutorial's own run diverged (descent.divergence_report), or None."""
    from train_batch import train_batch

    sync = synchronize(args.device)
    where = (torch.cuda.get_device_name() if args.device == "cuda" else
             f"the CPU, {torch.get_num_threads()} thread"
             f"{'' if torch.get_num_threads() == 1 else 's'}")
    print(f"one step of batch descent, lr={args.lr:g}, from w={START[0]:g} b={START[1]:g}, "
          f"on y = -5*x + N(0, 0.4^2) noise (seed 42), on {where}; torch {torch.__version__}")
    rungs = dict(RUNGS)
    name = "4 gradient by hand, compiled: 1 pass"
    missing = dynamo_missing()
    if missing:  # the other rungs need no compiler
        del rungs["2 torch.optim.SGD"], rungs[name]
        print(f"rungs 2 and 4, torch.optim and torch.compile: not available here, they "
              f"cannot load torch._dynamo ({missing})")
    elif args.no_compile:
        del rungs[name]
    else:
        started = time.perf_counter()
        compiled, reason = compile_gradient()
        if compiled is None:
            del rungs[name]
            print(f"rung 4, torch.compile: not available here ({reason})")
        else:
            rungs[name] = lambda X, Y, lr: by_hand(X, Y, lr, grad=compiled)
            print(f"rung 4, torch.compile of the gradient: compiled in "
                  f"{time.perf_counter() - started:.1f} s")
    with allocating(BANDWIDTH_BYTES, "the bandwidth's sum", args.device):
        rate, median, slowest = bandwidth(args.device, args.repeats)
    print(f"memory bandwidth: {rate / 1e9:.1f} GB/s, a read-only sum of "
          f"{BANDWIDTH_BYTES // 2**20} MB (the fastest of {args.repeats}; median "
          f"{median / 1e9:.1f}, slowest {slowest / 1e9:.1f}); the limit of a step is 8n bytes "
          "at this rate")
    print(f"\ntime of one step, median of {args.repeats}, the rungs taking turns:")
    print(f"{'n':>12}  {'rung':38} {'per step':>10} {'spread':>26} {'reads':>9} "
          f"{'GB/s':>6} {'x limit':>8}")
    rows, distances, skipped, done, diverged = [], {}, [], [], None
    for n in sizes:
        try:
            with allocating(BYTES_A_SAMPLE * n, f"n={n:,}", args.device):
                X, Y = (part.to(args.device) for part in data.make_data(n=n))
                timings = time_rungs(X, Y, args.lr, rungs, args.repeats, sync)
                # Every rung's path, 10 steps, against the tutorial's own function.
                reference = train_batch(X, Y, args.lr, 10, *START, verbose=False)
                diverged = diverged or divergence_report(
                    reference, 1, args.lr, stability_bound(X), "batch descent",
                    final_loss(X, Y, reference))
                for rung, make in rungs.items():
                    gap = largest_distance(path_of(make, X, Y, args.lr, 10), reference.path)
                    distances[rung] = max(distances.get(rung, 0.0), gap)
        except NotEnoughMemory as error:  # at --large, say: the other sizes go on
            skipped.append(str(error))
            continue
        finally:
            X = Y = None  # the next size's memory check finds this one's given back
        done.append(n)
        limit = 8 * n / rate
        for rung, seconds in timings.items():
            median = statistics.median(seconds)
            # What it must read: x and y once (8n bytes); the O(1) step, four numbers.
            reads = 0 if rung == CONSTANT else 8 * n
            row = dict(n=n, rung=rung, seconds=median, low=min(seconds), high=max(seconds),
                       reads=reads, limit=limit)
            rows.append(row)
            print(format_row(row))
    for line in skipped:
        print(line)
    if not done:
        raise NotEnoughMemory("; ".join(skipped))
    if diverged is None:  # a diverged run's paths are far from anything: its line says so
        print("\nlargest distance of each rung's path from train_batch's, 10 steps at every n "
              "(float32 rounding is about 1e-6):")
        for rung, gap in distances.items():
            print(f"  {rung:38} {gap:.1e}")

    print("\nwhere the tutorial's step spends its time (each part timed, its median over the "
          "steps):")
    for n in sorted({done[0], done[-1]}):  # the smallest and the largest
        with allocating(BYTES_A_SAMPLE * n, f"n={n:,}", args.device):
            X, Y = (part.to(args.device) for part in data.make_data(n=n))
            parts = parts_of_a_step(X, Y, args.lr, steps_for(n), sync)
        total = sum(parts.values())
        print(f"  n={n:,}: {total * 1e6:,.1f} us a step; " + ", ".join(
            f"{part} {seconds * 1e6:,.1f} us" for part, seconds in parts.items()))
        if n <= 10_000 and not missing:  # the overhead regime: a fixed cost an operation
            # (counted by a dispatch mode, which needs torch._dynamo too)
            names = operations_of_a_step(X, Y, args.lr)
            print(f"    {len(names)} operations, forward and backward: about "
                  f"{total / len(names) * 1e6:,.1f} us each")
        elif n >= 1_000_000:  # the memory regime: arrays of n floats read in that time
            passes = total * rate / (4 * n)
            print(f"    as long as {passes:.0f} reads of an array of n floats at "
                  f"{rate / 1e9:.1f} GB/s; the math needs 2 (x and y)")

    from plots import step_cost as drawing  # only now: matplotlib's backend has been chosen

    figures = {"step_cost.png": drawing.plot_costs(rows, rate, where)}
    output.save_figures(out_dir, figures)
    if diverged is None:
        output.show_figures(figures, args.show)
    return diverged


def format_row(row):
    """One line of the table: n, rung, median and spread per step, bytes the step must
    read, the rate it reads them at, and the multiple of the bandwidth limit."""
    def us(seconds):
        return f"{seconds * 1e6:,.1f} us" if seconds < 0.01 else f"{seconds * 1e3:,.1f} ms"

    spread = f"({us(row['low'])} to {us(row['high'])})"
    if row["reads"] == 0:  # the O(1) step reads four numbers, not the data
        tail = f"{'-':>9} {'-':>6} {'-':>8}"
    else:
        rate = row["reads"] / row["seconds"] / 1e9
        multiple = row["seconds"] / row["limit"]
        tail = f"{size_text(row['reads']):>9} {rate:6.2f} {multiple:8.1f}"
    return f"{row['n']:>12,}  {row['rung']:38} {us(row['seconds']):>10} {spread:>26} {tail}"


def size_text(nbytes):
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= size:
            return f"{nbytes / size:.0f} {unit}" if nbytes >= 10 * size else \
                f"{nbytes / size:.1f} {unit}"
    return f"{nbytes} B"


def main(argv=None):
    import data
    from plumbing import options, output

    parser = options.Parser("What one batch-descent step costs, five ways, against the "
                            "memory bandwidth limit of reading the data once.")
    options.add_settings(parser, DEFAULTS, OPTIONS)
    args, out_dir = options.parse(parser, argv)
    options.check_device(parser, args.device)
    sizes = sorted(set(args.sizes + ([LARGE] if args.large else [])))
    options.check_threads(parser, args.threads)
    threads = torch.get_num_threads()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:
        exit_on(parser, run(args, sizes, out_dir, data, output))
    except NotEnoughMemory as error:
        parser.exit(1, f"{parser.prog}: error: {error}\n")
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    run_as_command(main)
