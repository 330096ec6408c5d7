"""Adjoints of ``scipy.special``: registered when ``scipy.special`` is imported.

SciPy is optional. This module imports it, so it is never imported with ad_transform:
``registry.lookup`` imports it at the first miss after the user's code imported
``scipy.special`` (``registry._OPTIONAL``). Every way of naming a function reaches the
same object (``from scipy.special import expit``, ``sc.expit``, ``scipy.special.expit``),
and rules are keyed by the object.

Conventions:

* ``expit`` from ``expit(x) expit(-x)`` (exact for large ``|x|``, not ``ans (1 - ans)``);
  ``log_ndtr`` from ``exp(log phi - log Phi)`` and, below ``x = -40``, the asymptotic
  series of the inverse Mills ratio: no overflow at any ``x``; ``erfcx`` from its
  asymptotic series above ``x = 50`` (``2 x erfcx(x) - 2/sqrt(pi)`` cancels there).
* ``logsumexp`` takes ``axis`` (None, int, tuple), ``b`` (differentiable, broadcast
  against ``a``), ``keepdims`` and ``return_sign`` (the sign is piecewise constant);
  its weights ``exp(a - ans)`` never overflow.
* ``xlogy``/``xlog1py`` are 0 wherever ``x == 0``: the derivative in ``y`` is 0 there.
* ``digamma`` (= ``psi``) has derivative ``polygamma(1, x)``; ``polygamma(n, x)`` is
  differentiable in ``x`` (``n`` is an integer order).
* Boundaries as in calculus: ``logit`` at 0 and 1, ``erfinv`` at +-1, ``gammaln`` and
  ``digamma`` at the poles give ``inf`` for a nonzero adjoint.
"""

import math

import numpy as np
import scipy.special

from ..runtime import (
    betaln_derivatives,
    digamma_of,
    erfcx_derivative,
    expit_derivative,
    expit_of,
    log_ndtr_derivative,
    log_softmax_adjoint,
    log_softmax_tangent,
    logsumexp_adjoints,
    logsumexp_tangent,
    normal_density,
    over,
    polygamma_of,
    softmax_adjoint,
    times,
    unbroadcast,
    xlogy_derivatives,
)
from .registry import diagonal_tangents, register_adjoint, tangent

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_PI_OVER_TWO = math.sqrt(math.pi) / 2.0
_SQRT_2PI = math.sqrt(2.0 * math.pi)


def _rule(function_name: str, kind: str | None = "elementwise"):
    """Register the decorated template for ``scipy.special.<function_name>``."""

    def decorate(template):
        register_adjoint(
            getattr(scipy.special, function_name),
            template,
            kind=kind,
            name=f"scipy.special.{function_name}",
            fresh=True,
        )
        return template

    return decorate


# -- logistic and log-sum-exp ---------------------------------------------------------------


@_rule("expit")
def d_expit(g, ans, x):
    return times(g, expit_derivative(x, ans))


@_rule("logit")
def d_logit(g, ans, x):
    return over(g, x * (1.0 - x))


@_rule("logsumexp", kind=None)
def d_logsumexp(g, ans, a, axis=None, b=None, keepdims=False, return_sign=False):
    da, db = logsumexp_adjoints(g, ans, a, axis, b, keepdims, return_sign)
    return da, None, db


@_rule("softmax", kind=None)
def d_softmax(g, ans, x, axis=None):
    return softmax_adjoint(g, ans, axis)


@_rule("log_softmax", kind=None)
def d_log_softmax(g, ans, x, axis=None):
    return log_softmax_adjoint(g, ans, axis)


# -- gamma and beta functions ----------------------------------------------------------------


@_rule("gammaln")
def d_gammaln(g, ans, x):
    return times(g, digamma_of(x))


@_rule("digamma")  # also scipy.special.psi (the same object)
def d_digamma(g, ans, x):
    return times(g, polygamma_of(1, x))


