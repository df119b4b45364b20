"""The everyday-PyTorch lesson's picture: five rungs, one path."""

import matplotlib.pyplot as plt

from model import least_squares
from plots.style import ROUNDING, draw_distances, finish, plain_ticks
from plots.surface import draw_paths, loss_contours, overshoot_box, path_window


def plot_rungs(X, Y, paths, reference, diverged=False):
    """Left: every rung's path over the contours of the loss; they lie on each other.
    Right: each rung's distance from rung 2 (the tutorial's) after every update, on a log
    scale; a distance of exactly 0 is drawn at the bottom edge. Each rung has its own
    line width and style, so that rungs lying on each other all show. Paths that diverged
    are framed by the box a stable step stays in, and drawn until they leave it."""
    figure, (surface, distances) = plt.subplots(1, 2, figsize=(12, 5.2),
                                                gridspec_kw={"width_ratios": [1, 1.4]})
    figure.subplots_adjust(left=0.06, right=0.98, bottom=0.12, top=0.9, wspace=0.18)
    styles = {name: dict(color=f"C{number}", linewidth=5 - number, alpha=0.8,
                         linestyle=["-", "--", "-.", ":", "-"][number])
              for number, name in enumerate(paths)}
    ls_w, ls_b, _ = least_squares(X, Y)
    framed = ({"box": overshoot_box(reference[0], (ls_w, ls_b))} if diverged else paths)
    w_range, b_range = path_window({**framed, "least squares": [(ls_w, ls_b)]})
    loss_contours(surface, X, Y, w_range, b_range)
    draw_paths(surface, paths, styles)
    surface.plot(ls_w, ls_b, "kX", markersize=10, label="least squares")
    surface.set(xlim=w_range, ylim=b_range, xlabel="w (slope)", ylabel="b (intercept)",
                title="Five rungs, one path")
    plain_ticks(surface)
    surface.legend(fontsize=7.5, loc="upper left")

    # Wider lines first, so that a rung lying on another still shows beneath it.
    largest = draw_distances(distances, paths, reference, styles)
    if diverged:
        surface.set_title("Five rungs, one path: diverging")
    elif largest > 10 * ROUNDING:
        surface.set_title("Five rungs: the paths part")
    distances.set_ylabel("distance of (w, b) from rung 2's (log scale)")
    finish(distances, "How far each rung ever got from the tutorial's loop",
           xlabel="update", legend=False)
    distances.legend(fontsize=8, loc="upper left")
    return figure
