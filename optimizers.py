"""Cures for the zig-zag: momentum, Nesterov and adaptive steps, each one update function.

Each function is Step 4 of the tutorial's loop, run by `descent.train`: the loop has done
the forward pass (Step 1), the loss (Step 2) and `backward()` (Step 3), and zeroes the
gradients afterwards (Step 5).
`params` is [w, b], `state` a dict that lives for the whole run, `hyperparams` a dict.
Each follows the rule `torch.optim` implements in the pinned torch exactly (read
torch/optim/sgd.py, adagrad.py, rmsprop.py, adam.py, adamw.py); tests/test_optimizers.py holds every
path to torch.optim's. The updates run under `torch.no_grad()`, as PyTorch's own
optimizers and Dive into Deep Learning do: an in-place change autograd is told about.

Below the updates: the theory of the full-batch runs, from the data's Hessian, and the
phase diagram's grid run. Run `python optimizers.py --help` for the knobs;
docs/optimizers.md is the lesson. Importing this module only defines things.
"""

from plumbing.run import run_as_command  # first: a stop while the libraries load is one line

# isort: split
import torch

from data import standardise
from descent import divergence_report, exit_on, print_summary, train
from lines import bound_warning, count, least_squares_line, short
from model import (
    criterion,
    final_loss,
    forward,
    hessian_eigenvalues,
    least_squares,
    mse_surface,
    stability_bound,
)


def gd(params, state, hyperparams):
    """Plain descent: p <- p - lr * g."""
    with torch.no_grad():
        for p in params:
            p -= hyperparams["lr"] * p.grad


def velocities(params, state, beta):
    """PyTorch's momentum buffer, one step on: v <- beta * v + g, and v = g at the first
    step (torch.optim.SGD with dampening 0). Kept in state["velocity"]."""
    velocity = state.setdefault("velocity", [None] * len(params))
    with torch.no_grad():
        for i, p in enumerate(params):
            if velocity[i] is None:
                velocity[i] = p.grad.clone()
            else:
                velocity[i].mul_(beta).add_(p.grad)
    return velocity


def momentum(params, state, hyperparams):
    """Heavy ball, as torch.optim.SGD(momentum=beta):
        v <- beta * v + g   (v = g at the first step)
        p <- p - lr * v
    The velocity v remembers past gradients, each step shrinking them by beta: along the
    valley floor they point the same way and add up, across it they alternate and cancel.
    (Texts after Sutskever et al. put lr inside: v <- beta * v + lr * g, p <- p - v; with a
    constant lr the two give the same path.)
    """
    with torch.no_grad():
        for p, v in zip(params, velocities(params, state, hyperparams["momentum"]), strict=True):
            p -= hyperparams["lr"] * v


def nesterov(params, state, hyperparams):
    """Nesterov momentum, as torch.optim.SGD(momentum=beta, nesterov=True):
        v <- beta * v + g   (v = g at the first step)
        p <- p - lr * (g + beta * v)
    The step looks one velocity ahead: g + beta * v is where heavy ball's next step will
    point, so an overshoot is corrected one step sooner.
    """
    beta = hyperparams["momentum"]
    with torch.no_grad():
        for p, v in zip(params, velocities(params, state, beta), strict=True):
            p -= hyperparams["lr"] * (p.grad + beta * v)


def adagrad(params, state, hyperparams):
    """Adagrad, as torch.optim.Adagrad:
        s <- s + g^2
        p <- p - lr * g / (sqrt(s) + eps)
    The sum of squares s remembers how steep each parameter has been: the steep w gets
    small steps, the shallow b larger ones. s only grows, so every step shrinks for good.
    """
    eps = hyperparams.get("eps", 1e-10)
    squares = state.setdefault("sum_of_squares", [torch.zeros_like(p) for p in params])
    with torch.no_grad():
        for p, s in zip(params, squares, strict=True):
            s.addcmul_(p.grad, p.grad)
            p -= hyperparams["lr"] * p.grad / (s.sqrt() + eps)


