"""The benchmark's figure: the time, and the samples, each method needs to reach 1% of the
best fit as the data grows. docs/benchmark.md is the lesson."""

import matplotlib.pyplot as plt

from plots.style import BATCH_COLOR, MINIBATCH_COLOR, SGD_COLOR, finish

# The descents in the order the benchmark lists them: the tutorial's colours first.
DESCENT_COLORS = [BATCH_COLOR, SGD_COLOR, MINIBATCH_COLOR, "tab:purple", "tab:brown",
                  "tab:pink", "tab:gray", "tab:olive"]
MARKERS = "os^vD<>p"


def method_style(method, methods):
    """Colour, line and marker of a method: the closed form a dashed black floor, each
    descent by its place in `methods`, so it looks the same whichever methods a run has."""
    if method == "closed form":
        return dict(color="black", linestyle="--", marker=".")
    index = [m for m in methods if m != "closed form"].index(method)
    style = dict(color=DESCENT_COLORS[index % len(DESCENT_COLORS)],
                 marker=MARKERS[index % len(MARKERS)], markersize=5)
    if method.startswith("torch.optim"):
        # The library takes the same steps as a hand-written method: dotted and hollow, so
        # the line it lies on shows through.
        style.update(linestyle=":", markerfacecolor="none", markersize=7)
    return style


def plot_time_to_target(rows, budget, methods):
    """Left: seconds to a loss within 1% of least squares against n, log-log, one line per
    method: the median repeat, with a bar from the fastest repeat to the slowest.
    Right: the samples each processed to get there.

    rows: the benchmark's rows (n, method, reached, seconds, seconds_min, seconds_max,
    samples, repeats). `methods` lists every method the benchmark can run, in order. A run
    that missed the target in its median repeat is a cross, not a point on the line.
    """
    figure, (time_axes, work_axes) = plt.subplots(1, 2, figsize=(13, 5.2))
    figure.subplots_adjust(left=0.06, right=0.8, bottom=0.12, top=0.84, wspace=0.25)
    repeats = max((row["repeats"] for row in rows), default=1)
    handles = []  # for the legend, in the order of `methods`
    for method in methods:
        runs = [row for row in rows if row["method"] == method]
        style = method_style(method, methods)
        reached = [row for row in runs if row["reached"]]
        missed = [row for row in runs if not row["reached"]]
        if reached:
            n = [row["n"] for row in reached]
            seconds = [row["seconds"] for row in reached]
            spread = [[row["seconds"] - row["seconds_min"] for row in reached],
                      [row["seconds_max"] - row["seconds"] for row in reached]]
            handles.append(time_axes.errorbar(n, seconds, yerr=spread, capsize=3, label=method,
                                              **style))
            work_axes.plot(n, [row["samples"] for row in reached], **style)
        if missed:
            cross = dict(color=style["color"], marker="x", linestyle="none", markersize=9,
                         markeredgewidth=2)
            n = [row["n"] for row in missed]
            handles += time_axes.plot(n, [row["seconds"] for row in missed],
                                      label=f"{method}: not reached in {budget:g} s", **cross)
            work_axes.plot(n, [row["samples"] for row in missed], **cross)
    for axes in (time_axes, work_axes):
        axes.set(xscale="log", yscale="log")
    time_axes.set_ylabel("seconds (log scale)")
    finish(time_axes, f"Seconds: median of {repeats}, bar from fastest to slowest",
           xlabel="data size n (log scale)", integer_x=False, legend=False)
    work_axes.set_ylabel("samples processed (log scale)")
    finish(work_axes, "Samples processed on the way", xlabel="data size n (log scale)",
           integer_x=False, legend=False)
    figure.legend(handles=handles, fontsize=9, loc="upper left", bbox_to_anchor=(0.81, 0.84))
    figure.suptitle("Time to reach a loss within 1% of the best fit, as the data grows")
    return figure
