"""The playground: every knob of the lessons as a slider, the run redrawn on every change.

A marimo notebook. `python -m marimo run playground.py` serves it as a web page (it prints
the address); `python -m marimo edit playground.py` shows its cells, with a Step 4 of your
own to edit; `python playground.py` runs it once as a plain script. docs/playground.md is
the lesson. Every number comes from the lessons' own functions: `descent.train` with
`optimizers.py`'s update rules, `model.py`'s theory, `data.py`'s data and reader.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="Gradient descent playground")

with app.setup:
    import argparse
    import contextlib
    import ctypes
    import html
    import inspect
    import io
    import linecache
    import math
    import os
    import shutil
    import tempfile

    import matplotlib.pyplot as plt
    import torch
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    import data
    import optimizers
    import schedules
    from descent import divergence_report, print_summary, train
    from lines import bound_warning, short
    from model import (
        final_loss,
        full_loss_along,
        hessian_eigenvalues,
        largest_distance,
        least_squares,
        stability_bound,
    )
    from plots import optimizers as optimizer_plots
    from plots import surface
    from plots.style import floor_line

    # The largest upload: its data is drawn point by point, and each move trains on it again.
    MAX_UPLOAD_ROWS = 100_000
    # Your Step 4 is stopped once it has run this long: an endless loop would hold the page.
    STEP_4_SECONDS = 10
    # The most updates one move runs (the defaults' largest, 200 epochs of 100 samples one
    # at a time, is 20,000): each takes a fraction of a millisecond and its point is kept.
    MAX_MOVE_UPDATES = 100_000

    class StepStopped(BaseException):
        # Raised inside your Step 4 at its time limit; a BaseException, so that an
        # `except Exception` of yours does not swallow it.
        def __str__(self):
            return (f"still running after {STEP_4_SECONDS:g} s, so it was stopped "
                    "(an endless loop? or fewer epochs)")

    # One thread for torch: the runs are small, and the page's server can have the other core.
    torch.set_num_threads(1)



@app.function
def run_setting(X, Y, method="gd", hyperparams=None, epochs=20, batch_size=None,
                sampling="in order", schedule="constant", schedule_options=None, seed=42,
                w0=-10.0, b0=-20.0, update=None):
    """One run, as the scripts make it: descent.train with the method's update (or `update`,
    a Step 4 of one's own). Returns (history, the scripts' summary lines, facts)."""
    n = len(X)
    batch_size = n if batch_size is None else min(batch_size, n)
    per_epoch = -(-n // batch_size)
    if epochs * per_epoch > MAX_MOVE_UPDATES:
        raise ValueError(f"{epochs:,} epochs of {n:,} samples in batches of {batch_size:,} is "
                         f"{epochs * per_epoch:,} updates; the page runs at most "
                         f"{MAX_MOVE_UPDATES:,} a move (fewer epochs, a larger batch, or the "
                         "scripts)")
    hyperparams = {**optimizers.DEFAULTS[method], **(hyperparams or {})}
    steps = None if schedule == "constant" else schedules.step_sizes(
        schedule, hyperparams["lr"], epochs, schedule_options)
    # The sampling is of batches smaller than n: all the samples are one batch, in order.
    replacement = sampling == "with replacement" and batch_size < n
    history = train(X, Y, update or optimizers.UPDATES[method], hyperparams, epochs,
                    batch_size, shuffle=sampling == "reshuffled", seed=seed, w0=w0, b0=b0,
                    schedule=steps, replacement=replacement)
    edge = optimizers.stability_edge(method, stability_bound(X, batch_size),
                                     hyperparams.get("momentum", 0.0),
                                     hyperparams.get("weight_decay", 0.0))
    rule = optimizers.describe(method, hyperparams, batch_size, n)
    report = divergence_report(history, per_epoch, hyperparams["lr"], edge, rule,
                               final_loss(X, Y, history))
    printed = io.StringIO()
    if report is None:
        with contextlib.redirect_stdout(printed):
            print_summary(X, Y, history)
    warning = None
    if edge is not None and hyperparams["lr"] >= edge:
        warning = bound_warning(f"{method} lr", hyperparams["lr"], edge, rule)
    # What the command line refuses (a warmup as long as the run) is said here, as a note.
    problem = schedules.problem(
        schedule, {**schedules.SCHEDULES[schedule][1], **(schedule_options or {})}, epochs)
    if problem is not None:
        warning = "; ".join(filter(None, [warning, f"note: {problem}"]))
    ls_w, ls_b, _ = least_squares(X, Y)
    # The rates' theory is of a constant step on all the samples.
    rates = optimizers.rates_of(method, hyperparams, history, hessian_eigenvalues(X),
                                (ls_w, ls_b), batch_size == n and steps is None)
    facts = {"edge": edge, "rule": rule, "warning": warning, "diverged": report,
             "rates": rates, "hyperparams": hyperparams}
    return history, printed.getvalue().strip().splitlines(), facts


@app.function
def start_or_default(value, default):
    """A start box's value, or the scripts' default while the box is empty."""
    return default if value is None else float(value)


@app.function
def read_upload(name, contents):
    """X, Y from an uploaded CSV file, read as `--data` reads one (at most MAX_UPLOAD_ROWS
    rows); or the one-line refusal. The copy is made under a name of our own, in a folder
    removed however the reading ends."""
    folder = tempfile.mkdtemp(prefix="playground-")
    try:
        path = os.path.join(folder, "upload.csv")
        with open(path, "wb") as handle:
            handle.write(contents)
        X, Y = data.read_csv(path, max_rows=MAX_UPLOAD_ROWS)
    except ValueError as error:
        return None, f"--data {name}: {error}"
    except OSError as error:
        return None, f"--data {name}: {error.strerror or error}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if data.no_line_fits(X):
        return None, f"--data {name}: {data.no_line_fits(X)}"
    return (X, Y), None


@app.function
def failure(mo, what, error):
    """An error in one view, shown there in one line of at most 400 characters, as text;
    the rest of the page goes on. An error inside your Step 4 names its line."""

    def read(part, otherwise):  # your error's own parts may raise too
        try:
            return " ".join(str(part()).split())
        except BaseException:  # whatever it raises, the page goes on
            return otherwise

    # The line as the page shows the function: its def is line 1.
    at = read(lambda: where_in_my_update(error.__traceback__), "")
    said = (f"{what} failed{f' ({at})' if at else ''}: "
            f"{read(lambda: type(error).__name__, 'an error')}: "
            f"{read(lambda: error, '(its message could not be read)')}")
    return mo.callout(text_block(mo, [said if len(said) <= 400 else said[:400] + "..."]),
                      kind="danger")


@app.function
def where_in_my_update(tb):
    """"my_update, line N: its text" for the last frame of your Step 4 in a traceback."""
    at = ""
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name == "my_update":
            line = linecache.getline(code.co_filename, tb.tb_lineno).strip()
            at = f"my_update, line {tb.tb_lineno - code.co_firstlineno + 1}: {line}"
        tb = tb.tb_next
    return at


@app.function
def within_time_limit(mo, run):
    """run() on a thread of its own, waited for up to STEP_4_SECONDS: its result, or what it
    raised. At the limit a StepStopped is raised inside it, at its next line of Python, and
    it has a second more to end. One still running then (inside a long call into C, say, or
    swallowing every error) is left to end in the background, and TimeoutError says so."""
    outcome = {}

    def target():
        try:
            outcome["result"] = run()
        except BaseException as error:  # your code may raise anything
            outcome["error"] = error

    thread = mo.Thread(target=target, daemon=True)
    thread.start()
    thread.join(STEP_4_SECONDS)
    if thread.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident),
                                                   ctypes.py_object(StepStopped))
        thread.join(1)
    if thread.is_alive():
        raise TimeoutError(f"still running after {STEP_4_SECONDS:g} s and could not be stopped: it "
                           "runs on in the background until it ends (restart the page's "
                           "server to end it now)")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


@app.function
def data_settings(**boxes):
    """The data's settings from the number boxes: each one that is empty, not a whole number
    where one is needed, or outside data.OPTIONS' interval is refused in one line, and its
    default is used meanwhile."""
    from plumbing import options

    made, wrong = dict(data.DEFAULTS), []
    for name, value in boxes.items():
        kind, interval, _ = data.OPTIONS[name]
        if value is None:
            wrong.append(f"{name} is empty; using {data.DEFAULTS[name]:g}")
            continue
        whole = kind is int and value == int(value)
        try:
            made[name] = options.number(kind, interval)(str(int(value)) if whole else repr(value))
        except argparse.ArgumentTypeError as error:
            wrong.append(f"{name}: {error}; using {data.DEFAULTS[name]:g}")
    return made, "; ".join(wrong) or None


@app.cell
def _():
    import marimo as mo
    return (mo,)


@app.cell
def _(mo):
    mo.md("""# Gradient descent, live

    Move a knob: the run is made again by the lessons' own code and every view redrawn.
    The summary line is the one the scripts print.""")
    return


@app.cell
def _(mo):
    # The data: the tutorial's line, or a file of one's own.
    n = mo.ui.number(start=2, stop=1000, value=100, label="n")
    slope = mo.ui.number(start=-100, stop=100, step=0.5, value=-5.0, label="slope")
    noise = mo.ui.number(start=0, stop=100, step=0.1, value=0.4, label="noise")
    seed = mo.ui.number(start=0, stop=2**31 - 1, value=42, label="seed")
    upload = mo.ui.file(filetypes=[".csv"], label="data: a CSV file with columns x, y "
                        f"(at most {MAX_UPLOAD_ROWS:,} rows)")
    return n, noise, seed, slope, upload


@app.cell
def _(mo, n, noise, seed, slope, upload):
    if upload.value:
        loaded, refusal = read_upload(upload.name(), upload.contents())
    else:
        loaded, refusal = None, None
    if loaded is None:
        made, wrong = data_settings(n=n.value, slope=slope.value, noise=noise.value,
                                    seed=seed.value)
        refusal = refusal or wrong
        X, Y = data.make_data(**made)
        source = data.describe(**made)
    else:
        X, Y = loaded
        source = f"{len(X)} points from {upload.name()}"
    data_panel = mo.vstack([mo.hstack([n, slope, noise, seed], justify="start"), upload,
                            text_block(mo, [f"data: {source}"]),
                            mo.callout(text_block(mo, [refusal]), kind="danger") if refusal
                            else mo.md("")])
    return X, Y, data_panel


@app.cell
def _(mo):
    method = mo.ui.dropdown(list(optimizers.METHODS), value="gd", label="method")
    epochs = mo.ui.slider(1, 200, value=20, label="epochs", show_value=True)
    sampling = mo.ui.dropdown(["in order", "reshuffled", "with replacement"],
                              value="reshuffled", label="sampling (batches smaller than n)")
    schedule = mo.ui.dropdown(list(schedules.SCHEDULES), value="constant", label="schedule")
    w0 = mo.ui.number(start=-100, stop=100, step=0.5, value=-10.0, label="w0")
    b0 = mo.ui.number(start=-100, stop=100, step=0.5, value=-20.0, label="b0")
    return b0, epochs, method, sampling, schedule, w0


@app.cell
def _(X, mo):
    batch_size = mo.ui.slider(1, len(X), value=len(X), label="batch size", show_value=True)
    return (batch_size,)


@app.cell
def _(method, mo):
    # The step size on a log scale, 1e-4 to 10 (every value one the scripts take), starting
    # at the method's own default, as optimizers.py --method NAME does.
    default_lr = optimizers.DEFAULTS[method.value]["lr"]
    lr = mo.ui.slider(steps=sorted({round(10 ** (k / 20), 6) for k in range(-80, 21)}
                                   | {default_lr}),
                      value=default_lr, label="lr", show_value=True)
    return (lr,)


@app.function
def slider_values(kind, interval, default):
    """The values a slider offers for a setting: about a hundred inside its interval, its
    default among them; spread evenly between two finite ends, by factors of ten^(1/10)
    around the default where the interval has no upper end."""
    from plumbing import options

    _, low, high, _ = options.ends(kind, interval)
    if math.isinf(high):
        centre = default if default > 0 else max(low, 1e-3)
        values = [centre * 10 ** (k / 10) for k in range(-40, 21)] + [low]
    else:
        values = [low + (high - low) * k / 100 for k in range(101)] + [high - (high - low) / 1000]
    values = {kind(float(f"{value:.3g}")) for value in values} | {default}
    return sorted(value for value in values if options.within(value, kind, interval))


@app.function
def setting_sliders(mo, method):
    """A slider for each of the method's own settings (but lr), over the values its
    declaration in optimizers.SETTINGS allows, at the method's default."""
    own = {}
    for name, value in optimizers.own_settings(optimizers.DEFAULTS[method]).items():
        if name != "lr":
            kind, interval, _ = optimizers.SETTINGS[name]
            own[name] = mo.ui.slider(steps=slider_values(kind, interval, value),
                                     value=value, label=name.replace("_", " "),
                                     show_value=True)
    return mo.ui.dictionary(own)