def rmsprop(params, state, hyperparams):
    """RMSprop, as torch.optim.RMSprop (momentum 0 by default):
        s <- alpha * s + (1 - alpha) * g^2
        u <- momentum * u + g / (sqrt(s) + eps)      (u = 0 at the start)
        p <- p - lr * u
    Like Adagrad, but s is a running average that forgets: steps stop shrinking for good.
    eps is added outside the square root, as PyTorch does (some texts put it inside).
    """
    alpha, beta = hyperparams.get("alpha", 0.99), hyperparams.get("momentum", 0.0)
    eps = hyperparams.get("eps", 1e-8)
    squares = state.setdefault("square_average", [torch.zeros_like(p) for p in params])
    steps = state.setdefault("step_average", [torch.zeros_like(p) for p in params])
    with torch.no_grad():
        for p, s, u in zip(params, squares, steps, strict=True):
            s.mul_(alpha).addcmul_(p.grad, p.grad, value=1 - alpha)
            scaled = p.grad / (s.sqrt() + eps)
            if beta > 0:
                u.mul_(beta).add_(scaled)
                scaled = u
            p -= hyperparams["lr"] * scaled


def adam(params, state, hyperparams):
    """Adam, as torch.optim.Adam:
        m <- beta1 * m + (1 - beta1) * g              (the mean gradient)
        v <- beta2 * v + (1 - beta2) * g^2            (the mean square gradient)
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    m and v start at 0, so early on they are too small; dividing by 1 - beta^t (t the step
    count) corrects that. eps is added after the bias correction of v, as PyTorch does.
    """
    beta1, beta2 = hyperparams.get("betas", (0.9, 0.999))
    eps = hyperparams.get("eps", 1e-8)
    means = state.setdefault("m", [torch.zeros_like(p) for p in params])
    squares = state.setdefault("v", [torch.zeros_like(p) for p in params])
    state["t"] = t = state.get("t", 0) + 1
    with torch.no_grad():
        for p, m, v in zip(params, means, squares, strict=True):
            m.lerp_(p.grad, 1 - beta1)
            v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
            denominator = v.sqrt() / (1 - beta2**t) ** 0.5 + eps
            p -= hyperparams["lr"] / (1 - beta1**t) * m / denominator


def adamw(params, state, hyperparams):
    """AdamW, as torch.optim.AdamW: each step first shrinks the parameters towards 0,
        p <- p * (1 - lr * weight_decay)
    then takes Adam's step, from the gradient alone. Adam's own weight_decay adds
    weight_decay * p to the gradient, where the adaptive step rescales it; AdamW's decay is
    decoupled from the gradient (Loshchilov and Hutter), the same pull whatever the
    curvature. On this data it pulls the fit away from least squares, towards (0, 0).
    """
    with torch.no_grad():
        for p in params:
            p.mul_(1 - hyperparams["lr"] * hyperparams.get("weight_decay", 1e-2))
    adam(params, state, hyperparams)


# Every method: {name: (its update, the settings it runs with unless told otherwise)}.
# torch.optim's defaults for eps, alpha and the betas; a step size and momentum that suit
# the tutorial's data (its curvatures are about 2.0 and 16.7). torch.optim's default steps
# (0.001 for Adam, 0.01 for RMSprop and Adagrad) are sized for networks; here the start is
# 20 away, and an adaptive method moves each parameter by about lr a step at first.
METHODS = {
    "gd": (gd, {"lr": 0.1}),  # the tutorial's step
    "momentum": (momentum, {"lr": 0.1, "momentum": 0.5}),  # plain descent's, with momentum
    "nesterov": (nesterov, {"lr": 0.05, "momentum": 0.5}),  # its edge at 0.5 is about 0.09
    "adagrad": (adagrad, {"lr": 5.0, "eps": 1e-10}),
    "rmsprop": (rmsprop, {"lr": 0.5, "alpha": 0.99, "momentum": 0.0, "eps": 1e-8}),
    "adam": (adam, {"lr": 0.5, "betas": (0.9, 0.999), "eps": 1e-8}),
    "adamw": (adamw, {"lr": 0.5, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2}),
}
UPDATES = {name: update for name, (update, _) in METHODS.items()}
DEFAULTS = {name: defaults for name, (_, defaults) in METHODS.items()}


