import math
import os

import numpy as np
import pytest
import torch

from data import make_data, read_csv


def test_grid_shape_and_dtype():
    X, Y = make_data()
    assert X.shape == (100, 1) and Y.shape == (100, 1)
    assert X.dtype == torch.float32 and Y.dtype == torch.float32
    expected = np.round(np.arange(-50, 50) / 10, 1).astype(np.float32)
    np.testing.assert_array_equal(X.reshape(-1).numpy(), expected)
    assert X[0].item() == -5.0 and abs(X[-1].item() - 4.9) < 1e-6


def test_same_seed_same_data_other_seed_other_noise():
    X1, Y1 = make_data(seed=7)
    X2, Y2 = make_data(seed=7)
    _, Y3 = make_data(seed=8)
    assert torch.equal(X1, X2) and torch.equal(Y1, Y2)
    assert not torch.equal(Y1, Y3)


def test_global_random_state_untouched():
    before = torch.get_rng_state()
    make_data(seed=3)
    assert torch.equal(before, torch.get_rng_state())


def test_noise_has_the_requested_spread_around_the_line():
    X, Y = make_data(n=20_000, seed=1, slope=2.0, noise=0.4)
    residual = (Y - 2.0 * X).reshape(-1)
    assert abs(residual.mean().item()) < 0.02
    assert abs(residual.std().item() - 0.4) < 0.01


def test_a_csv_gives_its_x_and_y_columns_whatever_else_it_holds(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("id,y,x,note\n1,2.5,-1,a\n2,0.5,0.0,b\n\n3,-1.5,1e0,c\n")
    X, Y = read_csv(path)
    assert X.dtype == Y.dtype == torch.float32 and X.shape == Y.shape == (3, 1)
    assert X.reshape(-1).tolist() == [-1.0, 0.0, 1.0]
    assert Y.reshape(-1).tolist() == [2.5, 0.5, -1.5]


@pytest.mark.parametrize("text, reason", [
    ("", "the file is empty"),
    ("a,b\n1,2\n3,4\n", "no column named x or y"),
    ("x,z\n1,2\n3,4\n", "no column named y"),
    ("x,y\n1,2\n3,four\n", "line 3: y = 'four' is not a number"),
    ("x,y\n1,2\nnan,4\n", "line 3: x = 'nan' is not a finite number"),
    ("x,y\n1,inf\n3,4\n", "line 2: y = 'inf' is not a finite number"),
    ("x,y\n1,2\n", "1 data row; a line needs at least 2"),
    # The cell shortened in the message: 9,990 digits made a line of 10,049 characters.
    ("x,y\n1,2\n" + "1" * 9990 + ",2\n",
     "line 3: x = '111111111111...1111111111111' is not a finite"),
    # Read as x=1, y=5 before: a decimal comma trained on the wrong numbers, silently.
    ("x,y\n1,5,2,5\n2,5,4,5\n", "line 2 has 4 fields, the header 2: a decimal comma"),
    ("x,y\n1,2\n3\n", "line 3 has 1 field, the header 2"),
    ("x,y,x\n1,2,3\n4,5,6\n", "two columns named x in the header row"),
    ("x,y\n1,2\n3,1e39\n", "line 3: y = '1e39' is too large"),
    # Inside float32, but its square is not: no step size could train on it.
    ("x,y\n1e20,1\n2e20,2\n", "line 2: x = '1e20' is too large: values must stay within"),
    # Its square fits, but ten million such rows' squared errors do not.
    ("x,y\n1,2\n1e17,1\n", "line 3: x = '1e17' is too large: values must stay within"),
])
def test_a_csv_that_cannot_be_used_says_why(tmp_path, text, reason):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError) as refused:
        read_csv(path)
    assert reason in str(refused.value)


def test_the_csv_data_writes_reads_back_as_the_same_tensors(tmp_path, capsys):
    import data

    data.main(["--n", "30", "--slope", "2", "--csv", str(tmp_path / "line.csv"),
               "--out", str(tmp_path / "figures")])
    X, Y = make_data(n=30, slope=2.0)
    X_read, Y_read = read_csv(tmp_path / "line.csv")
    assert torch.equal(X, X_read) and torch.equal(Y, Y_read)
    assert f"wrote {tmp_path / 'line.csv'}" in capsys.readouterr().out


def test_a_csv_saved_by_a_spreadsheet_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("x,y\n1,2\n2,4.5\n".encode("utf-8-sig"))
    X, Y = read_csv(path)
    assert X.reshape(-1).tolist() == [1.0, 2.0] and Y.reshape(-1).tolist() == [2.0, 4.5]


# Every input bounded before it is read: the limits hold for a file as for --n.

