"""Adjoint and tangent rules of more runtime helpers (second part of
``rules/runtime_helpers.py``; helpers in ``runtime/higher_order_2.py``).

All of these helpers are linear in their first argument ``g`` (an adjoint or a tangent):
the tangent in ``g`` is the same call on the tangent, the adjoint in ``g`` the transpose.
Their other arguments are either read for a shape or a permutation only (``0.0``: the
partial is zero, exactly where the permutation is locally constant: away from ties) or,
for ``einsum``, further factors of a multilinear product. Helpers whose partials in the
primal values are long to write by hand (decompositions, ``cumprod``, ``logsumexp``) have
differentiable twins instead (``rules/runtime_twins.py``).

With ``T(o_0, ..., o_n, out) = <einsum(o_0, ..., o_n), out>`` (multilinear),
``einsum_adjoint(g, k)`` is ``dT/do_k`` at ``out = g`` and ``einsum_tangent(t, p)`` is
``dT/dout`` at ``o_p = t``; the partials of either in another slot are the same
functions with one more slot replaced (``einsum_replaced_*``).
"""

import numpy as np

from ..runtime import (
    conjugate_adjoint,
    digamma_of,
    einsum_adjoint,
    expit_of,
    fft_adjoint,
    fftn_adjoint,
    fftshift_adjoint,
    fmax_weights,
    imag_adjoint,
    irfft_adjoint,
    normal_density,
    pad_adjoint,
    pad_value_adjoint,
    partition_adjoint,
    polygamma_of,
    ptp_adjoint,
    quantile_adjoint,
    quantile_tangent,
    real_adjoint,
    reduced_tangent,
    roll_adjoint,
    slogdet_adjoint,
    sort_adjoint,
    take_along_axis_adjoint,
    times,
    times_sum,
    to_shape_of,
    unless_discrete,
)
from ..runtime.containers import conversion_adjoint
from ..runtime.decomposition_tangents import named_field_tangent, slogdet_tangent
from ..runtime.decompositions import named_field_adjoint
from ..runtime.fft import rfft_adjoint
from ..runtime.higher_order_2 import (
    einsum_replaced_adjoint,
    einsum_replaced_tangent,
    fft_adjoint_cotangent,
    fftn_adjoint_cotangent,
    imag_adjoint_cotangent,
    irfft_adjoint_cotangent,
    list_adjoint,
    pad_tangent_cotangent,
    pad_value_cotangent,
    rfft_adjoint_cotangent,
    slogdet_tangent_cotangent,
    slogdet_tangent_partial,
    take_along_axis_cotangent,
    tangent_tuple,
)
from ..runtime.tangents import einsum_tangent, np_pad_tangent, partition_tangent, sort_tangent
from .registry import adjoint, register_nondifferentiable, tangent


