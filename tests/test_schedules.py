"""Schedules, sampling and averaging in train_sgd: every step size and the whole path
against torch.optim.lr_scheduler, the average against torch.optim.swa_utils."""

import pytest
import torch
from conftest import run_main
from reference import in_order, torch_optim_run

import schedules
import train_sgd as script
from descent import gd_update, train
from model import averaged_point, least_squares
from train_sgd import train_sgd

EPOCHS = 6
# {name: (the schedule's options, the torch.optim.lr_scheduler that does the same)}
REFERENCES = {
    "constant": ({}, lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1.0)),
    "step": ({"step_every": 2, "gamma": 0.5},
             lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)),
    "exponential": ({"gamma": 0.8},
                    lambda opt: torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.8)),
    "cosine": ({}, lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=EPOCHS)),
    "inverse-time": ({"decay": 0.3}, lambda opt: torch.optim.lr_scheduler.LambdaLR(
        opt, lambda epoch: 1 / (1 + 0.3 * epoch))),
    # Linear warmup over 3 epochs (LinearLR), chained with a decay that multiplies the step
    # size by sqrt(t / (t + 1)) at each step from epoch 3 on (MultiplicativeLR): the
    # closed form's 1/sqrt(t), built from its ratios.
    "warmup": ({"warmup": 3}, lambda opt: torch.optim.lr_scheduler.ChainedScheduler([
        torch.optim.lr_scheduler.LinearLR(opt, start_factor=1 / 3, total_iters=2),
        torch.optim.lr_scheduler.MultiplicativeLR(
            opt, lambda epoch: (epoch / (epoch + 1)) ** 0.5 if epoch >= 3 else 1.0)])),
}


def scheduled_optim_run(X, Y, lr, name, orders, batch_size):
    """The reference: torch.optim.SGD with the scheduler stepped after each epoch."""
    return torch_optim_run(X, Y, orders, batch_size, scheduler=REFERENCES[name][1], lr=lr)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_every_step_size_equals_the_schedulers(name):
    lr = 0.05
    expected = scheduled_optim_run(torch.zeros(1, 1), torch.zeros(1, 1), lr, name,
                                   in_order(1, EPOCHS), 1).lrs
    at = schedules.step_sizes(name, lr, EPOCHS, REFERENCES[name][0])
    assert [at(epoch) for epoch in range(EPOCHS)] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("batch_size", [1, 10])
@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_the_scheduled_path_equals_torch_optims(data, name, batch_size):
    X, Y = data
    seed = 3
    generator = torch.Generator().manual_seed(seed)
    orders = [torch.randperm(len(X), generator=generator) for _ in range(EPOCHS)]
    expected = scheduled_optim_run(X, Y, 0.02, name, orders, batch_size).path
    schedule = schedules.step_sizes(name, 0.02, EPOCHS, REFERENCES[name][0])
    # train_sgd.py --schedule runs the taught loop; the update seam (the playground's) with
    # the plain update takes the same steps.
    taught = train_sgd(X, Y, 0.02, EPOCHS, batch_size=batch_size, seed=seed, verbose=False,
                       step_sizes=schedule)
    torch.testing.assert_close(torch.tensor(taught.path), expected)
    seam = train(X, Y, gd_update, {"lr": 0.02}, EPOCHS, batch_size, seed=seed,
                 schedule=schedule)
    assert seam.path == taught.path


def test_a_cosine_schedule_settles_where_a_constant_step_does_not(data):
    X, Y = data
    ls_w, ls_b, _ = least_squares(X, Y)
    cosine = train_sgd(X, Y, 0.01, 30, verbose=False,
                       step_sizes=schedules.step_sizes("cosine", 0.01, 30))
    constant = train_sgd(X, Y, 0.01, 30, verbose=False)
    assert abs(cosine.w - ls_w) < 0.02 and abs(cosine.b - ls_b) < 0.02
    assert abs(constant.w - ls_w) > 0.02 or abs(constant.b - ls_b) > 0.02


def test_sampling_with_replacement_draws_from_the_seeded_generator(data):
    X, Y = data
    run = train_sgd(X, Y, 0.01, 2, seed=7, verbose=False, replacement=True)
    again = train_sgd(X, Y, 0.01, 2, seed=7, verbose=False, replacement=True)
    assert run.path == again.path
    seam = train(X, Y, gd_update, {"lr": 0.01}, 2, 1, seed=7, replacement=True)
    assert seam.path == run.path
    generator = torch.Generator().manual_seed(7)
    orders = [torch.randint(len(X), (len(X),), generator=generator) for _ in range(2)]
    assert len(set(orders[0].tolist())) < len(X), "some samples drawn twice"
    expected = scheduled_optim_run(X, Y, 0.01, "constant", orders, 1).path
    torch.testing.assert_close(torch.tensor(run.path), expected)
    reshuffled = train_sgd(X, Y, 0.01, 2, seed=7, verbose=False)
    assert reshuffled.path != run.path