@app.cell
def _(method, mo):
    settings = setting_sliders(mo, method.value)
    return (settings,)


@app.function
def chosen_hyperparams(method, lr, settings):
    """The method's settings from the sliders, its pairs (Adam's betas) joined."""
    return optimizers.joined({"lr": lr, **settings})


@app.cell
def _(X, Y, b0, batch_size, epochs, lr, method, mo, sampling, schedule, settings, w0):
    try:
        history, summary, facts = run_setting(
            X, Y, method.value, chosen_hyperparams(method.value, lr.value, settings.value),
            epochs.value, batch_size.value, sampling.value, schedule.value, None, 42,
            start_or_default(w0.value, -10.0), start_or_default(b0.value, -20.0))
        run_failed = None
    except Exception as error:  # a method of one's own that raises: said, knobs kept
        history, summary, facts = None, [], None
        run_failed = failure(mo, f"the run of {method.value}", error)
    return facts, history, run_failed, summary


@app.cell
def _(X, Y, facts, mo, run_failed):
    ls_w, ls_b, ls_loss = least_squares(X, Y)
    try:
        if facts is None:
            raise RuntimeError("no run to describe")
        _lam_max, _lam_min = hessian_eigenvalues(X)
        lines = [f"Hessian eigenvalues: lmax={_lam_max:.4f} lmin={_lam_min:.4f}"]
        if facts["edge"] is not None:
            lines.append(f"stable below lr={short(facts['edge'])}: the bound of {facts['rule']}")
        else:
            lines.append(f"{facts['rule']}: no fixed stability bound (an adaptive method)")
        predicted, measured = facts["rates"]
        if predicted is not None:
            lines.append(f"rate per step: predicted {predicted:.4f}, measured "
                         + ("-" if measured is None else f"{measured:.4f}"))
        callouts = ([mo.callout(text_block(mo, [facts["warning"]]), kind="warn")]
                    if facts["warning"] else [])
        if facts["diverged"]:
            callouts.append(mo.callout(text_block(mo, [f"error: {facts['diverged']}"]),
                                       kind="danger"))
        facts_panel = mo.vstack([text_block(mo, lines), *callouts])
    except Exception as error:
        facts_panel = run_failed or failure(mo, "the facts", error)
    return facts_panel, ls_b, ls_loss, ls_w