# -- einsum (the operands o0..o7 as in rules/linalg.py; None where the call has fewer) ----------
@adjoint(einsum_adjoint, kind=None, fresh=True)
def d_einsum_adjoint(g, ans, a, subscripts, k, o0, o1, o2, o3, o4, o5, o6, o7):
    return (
        einsum_tangent(g, k, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_adjoint(a, -1, k, g, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        None,
        einsum_replaced_adjoint(a, 0, k, g, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_adjoint(a, 1, k, g, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_adjoint(a, 2, k, g, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_adjoint(a, 3, k, g, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_adjoint(a, 4, k, g, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_adjoint(a, 5, k, g, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_adjoint(a, 6, k, g, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_adjoint(a, 7, k, g, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
    )


@tangent(einsum_adjoint)
def t_einsum_adjoint(g, ans, a, subscripts, k, o0, o1, o2, o3, o4, o5, o6, o7):
    return (
        einsum_adjoint(g, subscripts, k, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_adjoint(a, k, -1, g, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        None,
        einsum_replaced_adjoint(a, k, 0, g, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_adjoint(a, k, 1, g, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_adjoint(a, k, 2, g, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_adjoint(a, k, 3, g, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_adjoint(a, k, 4, g, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_adjoint(a, k, 5, g, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_adjoint(a, k, 6, g, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_adjoint(a, k, 7, g, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
    )


@adjoint(einsum_tangent, kind=None, fresh=True)
def d_einsum_tangent(g, ans, t, position, subscripts, o0, o1, o2, o3, o4, o5, o6, o7):
    return (
        einsum_adjoint(g, subscripts, position, o0, o1, o2, o3, o4, o5, o6, o7),
        None,
        einsum_replaced_adjoint(g, -1, position, t, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_adjoint(g, 0, position, t, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_adjoint(g, 1, position, t, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_adjoint(g, 2, position, t, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_adjoint(g, 3, position, t, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_adjoint(g, 4, position, t, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_adjoint(g, 5, position, t, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_adjoint(g, 6, position, t, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_adjoint(g, 7, position, t, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
    )


@tangent(einsum_tangent)
def t_einsum_tangent(g, ans, t, position, subscripts, o0, o1, o2, o3, o4, o5, o6, o7):
    return (
        einsum_tangent(g, position, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        None,
        einsum_replaced_tangent(t, position, g, -1, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_tangent(t, position, g, 0, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_tangent(t, position, g, 1, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_tangent(t, position, g, 2, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_tangent(t, position, g, 3, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_tangent(t, position, g, 4, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_tangent(t, position, g, 5, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_tangent(t, position, g, 6, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
        einsum_replaced_tangent(t, position, g, 7, subscripts, o0, o1, o2, o3, o4, o5, o6, o7),
    )


# -- permutations and selections: linear in g, locally constant in the values ----------------
# (the order of a sort or partition does not change under a small step away from ties)
@adjoint(sort_adjoint, kind=None, fresh=True)
def d_sort_adjoint(g, ans, a, x, axis=-1):
    return sort_tangent(g, x, axis), 0.0, None


@tangent(sort_adjoint)
def t_sort_adjoint(g, ans, a, x, axis=-1):
    return sort_adjoint(g, x, axis), 0.0, None


@adjoint(sort_tangent, kind=None, fresh=True)
def d_sort_tangent(g, ans, t, a, axis=-1):
    return to_shape_of(sort_adjoint(g, a, axis), t), 0.0, None


@tangent(sort_tangent)
def t_sort_tangent(g, ans, t, a, axis=-1):
    return sort_tangent(g, a, axis), 0.0, None


@adjoint(partition_adjoint, kind=None, fresh=True)
def d_partition_adjoint(g, ans, d, result, a, axis=-1):
    return partition_tangent(g, result, a, axis), 0.0, 0.0, None


@tangent(partition_adjoint)
def t_partition_adjoint(g, ans, d, result, a, axis=-1):
    return partition_adjoint(g, result, a, axis), 0.0, 0.0, None


@adjoint(partition_tangent, kind=None, fresh=True)
def d_partition_tangent(g, ans, t, result, a, axis=-1):
    return to_shape_of(partition_adjoint(g, result, a, axis), t), 0.0, 0.0, None


@tangent(partition_tangent)
def t_partition_tangent(g, ans, t, result, a, axis=-1):
    return partition_tangent(g, result, a, axis), 0.0, 0.0, None


@adjoint(take_along_axis_adjoint, kind=None, fresh=True)
def d_take_along_axis_adjoint(g, ans, a, arr, indices, axis):
    return take_along_axis_cotangent(g, arr, indices, axis, a), 0.0, 0.0, None


@tangent(take_along_axis_adjoint)
def t_take_along_axis_adjoint(g, ans, a, arr, indices, axis):
    return take_along_axis_adjoint(g, arr, indices, axis), 0.0, 0.0, None


@adjoint(roll_adjoint, kind=None, fresh=True)
def d_roll_adjoint(g, ans, a, shift, axis=None):
    return np.roll(g, shift, axis), None, None


@tangent(roll_adjoint)
def t_roll_adjoint(g, ans, a, shift, axis=None):
    return roll_adjoint(g, shift, axis), None, None


@adjoint(pad_adjoint, kind=None, fresh=True)
def d_pad_adjoint(g, ans, a, x, pad_width, mode="constant"):
    return np.pad(g, pad_width), 0.0, None, None


@tangent(pad_adjoint)
def t_pad_adjoint(g, ans, a, x, pad_width, mode="constant"):
    return pad_adjoint(g, x, pad_width, mode), 0.0, None, None


@adjoint(pad_value_adjoint, kind=None, fresh=True)
def d_pad_value_adjoint(g, ans, a, x, pad_width, constant_values=0):
    return pad_value_cotangent(g, x, pad_width), 0.0, None, 0.0


@tangent(pad_value_adjoint)
def t_pad_value_adjoint(g, ans, a, x, pad_width, constant_values=0):
    return pad_value_adjoint(g, x, pad_width, constant_values), 0.0, None, 0.0


# -- FFTs: linear in g, the input x read for its shape and dtype only ---------------------------
@adjoint(fft_adjoint, kind=None, fresh=True)
def d_fft_adjoint(g, ans, a, result, x, n=None, axis=-1, norm=None, inverse=False):
    cotangent = fft_adjoint_cotangent(g, result, x, axis, norm, inverse)
    return to_shape_of(cotangent, a), 0.0, 0.0, None, None, None, None


@tangent(fft_adjoint)
def t_fft_adjoint(g, ans, a, result, x, n=None, axis=-1, norm=None, inverse=False):
    return fft_adjoint(g, result, x, n, axis, norm, inverse), 0.0, 0.0, None, None, None, None


@adjoint(fftn_adjoint, kind=None, fresh=True)
def d_fftn_adjoint(
    g, ans, a, result, x, s=None, axes=None, norm=None, inverse=False, default_axes=None
):
    cotangent = fftn_adjoint_cotangent(g, result, x, s, axes, norm, inverse, default_axes)
    return to_shape_of(cotangent, a), 0.0, 0.0, None, None, None, None, None


@tangent(fftn_adjoint)
def t_fftn_adjoint(
    g, ans, a, result, x, s=None, axes=None, norm=None, inverse=False, default_axes=None
):
    return (
        fftn_adjoint(g, result, x, s, axes, norm, inverse, default_axes),
        0.0,
        0.0,
        None,
        None,
        None,
        None,
        None,
    )


@adjoint(rfft_adjoint, kind=None, fresh=True)
def d_rfft_adjoint(g, ans, a, result, x, n=None, axis=-1, norm=None):
    return (
        to_shape_of(rfft_adjoint_cotangent(g, result, x, n, axis, norm), a),
        0.0,
        0.0,
        None,
        None,
        None,
    )


@tangent(rfft_adjoint)
def t_rfft_adjoint(g, ans, a, result, x, n=None, axis=-1, norm=None):
    return rfft_adjoint(g, result, x, n, axis, norm), 0.0, 0.0, None, None, None


@adjoint(irfft_adjoint, kind=None, fresh=True)
def d_irfft_adjoint(g, ans, a, result, y, n=None, axis=-1, norm=None):
    cotangent = irfft_adjoint_cotangent(g, result, y, n, axis, norm)
    return to_shape_of(cotangent, a), 0.0, 0.0, None, None, None


@tangent(irfft_adjoint)
def t_irfft_adjoint(g, ans, a, result, y, n=None, axis=-1, norm=None):
    return irfft_adjoint(g, result, y, n, axis, norm), 0.0, 0.0, None, None, None


# fftshift_adjoint(g, ans, x, axes, inverse): a permutation of g, undone by the other shift
@adjoint(fftshift_adjoint, kind=None, fresh=True)
def d_fftshift_adjoint(g, ans, a, result, x, axes=None, inverse=False):
    return fftshift_adjoint(g, x, result, axes, not inverse), 0.0, 0.0, None, None


@tangent(fftshift_adjoint)
def t_fftshift_adjoint(g, ans, a, result, x, axes=None, inverse=False):
    return fftshift_adjoint(g, result, x, axes, inverse), 0.0, 0.0, None, None


# unless_discrete(ans, adjoint, like): the adjoint, or zeros where the result was truncated
# to integers (a choice fixed by dtypes): linear in the adjoint, its own transpose
@adjoint(unless_discrete, kind=None)
def d_unless_discrete(g, ans, result, a, like):
    return 0.0, unless_discrete(result, g, like), 0.0


@tangent(unless_discrete)
def t_unless_discrete(g, ans, result, a, like):
    return 0.0, unless_discrete(result, g, like), 0.0


# times_sum(g, d) = sum(g * d): bilinear
@adjoint(times_sum, kind=None, fresh=True)
def d_times_sum(g, ans, a, d):
    return to_shape_of(times(g, d), a), to_shape_of(times(g, a), d)


@tangent(times_sum)
def t_times_sum(g, ans, a, d):
    return times_sum(g, d), times_sum(a, g)


# the adjoints of the complex parts: real-linear in g; the transpose of Re is the embedding
# of the reals, conj is its own transpose, that of g -> -i Re(g) is Im
@adjoint(real_adjoint, kind=None, fresh=True)
def d_real_adjoint(g, ans, a, z):
    return to_shape_of(g, a), 0.0


@tangent(real_adjoint)
def t_real_adjoint(g, ans, a, z):
    return real_adjoint(g, z), 0.0


@adjoint(conjugate_adjoint, kind=None, fresh=True)
def d_conjugate_adjoint(g, ans, a):
    return conjugate_adjoint(g)


@tangent(conjugate_adjoint)
def t_conjugate_adjoint(g, ans, a):
    return conjugate_adjoint(g)


@adjoint(imag_adjoint, kind=None, fresh=True)
def d_imag_adjoint(g, ans, a, z):
    return to_shape_of(imag_adjoint_cotangent(g, z), a), 0.0


@tangent(imag_adjoint)
def t_imag_adjoint(g, ans, a, z):
    return imag_adjoint(g, z), 0.0


# np_pad_tangent(t, ans, pad_width, mode, constant_values=c): linear in t and c jointly
@adjoint(np_pad_tangent, kind=None, fresh=True)
def d_np_pad_tangent(g, ans, t, result, pad_width, mode="constant", constant_values=0):
    return (
        to_shape_of(pad_tangent_cotangent(g, t, pad_width, mode), t),
        0.0,
        None,
        None,
        pad_value_adjoint(g, t, pad_width, constant_values),
    )


@tangent(np_pad_tangent)
def t_np_pad_tangent(g, ans, t, result, pad_width, mode="constant", constant_values=0):
    return (
        np_pad_tangent(g, result, pad_width, mode),
        0.0,
        None,
        None,
        np_pad_tangent(np.zeros(np.shape(t)), result, pad_width, mode, constant_values=g),
    )


# slogdet_tangent(t, ans, a) = (0, tr(a^-1 t)): linear in t
@adjoint(slogdet_tangent, kind=None, fresh=True)
def d_slogdet_tangent(g, ans, t, result, a):
    return to_shape_of(slogdet_adjoint(g, a), t), 0.0, slogdet_tangent_cotangent(g, t, a)


@tangent(slogdet_tangent)
def t_slogdet_tangent(g, ans, t, result, a):
    return slogdet_tangent(g, result, a), 0.0, slogdet_tangent_partial(g, t, result, a)


# -- derivatives of scipy.special functions (elementwise): their own derivatives ---------------
@adjoint(digamma_of, kind=None, fresh=True)
def d_digamma_of(g, ans, x):
    return to_shape_of(times(g, polygamma_of(1, x)), x)


@tangent(digamma_of)
def t_digamma_of(g, ans, x):
    return times(g, polygamma_of(1, x))


@adjoint(polygamma_of, kind=None, fresh=True)
def d_polygamma_of(g, ans, n, x):
    return None, to_shape_of(times(g, polygamma_of(n + 1, x)), x)


@tangent(polygamma_of)
def t_polygamma_of(g, ans, n, x):
    return None, times(g, polygamma_of(n + 1, x))


# expit' = expit(x) expit(-x)
@adjoint(expit_of, kind=None, fresh=True)
def d_expit_of(g, ans, x):
    return to_shape_of(times(g, ans * expit_of(-x)), x)


@tangent(expit_of)
def t_expit_of(g, ans, x):
    return times(g, ans * expit_of(-x))


# phi'(x) = -x phi(x)
@adjoint(normal_density, kind=None, fresh=True)
def d_normal_density(g, ans, x):
    return to_shape_of(-times(g, x * ans), x)


@tangent(normal_density)
def t_normal_density(g, ans, x):
    return -times(g, x * ans)


# the shares of np.fmax/np.fmin are locally constant (as those of np.maximum and np.clip)
register_nondifferentiable(fmax_weights)


# ptp_adjoint(g, ans, x, axis, keepdims): linear in g, locally constant in ans and x
@adjoint(ptp_adjoint, kind=None, fresh=True)
def d_ptp_adjoint(g, ans, a, result, x, axis=None, keepdims=False):
    shares = ptp_adjoint(np.ones_like(a), result, x, axis, keepdims)
    return to_shape_of(reduced_tangent(g, shares, axis, keepdims), a), 0.0, 0.0, None, None


@tangent(ptp_adjoint)
def t_ptp_adjoint(g, ans, a, result, x, axis=None, keepdims=False):
    return ptp_adjoint(g, result, x, axis, keepdims), 0.0, 0.0, None, None


# quantile_adjoint(g, x, q, ...) and quantile_tangent(t, ans, a, q, ...): each linear in its
# first argument and the other's transpose (the interpolation weights of the selected sorted
# places, locally constant in x away from ties); q has no derivative (as in np.quantile's rule)
@adjoint(quantile_adjoint, kind=None, fresh=True)
def d_quantile_adjoint(g, ans, a, x, q, axis=None, method="linear", keepdims=False, how="quantile"):
    weighted = quantile_tangent(g, None, x, q, axis, method, keepdims, how)
    return to_shape_of(weighted, a), 0.0, None, None, None, None, None


@tangent(quantile_adjoint)
def t_quantile_adjoint(g, ans, a, x, q, axis=None, method="linear", keepdims=False, how="quantile"):
    return quantile_adjoint(g, x, q, axis, method, keepdims, how), 0.0, None, None, None, None, None


@adjoint(quantile_tangent, kind=None, fresh=True)
def d_quantile_tangent(g, ans, t, result, a, q, axis, method, keepdims, kind):
    spread_back = quantile_adjoint(g, a, q, axis, method, keepdims, kind)
    return to_shape_of(spread_back, t), 0.0, 0.0, None, None, None, None, None


@tangent(quantile_tangent)
def t_quantile_tangent(g, ans, t, result, a, q, axis, method, keepdims, kind):
    return (
        quantile_tangent(g, result, a, q, axis, method, keepdims, kind),
        0.0,
        0.0,
        None,
        None,
        None,
        None,
        None,
    )


# tangent_tuple(parts): the fields as they are (a twin's tuple tangent). Its kind is left
# unknown: ``+`` of two such terms adds field by field, which only the run-time forms of
# ``+`` (add_adjoint_left/right, sum_tangent) see; a join would split the cotangent.
@adjoint(tangent_tuple, kind=None)
def d_tangent_tuple(g, ans, parts):
    return conversion_adjoint(g, parts)


@tangent(tangent_tuple)
def t_tangent_tuple(g, ans, parts):
    return tangent_tuple(g)


# list_adjoint(parts): the fields' adjoints as they are (a twin's adjoint of a tuple argument)
@adjoint(list_adjoint, kind=None)
def d_list_adjoint(g, ans, parts):
    return conversion_adjoint(g, parts)


@tangent(list_adjoint)
def t_list_adjoint(g, ans, parts):
    return list_adjoint(g)


# named_field_adjoint(g, x, name) puts g at the field's place of the named tuple x (an Item);
# named_field_tangent(t, x, name) reads the field's place of t: each the other's transpose,
# x read for its fields only
@adjoint(named_field_adjoint, kind=None)
def d_named_field_adjoint(g, ans, a, x, name):
    return named_field_tangent(g, x, name), 0.0, None


@tangent(named_field_adjoint)
def t_named_field_adjoint(g, ans, a, x, name):
    return named_field_adjoint(g, x, name), 0.0, None


@adjoint(named_field_tangent, kind=None)
def d_named_field_tangent(g, ans, t, x, name):
    return named_field_adjoint(g, x, name), 0.0, None


@tangent(named_field_tangent)
def t_named_field_tangent(g, ans, t, x, name):
    return named_field_tangent(g, x, name), 0.0, None
