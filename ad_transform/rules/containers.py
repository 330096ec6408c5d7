"""Adjoints of dict reads and of loops over containers.

A dict's adjoint is a ``runtime.DictAdjoint``: the adjoint of each value under its key
(a key nothing reached reads as zero); ``d[k]`` gives a sparse ``KeyItem``. Keys carry
no derivative (``keys()``, the elements of a loop over a dict). ``d.get(k, default)``
sends ``g`` to the value under ``k`` if the dict has it, else to ``default``;
``values()`` and ``items()`` give their elements' adjoints back under the keys.
"""

from ..runtime import (
    dict_default_adjoint,
    dict_get_adjoint,
    dict_key,
    items_adjoint,
    iterated,
    iteration_adjoint,
    values_adjoint,
)
from .registry import adjoint, lookup, register_adjoint, register_nondifferentiable


@adjoint(iterated, kind=None)
def d_iterated(g, ans, x, index):
    return iteration_adjoint(g, x, index), None


register_nondifferentiable(dict_key)


def d_get(g, ans, self, key, default=None):
    return dict_get_adjoint(g, self, key), None, dict_default_adjoint(g, self, key)


def d_values(g, ans, self):
    return values_adjoint(g, self)


def d_items(g, ans, self):
    return items_adjoint(g, self)


register_adjoint(("method", "get"), d_get, kind=None, name="dict.get()")
register_adjoint(("method", "values"), d_values, kind=None, name="dict.values()")
register_adjoint(("method", "items"), d_items, kind=None, name="dict.items()")
register_nondifferentiable(("method", "keys"))
lookup(("method", "keys")).name = "dict.keys()"
