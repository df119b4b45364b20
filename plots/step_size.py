"""The step-size sweep: the loss a fixed budget of epochs reaches, against the step size.

sweep: {label: [(lr, final full-data loss, diverged), ...]}, one list per method, in the
order the legend should show them; bounds: {label: that method's stability bound}.
"""

import matplotlib.pyplot as plt

from plots.style import floor_line, plain_ticks


def plot_step_size_sweep(sweep, bounds, start_loss, ls_loss, epochs, styles=None,
                         tutorial_lr=0.1):
    """Below: each method's final loss against lr, log-log, with its stability bound dotted.
    Above: a row per method with a cross at every step size that diverged.

    A diverged run has no final loss worth plotting, so it gets a row of its own instead
    of a made-up height on the loss axis. styles: {label: line style}.
    """
    styles = styles or {}
    figure, (crashed, axes) = plt.subplots(
        2, 1, sharex=True, figsize=(10.5, 5.8), gridspec_kw={"height_ratios": [1, 4]})
    figure.subplots_adjust(left=0.13, right=0.66, bottom=0.1, top=0.92, hspace=0.08)
    rows = list(sweep)
    legend = []  # per method: its curve, its crosses, its bound; then the reference lines
    for row, (label, runs) in enumerate(sweep.items()):
        color = styles.get(label, {}).get("color", f"C{row}")
        finished = [(lr, loss) for lr, loss, diverged in runs if not diverged]
        diverged = [lr for lr, _, diverged in runs if diverged]
        legend += axes.plot([lr for lr, _ in finished], [loss for _, loss in finished], "o-",
                            color=color, markersize=4, label=label)
        if diverged:
            legend += crashed.plot(diverged, [row] * len(diverged), "x", color=color,
                                   markersize=8, markeredgewidth=2, label=f"{label}: diverged")
        crashed.axvline(bounds[label], color=color, linestyle=":", linewidth=1.5)
        legend.append(axes.axvline(bounds[label], color=color, linestyle=":", linewidth=1.5,
                                   label=f"{label}: stability bound {bounds[label]:.4f}"))
    legend.append(axes.axhline(start_loss, color="grey", linewidth=1,
                               label=f"starting loss {start_loss:.0f}"))
    floor_line(axes, ls_loss)
    legend.append(axes.get_lines()[-1])
    crashed.axvline(tutorial_lr, color="red", alpha=0.25, linewidth=6)
    legend.append(axes.axvline(tutorial_lr, color="red", alpha=0.25, linewidth=6,
                               label=f"the tutorial's lr = {tutorial_lr:g}"))

    crashed.set(yticks=range(len(rows)), yticklabels=rows, ylim=(len(rows) - 0.5, -0.5),
                ylabel="diverged", title="Step size: crawl, converge, or explode")
    crashed.grid(alpha=0.3, axis="x", which="both")
    # Down to half the floor, so the floor's own decade has a labelled tick.
    axes.set(xscale="log", yscale="log", xlabel="step size lr",
             ylim=(ls_loss * 0.5 if ls_loss > 0 else None, None),
             ylabel=f"loss on all the data after {epochs} epochs\n(MSE, log scale)")
    plain_ticks(axes)
    axes.grid(alpha=0.3, which="both")
    axes.legend(handles=legend, fontsize=8.5, loc="upper left", bbox_to_anchor=(1.02, 1.25))
    return figure
