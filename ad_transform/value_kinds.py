"""The names the API and the pipeline share: the kinds of values the analysis tells
apart and the derivative a generated function computes.

A module of its own, importing nothing, so that ``import ad_transform`` (the API) does
not import the pipeline: the transformation's modules are imported at the first
transformation (``docs/architecture.md``, "Import time").
"""

# Output kinds, used to specialise generated code: a Python or NumPy scalar, an
# ndarray, a Python tuple/list built in the function, or not known statically.
SCALAR, ARRAY, SEQUENCE, UNKNOWN = "scalar", "array", "sequence", None
DICT = "dict"  # a dict built in the function (a display ``{k: v}``)

# The derivative a generated function computes (``pipeline.generate``'s ``mode``; the
# forward mode's is ``forward.generate_jvp``'s).
GRAD, VALUE_AND_GRAD, VJP, JVP = "grad", "value_and_grad", "vjp", "jvp"