def test_a_csv_over_the_row_limit_is_refused_as_it_is_read(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("x,y\n1,2\n" + "5,6\n" * 9)
    with pytest.raises(ValueError, match=r"^more than 10 lines; the limit is 9 rows after "
                                         r"the header$"):
        read_csv(path, max_rows=9)
    path.write_text("x,y\n1,2\n" + "5,6\n" * 8)  # 9 rows: within the limit
    assert len(read_csv(path, max_rows=9)[0]) == 9


def said_to_be_empty(monkeypatch):
    """Make every file say it is empty, as /proc's do, and as one that grows was."""
    real = os.fstat

    def fstat(descriptor):
        status = list(real(descriptor))
        status[6] = 0  # st_size
        return os.stat_result(status)

    monkeypatch.setattr(os, "fstat", fstat)
    monkeypatch.setattr(os, "stat", lambda path, **kwargs: fstat(os.open(path, os.O_RDONLY)))


def test_a_file_larger_than_it_said_is_refused_at_the_limits_while_read(tmp_path,
                                                                        monkeypatch):
    import data

    path = tmp_path / "grown.csv"
    path.write_text("x,y\n" + "1,2\n" * 20)
    said_to_be_empty(monkeypatch)
    with pytest.raises(ValueError, match=r"^more than 11 lines; the limit is 10 rows"):
        read_csv(path, max_rows=10)
    monkeypatch.setattr(data, "MAX_BYTES", 50)
    with pytest.raises(ValueError, match=r"^more than 50 bytes; the limit is 50$"):
        read_csv(path)


def test_a_file_over_the_byte_limit_is_refused_by_its_size(tmp_path, monkeypatch):
    import data

    path = tmp_path / "big.csv"
    path.write_text("x,y\n1,2\n3,4\n")
    monkeypatch.setattr(data, "MAX_BYTES", 10)
    with pytest.raises(ValueError, match=r"^12 bytes; the limit is 10$"):
        read_csv(path)


@pytest.mark.parametrize("text", ["x,y\n1," + "2" * 20_000 + "\n3,4\n",
                                  'x,y\n1,"' + "2" * 200_000 + '"\n3,4\n',
                                  "x,y\n" + "1," * 6_000 + "\n"])
def test_a_line_longer_than_the_limit_is_one_line_not_the_csv_modules_error(tmp_path, text):
    path = tmp_path / "wide.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=r"^line 2 is longer than 10,000 characters$"):
        read_csv(path)


def test_what_is_not_a_plain_file_is_refused_without_being_read(tmp_path):
    import os

    places = [tmp_path]
    if hasattr(os, "mkfifo"):  # a pipe, which would wait forever for a writer
        os.mkfifo(tmp_path / "pipe")
        places.append(tmp_path / "pipe")
    if os.path.exists("/dev/zero"):  # a device that never ends
        places.append("/dev/zero")
    for place in places:
        with pytest.raises(ValueError, match="not a plain file"):
            read_csv(place)


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_the_row_limit_holds_whatever_ends_the_lines(tmp_path, end):
    path = tmp_path / "long.csv"
    path.write_bytes(("x,y" + end + ("5,6" + end) * 10).encode())
    with pytest.raises(ValueError, match="the limit is 9 rows after the header"):
        read_csv(path, max_rows=9)
    assert len(read_csv(path, max_rows=10)[0]) == 10


def test_a_line_of_exactly_the_limit_is_read(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("x,y\n1,2\n3," + "0" * 9_997 + "4\r\n")  # 10,000 characters, then CR LF
    assert read_csv(path)[1].reshape(-1).tolist() == [2.0, 4.0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX's")
def test_a_name_swapped_for_a_pipe_after_any_check_is_refused_without_waiting(tmp_path,
                                                                              monkeypatch):
    import threading

    pipe, plain = tmp_path / "data.csv", tmp_path / "plain.csv"
    os.mkfifo(pipe)
    plain.write_text("x,y\n1,2\n2,3\n")
    # A check of the name finds a plain file; the name is a pipe by the time it is opened.
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda path, **kwargs: real_stat(plain))
    refused = []

    def read():
        try:
            read_csv(pipe)
        except ValueError as error:
            refused.append(str(error))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(60)  # a hang guard: the refusal comes at once, with no writer
    if reader.is_alive():
        with open(pipe, "w"):  # let the blocked reader go
            pass
    assert refused == ["not a plain file (a folder, a device or a pipe)"]


def test_the_largest_values_a_file_may_hold_train_at_the_step_size_the_bound_names(tmp_path):
    """Within the limits, the start's loss is finite in float32 however many rows there
    are (MAX_SIZE of the worst error from the farthest start), and a file of values near
    the limit trains at a step size below the bound the divergence line names."""
    import torch

    from data import MAX_SIZE, MAX_VALUE
    from descent import train
    from model import stability_bound
    from optimizers import UPDATES
    from plumbing.options import SHARED, ends

    start = max(ends(float, SHARED[name][1])[2] for name in ("w0", "b0"))  # the farthest start
    worst = torch.full((MAX_SIZE,), start * MAX_VALUE + start + MAX_VALUE)
    assert torch.isfinite(worst.square().mean())
    x = torch.linspace(-1, 1, 101) * MAX_VALUE
    path = tmp_path / "large.csv"
    path.write_text("x,y\n" + "".join(f"{v},{-0.5 * v}\n" for v in x.tolist()))
    X, Y = read_csv(path)
    history = train(X, Y, UPDATES["gd"], {"lr": stability_bound(X, len(X)) / 2}, 20, len(X))
    assert abs(history.w + 0.5) < 1e-6 and math.isfinite(history.step_losses[-1])
