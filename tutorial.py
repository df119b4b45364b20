# The tutorial's complete code, in its order and with its names, made to run: batch descent,
# then SGD, then the two losses in one plot. None of the project's conventions, on purpose (no
# options, checks or project imports). Changed, and marked so: seeded noise, so every run prints
# the same numbers; exact tenths for x; SGD's step 0.01, as the tutorial's 0.1 diverges on one
# sample at a time (docs/sgd.md). The same runs: train_batch.py, train_sgd.py --no-shuffle.
import os

import matplotlib.pyplot as plt
import torch

# Preparing the data: y = -5x plus Gaussian noise, x from -5 to 5 in steps of 0.1.
X = (torch.arange(-50, 50) / 10).view(-1, 1)  # changed: exact tenths, not summed 0.1 steps
func = -5 * X
generator = torch.Generator().manual_seed(42)  # changed: seeded
Y = func + 0.4 * torch.randn(X.size(), generator=generator)


def forward(x):
    return w * x + b


def criterion(y_pred, y):
    return torch.mean((y_pred - y) ** 2)


# Batch gradient descent: one step an iteration, on all the samples.
w = torch.tensor(-10.0, requires_grad=True)
b = torch.tensor(-20.0, requires_grad=True)
step_size = 0.1
loss_BGD = []
n_iter = 20
for i in range(n_iter):
    Y_pred = forward(X)  # 1. predict
    loss = criterion(Y_pred, Y)  # 2. the loss, stored
    loss_BGD.append(loss.item())
    loss.backward()  # 3. the gradients, into w.grad and b.grad
    w.data = w.data - step_size * w.grad.data  # 4. the update
    b.data = b.data - step_size * b.grad.data
    w.grad.data.zero_()  # 5. zero the gradients
    b.grad.data.zero_()
    print(f"{i}, \t{loss.item()}, \t{w.item()}, \t{b.item()}")

# Stochastic gradient descent: one step a sample, in their order.
w = torch.tensor(-10.0, requires_grad=True)
b = torch.tensor(-20.0, requires_grad=True)
step_size = 0.01  # changed: the tutorial's 0.1 is past the bound of single samples, 0.0385
loss_SGD = []
n_iter = 20
for i in range(n_iter):
    Y_pred = forward(X)  # the loss on all the samples, stored once an iteration
    loss_SGD.append(criterion(Y_pred, Y).tolist())
    for x, y in zip(X, Y):
        y_hat = forward(x)  # 1. predict this sample
        loss = criterion(y_hat, y)  # 2. its loss
        loss.backward()  # 3. the gradients
        w.data = w.data - step_size * w.grad.data  # 4. the update
        b.data = b.data - step_size * b.grad.data
        w.grad.data.zero_()  # 5. zero the gradients
        b.grad.data.zero_()
        print(f"{i}, \t{loss.item()}, \t{w.item()}, \t{b.item()}")

# Plotting graphs for comparison.
plt.plot(loss_BGD, label="Batch Gradient Descent")
plt.plot(loss_SGD, label="Stochastic Gradient Descent")
plt.xlabel("Epoch")
plt.ylabel("Cost/ total loss")
plt.legend()
os.makedirs("figures", exist_ok=True)  # changed: saved, not shown
plt.savefig("figures/tutorial_loss.png")
print("wrote figures/tutorial_loss.png")
