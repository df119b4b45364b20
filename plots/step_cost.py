"""The step-cost lesson's figure: the time of one step against n, each rung, and the
memory-bandwidth limit of reading the data once."""

import matplotlib.pyplot as plt
import numpy as np

from plots.style import finish


def plot_costs(rows, rate, where):
    """Left: seconds per step against n, log-log, a line per rung, the limit (8n bytes at
    `rate` bytes a second) dashed; at small n the lines flatten onto each rung's fixed
    overhead. Right: each rung's multiple of the limit. rows: step_cost's table rows."""
    figure, (times, multiples) = plt.subplots(1, 2, figsize=(12, 5))
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.12, top=0.88, wspace=0.22)
    rungs = list(dict.fromkeys(row["rung"] for row in rows))
    for number, rung in enumerate(rungs):
        mine = [row for row in rows if row["rung"] == rung]
        sizes = np.array([row["n"] for row in mine])
        seconds = np.array([row["seconds"] for row in mine])
        style = dict(color=f"C{number}", marker="o", markersize=4, linewidth=1.5,
                     linestyle=":" if "once" in rung else "-")
        times.plot(sizes, seconds * 1e6, label=rung, **style)
        if mine[0]["reads"]:
            multiples.plot(sizes, seconds / np.array([row["limit"] for row in mine]),
                           label=rung, **style)
    sizes = np.array(sorted({row["n"] for row in rows}))
    times.plot(sizes, 8 * sizes / rate * 1e6, "k--", marker="x", linewidth=1.2,
               label=f"the limit: 8n bytes at {rate / 1e9:.1f} GB/s")
    multiples.axhline(1, color="black", linestyle="--", linewidth=1.2, label="the limit")
    for axes in (times, multiples):
        axes.set_xscale("log")
        axes.set_yscale("log")
    times.set_ylabel("time of one step (us, log scale)")
    multiples.set_ylabel("time / the limit (log scale)")
    finish(times, "One step of batch descent", xlabel="samples n (log scale)",
           integer_x=False, legend=False)
    finish(multiples, "How far from reading the data once", xlabel="samples n (log scale)",
           integer_x=False, legend=False)
    times.legend(fontsize=8, loc="best")
    multiples.legend(fontsize=8, loc="best")
    figure.suptitle(f"What one step costs, on {where}")
    return figure
