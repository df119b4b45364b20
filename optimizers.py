"""Cures for the zig-zag: momentum, Nesterov and adaptive steps, each one update function.

Each function is Step 4 of the tutorial's loop for `descent.train`: the loop has done the
forward pass, the loss and `backward()`, and zeroes the gradients afterwards (Step 5).
`params` is [w, b], `state` a dict that lives for the whole run, `hyperparams` a dict.
Each follows the rule `torch.optim` implements in the pinned torch exactly (read
torch/optim/sgd.py, adagrad.py, rmsprop.py, adam.py); tests/test_optimizers.py holds every
path to torch.optim's. The updates run under `torch.no_grad()`, as PyTorch's own
optimizers and Dive into Deep Learning do: an in-place change autograd is told about.

Importing this module only defines things.
"""

import torch


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


UPDATES = {"gd": gd, "momentum": momentum, "nesterov": nesterov, "adagrad": adagrad,
           "rmsprop": rmsprop, "adam": adam}


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
    last = int((distances > floor).nonzero().max())
    if last <= skip:
        raise ValueError("the path reaches the floor before the start is forgotten")
    return (distances[last] / distances[skip]).item() ** (1 / (last - skip))
