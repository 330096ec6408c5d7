"""Finite-difference checks of gradients with respect to container arguments (issue 13):
central differences leaf by leaf, element by element, in float64."""

from __future__ import annotations

import dataclasses

import numpy as np

from ad_transform.pytree import (
    is_differentiable_leaf,
    leaf_is_integer,
    leaves_with_paths,
    map_with_path,
)


def replaced(tree, path: str, leaf):
    """``tree`` with the leaf at ``path`` replaced by ``leaf`` (the rest shared)."""
    return map_with_path(lambda p, old: leaf if p == path else old, tree)


def numerical_tree_gradient(f, args: tuple, position: int = 0, eps: float = 1e-6) -> dict:
    """path -> central-difference gradient of ``f`` for each differentiable leaf of
    ``args[position]`` (a float, or an array of the leaf's shape)."""
    tree = args[position]
    found = {}
    for path, leaf in leaves_with_paths(tree):
        if not is_differentiable_leaf(leaf) or leaf_is_integer(leaf):
            continue  # integers: checked by calculus in the test; booleans, strings, None

        def at(value, path=path):
            call = list(args)
            call[position] = replaced(tree, path, value)
            return f(*call)

        if isinstance(leaf, np.ndarray):
            base = leaf.astype(np.float64)
            numeric = np.zeros_like(base)
            for index in np.ndindex(base.shape):
                step = eps * max(1.0, abs(base[index]))
                plus, minus = base.copy(), base.copy()
                plus[index] += step
                minus[index] -= step
                numeric[index] = (at(plus) - at(minus)) / (2 * step)
        else:
            step = eps * max(1.0, abs(float(leaf)))
            numeric = (at(float(leaf) + step) - at(float(leaf) - step)) / (2 * step)
        found[path] = numeric
    return found


def assert_same_structure(gradient, argument, path: str = "") -> None:
    """The gradient has the argument's container types, keys in the same order, a float
    for each float or integer leaf, an array of the same shape and a float dtype for each
    float array, ``None`` for every other leaf (integer arrays included)."""
    if isinstance(argument, dict):
        assert type(gradient) is type(argument), f"{path}: {type(gradient)}"
        assert list(gradient) == list(argument), f"{path}: keys {list(gradient)}"
        for key in argument:
            assert_same_structure(gradient[key], argument[key], f"{path}[{key!r}]")
    elif isinstance(argument, (list, tuple)):
        assert type(gradient) is type(argument), f"{path}: {type(gradient)}"
        assert len(gradient) == len(argument)
        for k, (g, a) in enumerate(zip(gradient, argument)):
            assert_same_structure(g, a, f"{path}[{k}]")
    elif dataclasses.is_dataclass(argument):
        assert type(gradient) is type(argument), f"{path}: {type(gradient)}"
        for field in dataclasses.fields(argument):
            assert_same_structure(
                getattr(gradient, field.name), getattr(argument, field.name), f"{path}.{field.name}"
            )
    elif isinstance(argument, np.ndarray) and argument.dtype.kind == "f":
        assert isinstance(gradient, np.ndarray), f"{path}: {type(gradient)}"
        assert gradient.shape == argument.shape and gradient.dtype.kind == "f", path
        assert not np.shares_memory(gradient, argument), f"{path} shares the argument's memory"
    elif isinstance(argument, (float, np.floating)) or leaf_is_integer(argument):
        assert isinstance(gradient, float), f"{path}: {type(gradient).__name__} {gradient!r}"
    elif argument is None:
        assert gradient is None, path
    else:
        assert gradient is None, f"{path}: {gradient!r} for a non-differentiable leaf"


def check_tree_gradient(f, args: tuple, gradient, position: int = 0, rtol: float = 1e-6):
    """``gradient`` (of ``f`` with respect to ``args[position]``) has the argument's
    structure and equals central differences at every differentiable leaf."""
    assert_same_structure(gradient, args[position])
    numeric = numerical_tree_gradient(f, args, position)
    computed = dict(leaves_with_paths(gradient))
    assert numeric, "no differentiable leaf"
    for path, expected in numeric.items():
        np.testing.assert_allclose(
            computed[path], expected, rtol=rtol, atol=1e-8, err_msg=f"gradient{path}"
        )