def test_the_average_is_the_mean_of_the_points_and_swa_utils_agrees(data):
    X, Y = data
    epochs, first = 6, 3
    history = train_sgd(X, Y, 0.01, epochs, batch_size=10, shuffle=False, verbose=False)
    w, b, count = averaged_point(history, 10, first)
    # Independently: the points after the updates of epochs 3 to 6, one by one.
    points = history.path[1:][(first - 1) * 10:]
    assert count == len(points) == 40
    assert (w, b) == pytest.approx((sum(p[0] for p in points) / count,
                                    sum(p[1] for p in points) / count), rel=1e-12)
    # torch.optim.swa_utils.AveragedModel, updated after every step of torch.optim.SGD's
    # run from epoch 3 on.
    reference = torch_optim_run(X, Y, in_order(len(X), epochs), batch_size=10, lr=0.01)
    model = torch.nn.Linear(1, 1)
    averaged = torch.optim.swa_utils.AveragedModel(model)
    for w_step, b_step in reference.path[1:][(first - 1) * 10:].tolist():
        with torch.no_grad():
            model.weight.fill_(w_step)
            model.bias.fill_(b_step)
        averaged.update_parameters(model)
    assert (w, b) == pytest.approx((averaged.module.weight.item(),
                                    averaged.module.bias.item()), abs=1e-5)


def test_the_final_line_says_it_is_an_average(data, tmp_path, capsys):
    status, out, _ = run_main(script, capsys, "--epochs", 5, "--average-from", 3, "--out", tmp_path)
    assert status == 0
    X, Y = data
    history = train_sgd(X, Y, 0.01, 5, verbose=False)
    w, b, _ = averaged_point(history, 100, 3)
    assert f"final: w={w:+.6f} b={b:+.6f}" in out
    assert "(the average of the 300 points from epoch 3 on)" in out


def test_the_progress_lines_show_the_step_size_in_use(tmp_path, capsys):
    status, out, _ = run_main(script, capsys, "--epochs", 3, "--schedule", "step",
                              "--step-every", 2, "--gamma", 0.5, "--out", tmp_path)
    assert status == 0
    lines = [line for line in out.splitlines() if line.startswith("epoch")]
    assert [line.rsplit(" ", 1)[1] for line in lines] == ["lr=0.01", "lr=0.01", "lr=0.005"]
    assert [path.name for path in tmp_path.iterdir()] == ["sgd_loss_step.png"]


def test_print_steps_shows_each_epochs_scheduled_step(tmp_path, capsys):
    status, out, _ = run_main(script, capsys, "--epochs", 2, "--schedule", "step",
                              "--step-every", 1, "--gamma", 0.5, "--no-shuffle",
                              "--print-steps", "--out", tmp_path)
    assert status == 0
    steps = [dict(part.split("=") for part in line.split(": ", 1)[1].split())
             for line in out.splitlines() if line.startswith("  step ")]
    assert len(steps) == 200
    # Each step starts where the last one's update, w - lr * dloss/dw, left it: lr 0.01 in
    # the first epoch, half that in the second. w is printed to six decimals.
    for number, lr in [(1, 0.01), (101, 0.005)]:
        before, after = steps[number - 1], steps[number]
        assert float(after["w"]) == pytest.approx(
            float(before["w"]) - lr * float(before["dloss/dw"]), abs=2e-6)


@pytest.mark.parametrize("args, complaint", [
    (["--schedule", "linear"], "--schedule: invalid choice: 'linear'"),
    (["--schedule", "step", "--gamma", "0"], "--gamma: '0' must be a number above 0, up to 1"),
    (["--schedule", "step", "--step-every", "0"], "--step-every: '0' must be a whole number"),
    (["--schedule", "inverse-time", "--decay", "0"], "--decay: '0' must be a finite number"),
    (["--average-from", "0"], "--average-from: '0' must be a whole number of at least 1"),
    (["--average-from", "21"], "--average-from 21 is past the last epoch, 20"),
    (["--schedule", "step", "--step-every", "20"], "the step size would never change"),
    (["--gamma", "0.5"], "--gamma is an option of --schedule step or exponential"),
    (["--sampling", "replacement", "--no-shuffle"], "either in order or drawn at random"),
    (["--sampling", "reshuffle", "--no-shuffle"], "--no-shuffle and --sampling reshuffle"),
])
def test_bad_settling_options_are_refused_in_one_line(tmp_path, capsys, args, complaint):
    status, out, err = run_main(script, capsys, *args, "--out", tmp_path / "out")
    assert status == 2
    assert out == "" and len(err.strip().splitlines()) == 1 and complaint in err
    assert not (tmp_path / "out").exists()


def test_the_settling_pages_table_has_a_row_for_every_schedule():
    from conftest import ROOT

    from schedules import SCHEDULES

    page = (ROOT / "docs" / "settling.md").read_text()
    missing = [name for name in SCHEDULES if f"\n| `{name}`" not in page]
    assert missing == [], f"docs/settling.md's table of schedules lacks {missing}"