# The theory, from the data's own Hessian. On a quadratic loss each method moves each
# eigen-direction of the Hessian (curvature lam) on its own, by a small linear iteration;
# the largest modulus of that iteration's eigenvalues, over both curvatures, is how much
# the distance to least squares shrinks per step once the start is forgotten.

def iteration(method, lr, lam, beta=0.0):
    """The matrix taking (x, v) one step on, for the distance x along a direction of
    curvature lam (gradient lam * x) and the velocity v (PyTorch's conventions)."""
    if method == "gd":
        return torch.tensor([[1 - lr * lam]], dtype=torch.float64)
    if method == "momentum":
        # v' = beta v + lam x;  x' = x - lr v'
        return torch.tensor([[1 - lr * lam, -lr * beta], [lam, beta]], dtype=torch.float64)
    if method == "nesterov":
        # v' = beta v + lam x;  x' = x - lr (lam x + beta v')
        return torch.tensor([[1 - lr * lam * (1 + beta), -lr * beta**2], [lam, beta]],
                            dtype=torch.float64)
    raise ValueError(f"no linear theory for {method!r}")


def predicted_rate(method, lr, curvatures, beta=0.0):
    """The per-step shrink of the distance to least squares: the largest spectral radius
    of the method's iteration over the Hessian's curvatures (above 1: it diverges)."""
    return max(torch.linalg.eigvals(iteration(method, lr, lam, beta)).abs().max().item()
               for lam in curvatures)


def stability_edge(method, plain_bound, beta=0.0, weight_decay=0.0):
    """The largest stable step size of gd, momentum or nesterov, from plain descent's bound
    2 / lam_max (on full batches; on mini-batches, the worst batch's); and AdamW's, from its
    decay. None for the other adaptive methods: their step changes as they run, so no
    fixed step is the edge.

    From the iteration above, with a = lr * lam: heavy ball is stable while a < 2 + 2 beta;
    PyTorch's Nesterov puts lr * (1 + beta) on the newest gradient, and is stable while
    a < (2 + 2 beta) / (1 + 2 beta). AdamW multiplies w and b by 1 - lr * weight_decay each
    step, whatever the gradient: below -1 that factor grows them, so lr < 2 / weight_decay.
    """
    if method == "gd":
        return plain_bound
    if method == "momentum":
        return plain_bound * (1 + beta)
    if method == "nesterov":
        return plain_bound * (1 + beta) / (1 + 2 * beta)
    if method == "adamw" and weight_decay > 0:
        return 2 / weight_decay
    return None


def best_settings(curvatures):
    """The classic optima for a quadratic with curvatures from lam_min to lam_max:
    plain descent's best step and rate, and heavy ball's best step, momentum and rate."""
    lam_max, lam_min = max(curvatures), min(curvatures)
    kappa = lam_max / lam_min
    root = kappa**0.5
    return {"condition number": kappa,
            "gd lr": 2 / (lam_min + lam_max), "gd rate": (kappa - 1) / (kappa + 1),
            "momentum lr": (2 / (lam_min**0.5 + lam_max**0.5)) ** 2,
            "momentum beta": ((root - 1) / (root + 1)) ** 2,
            "momentum rate": (root - 1) / (root + 1)}


