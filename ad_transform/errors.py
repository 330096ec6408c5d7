"""The one exception users see, and how it points at their source."""

from __future__ import annotations


class ADTransformError(Exception):
    """A function (or a construct in it) that ad_transform cannot differentiate.

    Raised at transformation time wherever possible, naming the construct and
    pointing at ``file:line:column`` with the offending source line shown.
    """


def located_error(
    message: str, filename: str, line: int | None, col: int | None, source_line: str | None
) -> ADTransformError:
    """Build an ``ADTransformError`` that shows where in the user's file it happened."""
    if line is None:
        return ADTransformError(f"{filename}: {message}")
    column = (col or 0) + 1
    text = f"{filename}:{line}:{column}: {message}"
    if source_line:
        stripped = source_line.rstrip()
        indent = len(stripped) - len(stripped.lstrip())
        caret = " " * max((col or 0) - indent, 0) + "^"
        text += f"\n    {stripped.lstrip()}\n    {caret}"
    return ADTransformError(text)