@_rule("polygamma")
def d_polygamma(g, ans, n, x):
    return None, times(g, polygamma_of(n + 1, x))


@_rule("betaln")
def d_betaln(g, ans, a, b):
    da, db = betaln_derivatives(a, b)
    return unbroadcast(times(g, da), a), unbroadcast(times(g, db), b)


# -- error function and the normal distribution ----------------------------------------------


@_rule("erf")
def d_erf(g, ans, x):
    return times(g, _TWO_OVER_SQRT_PI * np.exp(-(x * x)))


@_rule("erfc")
def d_erfc(g, ans, x):
    return times(g, -_TWO_OVER_SQRT_PI * np.exp(-(x * x)))


@_rule("erfinv")
def d_erfinv(g, ans, x):
    return times(g, _SQRT_PI_OVER_TWO * np.exp(ans * ans))


@_rule("ndtr")
def d_ndtr(g, ans, x):
    return times(g, normal_density(x))


@_rule("log_ndtr")
def d_log_ndtr(g, ans, x):
    return times(g, log_ndtr_derivative(x, ans))


# -- x log y ------------------------------------------------------------------------------------


@_rule("xlogy")
def d_xlogy(g, ans, x, y):
    dx, dy = xlogy_derivatives(x, y)
    return unbroadcast(times(g, dx), x), unbroadcast(times(g, dy), y)


@_rule("xlog1py")
def d_xlog1py(g, ans, x, y):
    dx, dy = xlogy_derivatives(x, y, True)
    return unbroadcast(times(g, dx), x), unbroadcast(times(g, dy), y)


# -- more of the same families (added after the list) -----------------------------------


@_rule("log_expit")
def d_log_expit(g, ans, x):
    return times(g, expit_of(-x))


@_rule("gamma")
def d_gamma(g, ans, x):
    return times(g, ans * digamma_of(x))


@_rule("loggamma")  # real arguments
def d_loggamma(g, ans, x):
    return times(g, digamma_of(x))


@_rule("beta")
def d_beta(g, ans, a, b):
    da, db = betaln_derivatives(a, b)
    return unbroadcast(times(g, ans * da), a), unbroadcast(times(g, ans * db), b)


@_rule("erfcinv")
def d_erfcinv(g, ans, x):
    return times(g, -_SQRT_PI_OVER_TWO * np.exp(ans * ans))


@_rule("erfcx")
def d_erfcx(g, ans, x):
    return times(g, erfcx_derivative(x, ans))


@_rule("ndtri")
def d_ndtri(g, ans, x):
    return times(g, _SQRT_2PI * np.exp(0.5 * (ans * ans)))


# -- tangents (forward mode) ----------------------------------------------------------------
# Elementwise functions of real values (and softmax, whose Jacobian diag(s) - s s^T is
# symmetric): the adjoint template is the tangent (forward mode drops its unbroadcast).
diagonal_tangents(
    *(
        getattr(scipy.special, name)
        for name in (
            "expit",
            "logit",
            "softmax",
            "gammaln",
            "digamma",
            "polygamma",
            "betaln",
            "erf",
            "erfc",
            "erfinv",
            "ndtr",
            "log_ndtr",
            "xlogy",
            "xlog1py",
            "log_expit",
            "gamma",
            "loggamma",
            "beta",
            "erfcinv",
            "erfcx",
            "ndtri",
        )
    )
)


@tangent(scipy.special.logsumexp)
def t_logsumexp(g, ans, a, axis=None, b=None, keepdims=False, return_sign=False):
    return (
        logsumexp_tangent(g, "a", ans, a, axis, b, keepdims, return_sign),
        None,
        logsumexp_tangent(g, "b", ans, a, axis, b, keepdims, return_sign),
    )


@tangent(scipy.special.log_softmax)
def t_log_softmax(g, ans, x, axis=None):
    return log_softmax_tangent(g, ans, axis)