def measured_rate(path, least_squares_point, skip=10, floor=1e-4):
    """The per-step shrink of the distance to least squares along a path: the geometric
    mean over the steps after the first `skip` (the start forgotten) and before the
    distance falls below `floor` (where float32 rounding takes over).

    Where the iteration has a repeated eigenvalue (heavy ball at its best settings, the
    critically damped case) the distance shrinks like t * rate^t, and over the few steps
    such a run takes to reach the floor the measured rate comes out several percent high.
    """
    target = torch.tensor(least_squares_point, dtype=torch.float64)
    distances = (torch.tensor(path, dtype=torch.float64) - target).norm(dim=1)
    above = (distances > floor).nonzero()
    last = int(above.max()) if len(above) else 0
    if last <= skip:
        raise ValueError("the path reaches the floor before the start is forgotten")
    return (distances[last] / distances[skip]).item() ** (1 / (last - skip))


def grid_losses(X, Y, update, hyperparams, steps, w0=-10.0, b0=-20.0):
    """One full-batch run per cell of a grid, all at once: the full-data loss of every cell
    after `steps` updates. hyperparams holds one tensor of values per cell, e.g. "lr" and
    "momentum" of shape (cells,).

    The full-data gradient needs only four averages of the data (model.mse_surface uses
    five): d/dw = 2 (w <x^2> + b <x> - <xy>), d/db = 2 (w <x> + b - <y>). So the grid costs
    memory for its cells, never cells times n, and runs in float64.
    """
    x, y = X.reshape(-1).double(), Y.reshape(-1).double()
    xx, mx, xy, my = (x * x).mean(), x.mean(), (x * y).mean(), y.mean()
    columns = {name: torch.as_tensor(value, dtype=torch.float64)
               for name, value in hyperparams.items()}
    w = torch.full_like(columns["lr"], float(w0))
    b = torch.full_like(columns["lr"], float(b0))
    state = {}
    for _ in range(steps):
        w.grad, b.grad = 2 * (w * xx + b * mx - xy), 2 * (w * mx + b - my)
        update([w, b], state, columns)
    return torch.from_numpy(mse_surface(X, Y)(torch.stack([w, b], dim=1).numpy()))


# The command line.

TEST_ARGS = ["--epochs", "20", "--phase-points", "5"]  # the fast setting the smoke tests run
PHASE_STEPS = 15  # the phase diagram shows the loss after this many full-batch steps


# Every setting the command line can change: {name: (type, interval, help)}; the flag is
# --NAME. A method takes the ones its DEFAULTS name; a pair such as Adam's "betas" is set by
# two options (PAIRS).
SETTINGS = {
    "lr": (float, "(0, 1e38]", "step size"),
    "momentum": (float, "[0, 1)", "momentum"),
    "alpha": (float, "[0, 1)", "smoothing constant of the square average"),
    "beta1": (float, "[0, 1)", "the first of the betas (Adam's: how fast the mean gradient "
              "forgets)"),
    "beta2": (float, "[0, 1)", "the second of the betas (Adam's: how fast the mean squared "
              "gradient forgets)"),
    "eps": (float, "(0, inf)", "added to the denominator"),
    "weight_decay": (float, "[0, inf)", "decoupled weight decay: each step first multiplies "
                     "the parameters by 1 - lr * weight_decay"),
}
PAIRS = {"betas": ("beta1", "beta2")}


def own_settings(defaults):
    """{option: default} of each setting in a method's `defaults`, a pair's parts apart."""
    return dict(part for setting, value in defaults.items() for part in (
        zip(PAIRS[setting], value, strict=True) if setting in PAIRS else [(setting, value)]))


def joined(values):
    """A method's settings from its options' values, in order, a pair's parts joined (beta1,
    beta2 as betas): own_settings' inverse."""
    whose = {part: setting for setting, parts in PAIRS.items() for part in parts}
    return {whose.get(name, name): tuple(values[part] for part in PAIRS[whose[name]])
            if name in whose else value for name, value in values.items()}


def settings_text(hyperparams):
    return " ".join(f"{name}={value:g}" if not isinstance(value, tuple)
                    else f"{name}=({value[0]:g}, {value[1]:g})"
                    for name, value in hyperparams.items())


