"""The figures, one module per lesson; `style` holds the look they share.

Every plot function takes data and labels and returns a matplotlib figure: the caller
saves, shows or closes it (see cli.save_figures and cli.show_figures).
"""
