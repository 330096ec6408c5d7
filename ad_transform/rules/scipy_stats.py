"""Adjoints of ``scipy.stats.norm``'s ``logpdf``, ``pdf``, ``cdf``, ``logcdf``, ``sf``
and ``logsf``: registered when ``scipy.stats`` is imported (see
``rules/scipy_special.py`` for the mechanism).

The rules are keyed by the bound methods of the ``scipy.stats.norm`` object (equal
however often they are read), called as ``norm.logpdf(x, loc, scale)``, differentiable
in ``x``, ``loc`` and ``scale``. A frozen distribution (``norm(loc, scale).logpdf(x)``)
is a method call on another object, not one of these rules: it is refused.
"""

import scipy.stats

from ..runtime import norm_adjoints, norm_tangent
from .registry import register_adjoint, tangent

_norm = scipy.stats.norm


def _rule(method: str):
    """Register the decorated template for ``scipy.stats.norm.<method>``."""

    def decorate(template):
        register_adjoint(
            getattr(_norm, method), template, name=f"scipy.stats.norm.{method}", fresh=True
        )
        return template

    return decorate


@_rule("logpdf")
def d_norm_logpdf(g, ans, x, loc=0.0, scale=1.0):
    dx, dloc, dscale = norm_adjoints("logpdf", g, ans, x, loc, scale)
    return dx, dloc, dscale


@_rule("pdf")
def d_norm_pdf(g, ans, x, loc=0.0, scale=1.0):
    dx, dloc, dscale = norm_adjoints("pdf", g, ans, x, loc, scale)
    return dx, dloc, dscale


@_rule("cdf")
def d_norm_cdf(g, ans, x, loc=0.0, scale=1.0):
    dx, dloc, dscale = norm_adjoints("cdf", g, ans, x, loc, scale)
    return dx, dloc, dscale


@_rule("logcdf")
def d_norm_logcdf(g, ans, x, loc=0.0, scale=1.0):
    dx, dloc, dscale = norm_adjoints("logcdf", g, ans, x, loc, scale)
    return dx, dloc, dscale


@_rule("sf")
def d_norm_sf(g, ans, x, loc=0.0, scale=1.0):
    dx, dloc, dscale = norm_adjoints("sf", g, ans, x, loc, scale)
    return dx, dloc, dscale


@_rule("logsf")
def d_norm_logsf(g, ans, x, loc=0.0, scale=1.0):
    dx, dloc, dscale = norm_adjoints("logsf", g, ans, x, loc, scale)
    return dx, dloc, dscale


# -- tangents (forward mode): the partial derivatives times each argument's tangent --------


@tangent(_norm.logpdf)
def t_norm_logpdf(g, ans, x, loc=0.0, scale=1.0):
    return (
        norm_tangent("logpdf", g, 0, ans, x, loc, scale),
        norm_tangent("logpdf", g, 1, ans, x, loc, scale),
        norm_tangent("logpdf", g, 2, ans, x, loc, scale),
    )


@tangent(_norm.pdf)
def t_norm_pdf(g, ans, x, loc=0.0, scale=1.0):
    return (
        norm_tangent("pdf", g, 0, ans, x, loc, scale),
        norm_tangent("pdf", g, 1, ans, x, loc, scale),
        norm_tangent("pdf", g, 2, ans, x, loc, scale),
    )


@tangent(_norm.cdf)
def t_norm_cdf(g, ans, x, loc=0.0, scale=1.0):
    return (
        norm_tangent("cdf", g, 0, ans, x, loc, scale),
        norm_tangent("cdf", g, 1, ans, x, loc, scale),
        norm_tangent("cdf", g, 2, ans, x, loc, scale),
    )


@tangent(_norm.logcdf)
def t_norm_logcdf(g, ans, x, loc=0.0, scale=1.0):
    return (
        norm_tangent("logcdf", g, 0, ans, x, loc, scale),
        norm_tangent("logcdf", g, 1, ans, x, loc, scale),
        norm_tangent("logcdf", g, 2, ans, x, loc, scale),
    )


@tangent(_norm.sf)
def t_norm_sf(g, ans, x, loc=0.0, scale=1.0):
    return (
        norm_tangent("sf", g, 0, ans, x, loc, scale),
        norm_tangent("sf", g, 1, ans, x, loc, scale),
        norm_tangent("sf", g, 2, ans, x, loc, scale),
    )


@tangent(_norm.logsf)
def t_norm_logsf(g, ans, x, loc=0.0, scale=1.0):
    return (
        norm_tangent("logsf", g, 0, ans, x, loc, scale),
        norm_tangent("logsf", g, 1, ans, x, loc, scale),
        norm_tangent("logsf", g, 2, ans, x, loc, scale),
    )
