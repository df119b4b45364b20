"""What a program printed, read as a reader reads it against what a page or a test shows:
the text exactly, the numbers as numbers.

float32 results are rounded by the CPU that computes them: another vector width, another
order of a sum, moves their last bits, and with them a printed last digit (a learner's
Intel machine printed loss=11.658219 where this one prints 11.658217). So a number shown
to three significant digits or more may differ from what was printed by a relative 1e-5
or two units of its last printed place, whichever is larger; it must keep its shape (sign,
decimals, exponent). Integers (epochs, counts) and numbers shown to one or two digits
(settings echoed back, like lr=0.1) must be printed exactly.

In the shown lines, `...` stands for any text within a line, and a line that is only `...`
for any number of lines.
"""

import re

# A number as printed: a sign, digits (thousands may be grouped by commas), decimals, an
# exponent; not a piece of a word (float32, x^2 are text) or of a version (2.13.0).
NUMBER = re.compile(r"(?<![\w.])[-+]?\d(?:[\d,]*\d)?(?:\.\d+)?(?:e[-+]?\d+)?(?!\w|\.\d)")
RELATIVE = 1e-5
UNITS = 2


def significant_digits(token):
    mantissa = token.lstrip("+-").split("e")[0].replace(",", "").replace(".", "")
    return len(mantissa.lstrip("0"))


def rounded(token):
    """Whether a shown number is a result that rounding may move: not an integer, and
    shown to three significant digits or more."""
    return ("." in token or "e" in token) and significant_digits(token) >= 3


def tolerance(token):
    """How far a printed number may be from the shown `token`."""
    mantissa, _, exponent = token.partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    unit = 10.0 ** (int(exponent or 0) - decimals)
    return max(RELATIVE * abs(value(token)), UNITS * unit)


def value(token):
    return float(token.replace(",", ""))


def shape(token):
    """A regex for any number printed the way `token` is: its sign, its decimals, its
    exponent."""
    mantissa, _, exponent = token.partition("e")
    sign = "[-+]" if mantissa[0] in "+-" else "-?"
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    return (f"({sign}" + r"\d(?:[\d,]*\d)?" + (rf"\.\d{{{decimals}}}" if decimals else "")
            + (r"e[-+]\d+" if exponent else "") + ")")


def pattern_of(shown_lines):
    """A regex for the whole printed text, and the shown numbers its groups hold."""
    parts, numbers = [], []
    for line in shown_lines:
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
            continue
        for index, piece in enumerate(line.rstrip().split("...")):
            if index:
                parts.append(r"[^\n]*")
            start = 0
            for number in NUMBER.finditer(piece):
                if rounded(number.group()):
                    parts += [re.escape(piece[start:number.start()]), shape(number.group())]
                    numbers.append(number.group())
                    start = number.end()
            parts.append(re.escape(piece[start:]))
        parts.append(r"\n")
    return re.compile("".join(parts)), numbers


def shows(shown_lines, printed):
    """Whether `printed` (text, each line ending in a newline) is what the lines show."""
    pattern, numbers = pattern_of(shown_lines)
    found = pattern.fullmatch(printed)
    return found is not None and all(
        abs(value(got) - value(shown)) <= tolerance(shown) * (1 + 1e-9)
        for got, shown in zip(found.groups(), numbers, strict=True))


def shows_line(shown, line):
    """Whether one printed line is the shown one (`...` allowed)."""
    return shows([shown], line.rstrip() + "\n")