def describe(method, hyperparams, batch_size, n):
    """The rule a run's stability edge comes from, in words."""
    name = {"gd": "plain descent", "momentum": "heavy ball", "nesterov": "Nesterov"}.get(
        method, method)
    beta = hyperparams.get("momentum", 0.0)
    if method in ("momentum", "nesterov"):
        name += f" with momentum {beta:g}"
    decay = hyperparams.get("weight_decay", 0.0) if method == "adamw" else 0.0
    if decay > 0:
        name += f" with weight decay {decay:g}"
    if batch_size >= n:
        name += f" on all {n} samples"
    else:
        name += f" on the worst batch of {count(batch_size, 'sample')}"
    edge = {"momentum": f"(2 + 2*{beta:g}) / lmax",
            "nesterov": f"(2 + 2*{beta:g}) / ((1 + 2*{beta:g}) * lmax)",
            "adamw": "2 / weight_decay" if decay > 0 else None}.get(method)
    return name if edge is None else f"{name}, {edge}"


# The command line's own knobs and their defaults, each declared in OPTIONS below or in the
# options the training scripts share (plumbing/options.py); --method and the methods'
# settings come from METHODS and SETTINGS, the data's options from data.py.
KNOBS = {"epochs": 100, "batch_size": None, "no_shuffle": False, "order_seed": 42,
         "w0": -10.0, "b0": -20.0, "phase_points": 80, "standardise": False}
OPTIONS = {
    "epochs": (int, "[1, 100_000]", "passes over the data (at most a million updates and a "
               "billion samples in all, every method's run together)"),
    "batch_size": (int, "[1, inf)", "samples per update (a number above the data's size "
                   "takes all of them)", {"shown": "all of them"}),
    "no_shuffle": (bool, None, "visit the samples in their stored order (with --batch-size)"),
    "phase_points": (int, "[3, 200]", "step sizes and momenta of the phase diagram's grid, "
                     "each"),
    "standardise": (bool, None, "train on x standardised, (x - mean) / std: a round valley"),
}


def check_settings(parser, args):
    """Refuse, in one line, a method's setting without the method, and the settings a
    method cannot run with."""
    given = [name for name in SETTINGS if getattr(args, name) is not None]
    if given and args.method is None:
        parser.error(f"--{given[0].replace('_', '-')} needs --method: every method has its "
                     "own settings")
    if args.method == "nesterov" and args.momentum == 0:
        parser.error("nesterov needs a momentum above 0, as torch.optim.SGD(nesterov=True) "
                     "does (at 0 it is plain descent: --method gd)")
    if args.method is not None and args.phase_points != KNOBS["phase_points"]:
        parser.error("--phase-points is for the phase diagram, which only the run of every "
                     "method draws (without --method)")


def print_theory(X, Y, source, args, batch_size):
    """The data, and what its Hessian says before any run: the curvatures, and the best
    settings of plain descent and heavy ball with the rates they reach."""
    curvatures = hessian_eigenvalues(X)
    best = best_settings(curvatures)
    print(f"data: {source}")
    if args.method is None:  # a single run ends with it, as the training scripts do
        print(least_squares_line(*least_squares(X, Y)))
    print(f"Hessian eigenvalues: lmax={curvatures[0]:.4f} lmin={curvatures[1]:.4f}, "
          f"condition number k = lmax/lmin = {best['condition number']:.4f}")
    print(f"best plain descent: lr = 2/(lmin+lmax) = {short(best['gd lr'])}; "
          f"rate (k-1)/(k+1) = {best['gd rate']:.4f} a step")
    print("best heavy ball: lr = (2/(sqrt(lmin)+sqrt(lmax)))^2 = "
          f"{short(best['momentum lr'])}, "
          f"momentum = ((sqrt(k)-1)/(sqrt(k)+1))^2 = {best['momentum beta']:.4f};")
    print(f"                 rate (sqrt(k)-1)/(sqrt(k)+1) = {best['momentum rate']:.4f} a step")
    batches = "full batches" if batch_size == len(X) else f"batches of {batch_size}"
    print(f"{count(args.epochs, 'epoch')} on {batches} from w={args.w0:g} b={args.b0:g}")


