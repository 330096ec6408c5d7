"""A two-layer neural network trained with plain SGD, its gradient from ad_transform.

The data are scikit-learn's bundled 8x8 handwritten digits (1797 images, no download).
The network is 64 -> 32 (tanh) -> 10 (softmax), the loss the mean cross-entropy,
written in plain NumPy. The parameters live in a dict; ``grad(loss)`` gives a dict of
gradients with the same keys, and ``tree_map`` makes the SGD step. Before training,
the gradient is checked against central finite differences on a few weights; after
training, the test accuracy is printed (expect well above 90%) and, with ``--plot
[PATH]`` (default ``nn_digits_loss.png``), the loss curve is saved as a PNG; nothing
is written without ``--plot``.

Needs the optional ``examples`` extra: ``pip install -e '.[examples]'`` (scikit-learn;
matplotlib for ``--plot``). A missing one is named in one line.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ad_transform import grad, tree_map


def loss(params, X, Y):
    """Mean cross-entropy of a tanh hidden layer and a softmax output (Y one-hot)."""
    h = np.tanh(X @ params["W1"] + params["b1"])
    z = h @ params["W2"] + params["b2"]
    z = z - np.max(z, axis=1, keepdims=True)  # for stability; softmax does not change
    log_p = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(np.sum(Y * log_p, axis=1))


def predict(params, X):
    h = np.tanh(X @ params["W1"] + params["b1"])
    return np.argmax(h @ params["W2"] + params["b2"], axis=1)


def load_digits_split(seed: int = 0):
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:  # one line, not a traceback
        raise SystemExit(
            "nn_digits.py needs scikit-learn: pip install -e '.[examples]' "
            "(or pip install scikit-learn)"
        ) from None

    digits = load_digits()
    X = digits.data / 16.0
    y = digits.target
    return train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)


def finite_difference_check(dloss, params, X, Y, rng, eps=1e-6) -> float:
    """Largest relative error of the gradient against central differences (8 weights)."""
    grads = dloss(params, X, Y)
    worst = 0.0
    for _ in range(8):
        k = list(params)[int(rng.integers(len(params)))]
        index = tuple(int(rng.integers(n)) for n in params[k].shape)
        plus = tree_map(np.copy, params)
        minus = tree_map(np.copy, params)
        plus[k][index] += eps
        minus[k][index] -= eps
        numeric = (loss(plus, X, Y) - loss(minus, X, Y)) / (2 * eps)
        exact = grads[k][index]
        worst = max(worst, abs(numeric - exact) / max(1e-8, abs(numeric) + abs(exact)))
    return worst


def train(epochs: int = 20, hidden: int = 32, batch: int = 32, lr: float = 0.15, seed: int = 0):
    X_train, X_test, y_train, y_test = load_digits_split(seed)
    rng = np.random.default_rng(seed)
    Y_train = np.eye(10)[y_train]
    params = {
        "W1": rng.normal(0.0, 1.0 / np.sqrt(64), (64, hidden)),
        "b1": np.zeros(hidden),
        "W2": rng.normal(0.0, 1.0 / np.sqrt(hidden), (hidden, 10)),
        "b2": np.zeros(10),
    }
    dloss = grad(loss)  # a dict of gradients, keyed like params
    error = finite_difference_check(dloss, params, X_train[:50], Y_train[:50], rng)
    print(f"gradient check on 8 weights: largest relative error {error:.1e}")
    losses = []
    n = len(X_train)
    start = time.perf_counter()
    for _epoch in range(epochs):
        order = rng.permutation(n)
        for begin in range(0, n, batch):
            rows = order[begin : begin + batch]
            grads = dloss(params, X_train[rows], Y_train[rows])
            params = tree_map(lambda p, g: p - lr * g, params, grads)
        losses.append(loss(params, X_train, Y_train))
    seconds = time.perf_counter() - start
    train_accuracy = np.mean(predict(params, X_train) == y_train)
    test_accuracy = np.mean(predict(params, X_test) == y_test)
    return losses, train_accuracy, test_accuracy, seconds, len(X_test)


def save_plot(losses, path: str) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(range(1, len(losses) + 1), losses, marker="o", markersize=3)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (cross-entropy)")
    ax.set_yscale("log")
    ax.set_title("2-layer network on the digits, SGD with ad_transform.grad")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument(
        "--plot",
        nargs="?",
        const="nn_digits_loss.png",
        default=None,
        metavar="PATH",
        help="save the loss curve as a PNG (default path nn_digits_loss.png); needs matplotlib",
    )
    args = parser.parse_args(argv)
    losses, train_accuracy, test_accuracy, seconds, n_test = train(epochs=args.epochs)
    print(f"training loss: epoch 1 {losses[0]:.4f}, epoch {len(losses)} {losses[-1]:.4f}")
    print(f"{args.epochs} epochs of SGD in {seconds:.1f} s")
    print(f"train accuracy: {train_accuracy:.4f}")
    print(f"test accuracy: {test_accuracy:.4f} ({n_test} test images)")
    if args.plot is None:
        return
    if save_plot(losses, args.plot):
        print(f"loss curve saved to {args.plot}")
    else:
        print(
            "--plot needs matplotlib: pip install -e '.[examples]' (or pip install "
            "matplotlib); no loss curve"
        )


if __name__ == "__main__":
    main()
