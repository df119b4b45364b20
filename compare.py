"""Batch gradient descent against stochastic gradient descent on the same data.

Trains both with their defaults, prints a table, and writes the tutorial's two loss
figures and one comparison figure. Run `python compare.py --help` for the knobs.
"""

import math

import cli
from data import make_data
from model import DivergenceError, least_squares, stability_bound
from train_batch import train_batch
from train_sgd import train_sgd


def result_table(records, reference):
    """One row per run: updates, final w and b, final loss, distance to least squares, time."""
    ls_w, ls_b, ls_loss = reference
    rows = [f"{'method':<15} {'updates':>7} {'w':>11} {'b':>11} {'loss':>12} "
            f"{'dist to LS':>11} {'seconds':>8}"]
    for name, record in records.items():
        distance = math.hypot(record.w - ls_w, record.b - ls_b)
        rows.append(f"{name:<15} {record.updates:>7} {record.w:>+11.5f} {record.b:>+11.5f} "
                    f"{record.epoch_losses[-1]:>12.6g} {distance:>11.5f} {record.seconds:>8.3f}")
    rows.append(f"{'least squares':<15} {'-':>7} {ls_w:>+11.5f} {ls_b:>+11.5f} "
                f"{ls_loss:>12.6g} {0.0:>11.5f} {'-':>8}")
    return rows


def main(argv=None):
    parser = cli.Parser("Batch gradient descent against SGD: a table and three loss figures.")
    cli.add_side_by_side_args(parser)
    cli.add_output_args(parser, seed=True)
    args, out_dir = cli.parse_args(parser, argv)

    X, Y = make_data(n=args.n, seed=args.seed)
    epochs = f"{args.epochs} epoch{'' if args.epochs == 1 else 's'}"
    print(f"data: n={args.n} seed={args.seed}; {epochs} from w=-10 b=-20")
    for flag, lr, kind, bound in [
            ("--batch-lr", args.batch_lr, "batch", stability_bound(X)),
            ("--sgd-lr", args.sgd_lr, "per-sample", stability_bound(X, batch_size=1))]:
        if lr >= bound:
            print(f"warning: {flag} {lr:g} is at or above the {kind} stability bound "
                  f"{bound:.4f}", flush=True)
    try:
        records = {
            "batch GD": train_batch(X, Y, lr=args.batch_lr, epochs=args.epochs),
            "SGD": train_sgd(X, Y, lr=args.sgd_lr, epochs=args.epochs, seed=args.order_seed),
        }
    except DivergenceError as error:
        parser.exit(1, f"{parser.prog}: error: {error}\n")
    reference = least_squares(X, Y)
    for row in result_table(records, reference):
        print(row)

    import plots  # only now: matplotlib's backend has been chosen

    batch, sgd = records["batch GD"], records["SGD"]
    figures = {
        "batch_loss.png": plots.plot_batch_loss(batch, reference[2]),
        "sgd_loss.png": plots.plot_sgd_loss(sgd, reference[2]),
        "compare_loss.png": plots.plot_compare(batch, sgd, reference[2]),
    }
    cli.save_figures(out_dir, figures)
    cli.show_figures(figures, args.show)


if __name__ == "__main__":
    main()
