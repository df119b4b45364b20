"""The pitfalls' figure: each mistake's loss beside the correct loop's, one panel each."""

import matplotlib.pyplot as plt
import numpy as np

from plots.style import BATCH_COLOR, finish, loss_axis

WRONG_COLOR = "tab:red"
RIGHT_COLOR = BATCH_COLOR  # the correct loop is the tutorial's batch descent
OTHER_COLOR = "tab:gray"


def plot_pitfalls(panels):
    """One panel per pitfall: the wrong loop's loss (red) beside the right one's (blue).

    `panels` maps a title to runs (wrong first, right last), each with `label`, `losses`
    and `stopped`. Losses that are not finite cannot be drawn; a run that stopped ends in a
    cross at its last finite loss (a run that ran into NaN says so in its label).
    """
    count = len(panels)
    columns = min(count, 2)
    rows = -(-count // columns)
    # A layout engine costs a little time, but panels of any count then keep their labels.
    figure, grid = plt.subplots(rows, columns, figsize=(6.2 * columns, 4.2 * rows),
                                squeeze=False, layout="constrained")
    for axes, (title, runs) in zip(grid.flat, panels.items(), strict=False):
        # Any run between wrong and right is drawn wide underneath, so it shows even where
        # it runs along another.
        styles = [dict(color=WRONG_COLOR, linewidth=1.3, zorder=3),
                  *[dict(color=OTHER_COLOR, linewidth=5, alpha=0.5, zorder=2)] * (len(runs) - 2),
                  dict(color=RIGHT_COLOR, linewidth=1.3, zorder=3)]
        shown = []
        for run, style in zip(runs, styles, strict=True):
            steps = [step for step, loss in enumerate(run.losses) if np.isfinite(loss)]
            losses = [run.losses[step] for step in steps]
            label = run.label + (": diverged" if run.stopped == "diverged" else "")
            axes.plot(steps, losses, "o-", markersize=3, label=label, **style)
            if run.stopped:
                axes.plot(steps[-1], losses[-1], "x", color=style["color"], markersize=10,
                          markeredgewidth=2.5, zorder=4)
            shown += losses
        loss_axis(axes, shown, "MSE on all the data")
        finish(axes, title, xlabel="step")
    for axes in list(grid.flat)[count:]:
        axes.set_visible(False)
    return figure
