"""A function made by ``exec`` has no source; what ``linecache`` holds under its file
name (``<string>``) is another text's (another test's ``exec``, a tool), so it must not
be taken for its definition: the error says the source is not available (found by CI on
Python 3.13, where the order of the tests in a worker put such lines in the cache)."""

from __future__ import annotations

import linecache

import pytest

from ad_transform import ADTransformError, grad

_namespace: dict = {}
exec("def made_by_exec(x):\n    return x * 2.0\n", _namespace)
made_by_exec = _namespace["made_by_exec"]


@pytest.mark.parametrize(
    "cached",
    [["y = 1\n"], ["def other(x):\n", "    return x\n"]],
    ids=["a statement", "another def"],
)
def test_other_text_cached_under_string_is_not_the_source(cached):
    saved = linecache.cache.get("<string>")
    linecache.cache["<string>"] = (sum(map(len, cached)), None, cached, "<string>")
    try:
        with pytest.raises(ADTransformError, match="source is not available"):
            grad(made_by_exec)(1.5)
    finally:
        if saved is None:
            linecache.cache.pop("<string>", None)
        else:
            linecache.cache["<string>"] = saved