def run_methods(X, Y, chosen, args, batch_size):
    """Train each method with its settings ({method: hyperparams}), warning first where its
    step is past its stability edge. Returns ({method: (hyperparams, History, (predicted,
    measured) rate)}, {method: the line saying where it diverged} of those that did)."""
    n, alone = len(X), args.method is not None
    curvatures, least_squares_point = hessian_eigenvalues(X), least_squares(X, Y)[:2]
    runs, diverged = {}, {}
    for method, hyperparams in chosen.items():
        edge = stability_edge(method, stability_bound(X, batch_size),
                              hyperparams.get("momentum", 0.0),
                              hyperparams.get("weight_decay", 0.0))
        rule = describe(method, hyperparams, batch_size, n)
        if edge is not None and hyperparams["lr"] >= edge:
            print(bound_warning(f"{method} lr", hyperparams["lr"], edge, rule), flush=True)
        history = train(X, Y, UPDATES[method], hyperparams, args.epochs, batch_size,
                        shuffle=not args.no_shuffle, seed=args.order_seed, w0=args.w0,
                        b0=args.b0, verbose=alone)
        if not alone:  # say how to give a method a step of its own
            rule += f" (give {method} its own step with --method {method} --lr, or try " \
                    "--standardise)"
        report = divergence_report(history, -(-n // batch_size), hyperparams["lr"], edge, rule,
                                   final_loss(X, Y, history))
        if report is not None:
            diverged[method] = report if alone else f"{method}: {report}"
        runs[method] = (hyperparams, history, rates_of(method, hyperparams, history,
                                                       curvatures, least_squares_point,
                                                       batch_size == n))
    return runs, diverged


def print_results(X, Y, runs, method):
    """Every method's row of the table; or, for one method, its rates and final line."""
    if method is None:
        print_table(X, Y, runs, least_squares(X, Y)[:2])
        return
    hyperparams, history, (predicted, measured) = runs[method]
    if predicted is not None:
        print(f"rate per step: predicted {predicted:.4f}, measured "
              + ("- (too few steps to measure)" if measured is None else f"{measured:.4f}"))
    print_summary(X, Y, history)


def figures_of(X, Y, runs, diverged, args, batch_size):
    """The methods' paths and losses in one figure; with every method on full batches, the
    phase diagram of heavy ball too."""
    from plots import optimizers as drawing  # only now: matplotlib's backend has been chosen

    paths = {method: history.path for method, (_, history, _) in runs.items()}
    predicted = {method: rates[0] for method, (_, _, rates) in runs.items()
                 if rates[0] is not None}
    labels = {method: f"{method}, {settings_text(hyperparams)}"
              for method, (hyperparams, _, _) in runs.items()}
    figure = drawing.plot_methods(X, Y, paths, predicted, labels, -(-len(X) // batch_size),
                                  diverged)
    if args.method is not None:
        return {f"optimizer_{args.method}.png": figure}
    figures = {"optimizers.png": figure}
    if batch_size == len(X):
        curvatures = hessian_eigenvalues(X)
        figures["momentum_phase.png"] = phase_figure(X, Y, args, curvatures,
                                                     best_settings(curvatures), drawing)
    return figures


def rates_of(method, hyperparams, history, curvatures, least_squares_point, full_batch):
    """(predicted, measured) rate per step of a full-batch linear run; None where the
    theory does not apply (adaptive methods, mini-batches) or the run is too short."""
    if not full_batch or method not in ("gd", "momentum", "nesterov"):
        return None, None
    predicted = predicted_rate(method, hyperparams["lr"], curvatures,
                               hyperparams.get("momentum", 0.0))
    try:
        measured = measured_rate(history.path, least_squares_point)
    except ValueError:
        measured = None
    return predicted, measured


def print_table(X, Y, runs, least_squares_point):
    """One row a method, each column as wide as its widest entry; the settings last."""
    rows = [["method", "updates", "w", "b", "loss", "distance", "predicted", "measured",
             "settings"]]
    for method, (hyperparams, history, (predicted, measured)) in runs.items():
        distance = ((history.w - least_squares_point[0]) ** 2
                    + (history.b - least_squares_point[1]) ** 2) ** 0.5
        rates = ["-" if rate is None else f"{rate:.4f}" for rate in (predicted, measured)]
        rows.append([method, f"{history.updates:d}", f"{history.w:+.6f}", f"{history.b:+.6f}",
                     f"{final_loss(X, Y, history):.6f}", f"{distance:.2e}", *rates,
                     settings_text(hyperparams)])
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for method, *numbers, settings in rows:
        print("  ".join([method.ljust(widths[0]), *(number.rjust(width) for number, width
                                                   in zip(numbers, widths[1:], strict=True))])
              + "  " + settings)


def phase_figure(X, Y, args, curvatures, best, drawing):
    """Heavy ball's loss after PHASE_STEPS steps over a grid of step sizes and momenta, all
    cells in one batched run, with the stability edge and the best pair."""
    grid = phase_grid(X, Y, max(curvatures), args.phase_points, args.w0, args.b0)
    return drawing.plot_phase(*grid, max(curvatures), best, PHASE_STEPS, DEFAULTS["momentum"])


def phase_grid(X, Y, lam_max, points, w0=-10.0, b0=-20.0):
    """(step sizes, momenta, the loss above least squares after PHASE_STEPS steps of each
    pair, the same at the start): the phase diagram's numbers."""
    lrs = torch.linspace(0, 2.2 / lam_max * 2, points + 1)[1:]
    betas = torch.linspace(0, 0.98, points)
    lr_grid, beta_grid = torch.meshgrid(lrs, betas, indexing="xy")
    losses = grid_losses(X, Y, momentum, {"lr": lr_grid.reshape(-1),
                                          "momentum": beta_grid.reshape(-1)},
                         PHASE_STEPS, w0, b0)
    ls_loss = least_squares(X, Y)[2]
    excess = losses.reshape(lr_grid.shape).double() - ls_loss
    start = criterion(forward(X, w0, b0), Y).item() - ls_loss
    return lrs, betas, excess, start


def main(argv=None):
    import data
    from plumbing import options, output

    parser = options.Parser(f"Optimizers by hand ({', '.join(METHODS)}) on the tutorial's "
                            "line, checked against the theory of the data's Hessian.")
    own = {method: own_settings(defaults) for method, defaults in DEFAULTS.items()}
    options.add_variants(parser, "method", own, SETTINGS,
                         help="train this method alone (default: every method, side by side)")
    options.add_settings(parser, KNOBS, OPTIONS)
    options.add_data_args(parser, data)
    args, out_dir = options.parse(parser, argv)
    check_settings(parser, args)
    chosen = {method: joined(options.chosen_settings(parser, args, method, own, SETTINGS,
                                                     "--method"))
              for method in (DEFAULTS if args.method is None else [args.method])}
    X, Y, source = data.load_data(parser, args)
    if args.standardise:
        X, source = standardise(X), source + "; x standardised to mean 0, mean square 1"
    batch_size = len(X) if args.batch_size is None else min(args.batch_size, len(X))
    options.check_work(parser, args.epochs, len(X), batch_size, runs=len(chosen))

    print_theory(X, Y, source, args, batch_size)
    runs, diverged = run_methods(X, Y, chosen, args, batch_size)
    if not diverged:  # a diverged run prints neither: its figure shows the climb
        print_results(X, Y, runs, args.method)
    figures = figures_of(X, Y, runs, diverged, args, batch_size)
    output.save_figures(out_dir, figures)  # a diverged run's too: its climb is the lesson
    for report in diverged.values():
        exit_on(parser, report)
    output.show_figures(figures, args.show)


if __name__ == "__main__":
    run_as_command(main)