@app.function
def text_block(mo, lines):
    """Lines shown as the terminal shows them, as text (never as Markdown or HTML); a line
    longer than the page is wide wraps instead of running past its box."""
    text = html.escape("\n".join(lines))
    return mo.Html(f"<pre class='text-xs' style='white-space: pre-wrap; overflow-wrap: "
                   f"anywhere'>{text}</pre>")


@app.cell
def _(mo):
    # The last setting's run, drawn faintly behind the new one (the ghost).
    get_ghost, set_ghost = mo.state(None)
    clear = mo.ui.button(label="clear the ghost", on_change=lambda _: set_ghost(None))
    pin = mo.ui.switch(label="pin the ghost (keep this run behind the next ones)")
    return clear, get_ghost, pin, set_ghost


@app.function
def draw_views(X, Y, history, ghost, ghost_label, least_squares_fit, facts, planned):
    """The four views of a run (and the ghost's, faintly): the path on the loss surface,
    zoomed on least squares, the loss against the updates, the fit."""
    ls_w, ls_b, ls_loss = least_squares_fit
    # A Figure of its own (no pyplot), at 75 dpi: marimo draws it sharp at twice that.
    figure = Figure(figsize=(18, 4.2), dpi=75)
    surface_axes, zoom_axes, loss_axes, fit_axes = figure.subplots(1, 4)
    # Centred on least squares, as far again on the other side as the start: a stable
    # step can overshoot that far, and no farther. The zoom: a twentieth of that, around
    # least squares, where SGD's noise ball lives.
    (w_low, b_low), (w_high, b_high) = surface.overshoot_box(history.path[0], (ls_w, ls_b))
    zoom = 0.05
    windows = {surface_axes: ((w_low, w_high), (b_low, b_high)),
               zoom_axes: ((ls_w - zoom * (ls_w - w_low), ls_w + zoom * (w_high - ls_w)),
                           (ls_b - zoom * (ls_b - b_low), ls_b + zoom * (b_high - ls_b)))}
    for _axes, (_w_range, _b_range) in windows.items():
        surface.loss_contours(_axes, X, Y, _w_range, _b_range)
        if ghost is not None:
            _ghost_w, _ghost_b = torch.tensor(ghost.path).T
            _axes.plot(_ghost_w, _ghost_b, color="0.6", lw=1, alpha=0.6, label=ghost_label)
        surface.draw_paths(_axes, {"this run": history.path})
        _axes.plot([ls_w], [ls_b], "P", color="tab:red", markersize=10, label="least squares")
        _axes.set(xlim=_w_range, ylim=_b_range, xlabel="w", ylabel="b")
    surface_axes.set_title("the path on the loss surface")
    zoom_axes.set_title("zoomed on least squares: where it ends")
    surface_axes.legend(loc="upper right", fontsize=8)
    # The loss on all the data at every point of the path (as the lessons' figures draw
    # it): for a batch smaller than n, not the noisy loss of each update's own batch.
    _losses = full_loss_along(X, Y, history.path)
    if ghost is not None:
        _ghost_losses = full_loss_along(X, Y, ghost.path)
        loss_axes.plot(range(len(_ghost_losses)), _ghost_losses, color="0.6", lw=1, alpha=0.6,
                       label=ghost_label)
    loss_axes.plot(range(len(_losses)), _losses, lw=1, color="tab:blue",
                   label="the loss on all the data")
    _predicted = facts["rates"][0]
    if _predicted is not None and len(_losses) > optimizer_plots.SKIP:
        # The theory's rate, through the measured loss a few updates in (as the optimizers
        # lesson draws it), above the floor.
        _steps, _excess = optimizer_plots.predicted_line(_losses - ls_loss, _predicted)
        loss_axes.plot(_steps, _excess + ls_loss, color="tab:blue", ls="--", lw=1,
                       label=f"predicted: {_predicted:.4f} a step")
    loss_axes.set_yscale("log")
    floor_line(loss_axes, ls_loss)
    start_loss = float(_losses[0])
    # Down to a third of the floor; an exact fit (a floor of 0) shows eight decades.
    loss_axes.set(xlim=(0, planned + 1), ylim=(max(ls_loss / 3, start_loss * 1e-8),
                                               start_loss * 30),
                  xlabel="update", ylabel="MSE loss (log scale)", title="the loss, each update")
    loss_axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    loss_axes.legend(loc="upper right", fontsize=8)
    fit_axes.scatter(X.reshape(-1), Y.reshape(-1), s=8, color="tab:red", label="data")
    xs = X.reshape(-1).sort().values
    fit_axes.plot(xs, history.w * xs + history.b, color="tab:blue", label="the fitted line")
    y_low, y_high = Y.min().item(), Y.max().item()
    fit_axes.set(ylim=(y_low - 0.2 * (y_high - y_low), y_high + 0.2 * (y_high - y_low)),
                 xlabel="x", ylabel="y", title="the fit after the run")
    fit_axes.legend(loc="upper right", fontsize=8)
    figure.subplots_adjust(left=0.04, right=0.99, bottom=0.13, top=0.92, wspace=0.25)
    return figure


@app.cell
def _(X, Y, b0, batch_size, clear, epochs, facts, get_ghost, history, ls_b, ls_loss, ls_w,
      mo, pin, set_ghost, w0):
    # The views: the path over the loss surface, the loss against the updates, the fit.
    # Their axes depend on the data, the start and the run's length only, so they stay put
    # while the step size or a method's setting moves; a diverging run leaves the picture.
    views = mo.md("")  # no run: its error is said above
    try:
        if history is not None:
            ghost = get_ghost()
            _ = clear
            if ghost is not None and ghost[0] is not X:  # another data set's run: no ghost
                ghost = None
            ghost = None if ghost is None else ghost[1]
            ghost_label = "the pinned run" if pin.value else "the last setting"
            views = draw_views(X, Y, history, ghost, ghost_label, (ls_w, ls_b, ls_loss), facts,
                               epochs.value * -(-len(X) // batch_size.value))
            if not pin.value or get_ghost() is None:  # pinned: the same ghost behind every run
                set_ghost((X, history))
    except Exception as error:
        views = failure(mo, "the views", error)
    return (views,)


@app.cell
def _(X, Y, b0, w0):
    # The optimizers lesson's phase diagram: heavy ball's loss after a few steps for every
    # (lr, momentum), computed once for this data and start.
    lam_max = max(hessian_eigenvalues(X))
    best = optimizers.best_settings(hessian_eigenvalues(X))
    try:
        phase = optimizers.phase_grid(X, Y, lam_max, 80, start_or_default(w0.value, -10.0),
                                      start_or_default(b0.value, -20.0))
    except Exception as error:
        phase = error
    return best, lam_max, phase


@app.cell
def _(X, batch_size, best, facts, lam_max, method, mo, phase):
    # Drawn for the heavy ball on all the samples, a marker at the sliders' (lr, momentum).
    phase_view = None
    try:
        if isinstance(phase, Exception):
            raise phase
        if facts is not None and method.value == "momentum" and batch_size.value >= len(X):
            chosen = {"lr": facts["hyperparams"]["lr"],
                      "momentum": facts["hyperparams"]["momentum"]}
            phase_view = optimizer_plots.plot_phase(*phase, lam_max, best,
                                                    optimizers.PHASE_STEPS, chosen,
                                                    marker="this setting")
            plt.close(phase_view)  # shown all the same; closed, pyplot holds none per move
    except Exception as error:
        phase_view = failure(mo, "the phase diagram", error)
    return (phase_view,)


@app.cell
def _():
    # Step 4 of your own: edit this function in `marimo edit playground.py`. It starts as
    # the tutorial's rule; it runs on the settings above, beside the method chosen there.
    def my_update(params, state, hyperparams):
        for p in params:
            p.data = p.data - hyperparams["lr"] * p.grad.data
    return (my_update,)


@app.cell
def _(X, Y, b0, batch_size, epochs, history, lr, method, mo, my_update, sampling,
      schedule, settings, w0):
    try:
        mine, _, _ = within_time_limit(mo, lambda: run_setting(
            X, Y, method.value, chosen_hyperparams(method.value, lr.value, settings.value),
            epochs.value, batch_size.value, sampling.value, schedule.value, None, 42,
            start_or_default(w0.value, -10.0), start_or_default(b0.value, -20.0),
            update=my_update))
        if history is None:
            apart = f"{method.value} itself failed"
        elif len(mine.path) == len(history.path):
            apart = f"its largest distance from {method.value}'s path: " \
                    f"{largest_distance(mine.path, history.path):.1e}"
        else:
            apart = (f"it stopped after {mine.updates} updates, {method.value} after "
                     f"{history.updates}")
        outcome = text_block(mo, [f"your Step 4 (my_update): w={mine.w:+.6f} "
                                  f"b={mine.b:+.6f}; {apart}"])
    except BaseException as error:  # your code may raise anything
        outcome = failure(mo, "your Step 4", error)
    # `marimo run` sends no code to the page: the cell's function is shown as text.
    mine_panel = mo.vstack([
        mo.md("**Your own Step 4** (edit it in `marimo edit playground.py`):"),
        mo.md("```python\n" + inspect.getsource(my_update) + "```"), outcome])
    return (mine_panel,)


@app.cell
def _(b0, batch_size, clear, data_panel, epochs, facts_panel, lr, method, mine_panel, mo,
      phase_view, pin, sampling, schedule, settings, summary, views, w0):
    mo.vstack([
        data_panel,
        mo.hstack([method, lr, epochs, batch_size], justify="start"),
        mo.hstack([sampling, schedule, w0, b0], justify="start"),
        settings.hstack() if settings.value else mo.md(""),
        text_block(mo, summary) if summary else mo.md(""),
        facts_panel,
        views,
        mo.hstack([clear, pin], justify="start"),
        phase_view if phase_view is not None else mo.md(""),
        mine_panel,
    ])
    return


if __name__ == "__main__":
    import sys

    if sys.argv[1:] in (["-h"], ["--help"]):
        print(__doc__.strip())
    elif sys.argv[1:]:  # a notebook has sliders, not options
        print("playground.py: error: it takes no options: move its sliders in `python -m "
              "marimo run playground.py` (see docs/playground.md)", file=sys.stderr)
        sys.exit(2)
    else:
        outputs, cells = app.run()
        summary = cells.get("summary") or ["(the run failed: see the page)"]
        print("\n".join(summary))
        print("every cell ran once; move the knobs in `python -m marimo run playground.py`")
