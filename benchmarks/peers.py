"""The contenders: the forward function, the hand-written gradient, ours, and the peers.

Each contender is prepared for one case and its arguments into a ``Prepared``: a
callable with no arguments that computes the gradient (and waits for it, for JAX), a
conversion of its result to NumPy for the correctness check, and what it cost to set
up (JAX's compilation). A peer that is not installed, or that cannot differentiate the
case, is reported with the reason; it never stops the run.

The peers run the very same function source as ours: the function's code object is
rebound to a namespace where ``np`` and ``math`` name the peer's NumPy (autograd.numpy,
jax.numpy, or a small shim over torch). tangent-ad reads the source itself, like ours.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import math
import os
import time
import types
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .cases import Case

FORWARD, HAND, OURS = "forward", "hand-written", "ours"
OURS_DIRECT = "ours, generated code only"
AUTOGRAD, JAX_EAGER, JAX_JIT, TORCH, TANGENT = (
    "autograd",
    "jax.grad (eager)",
    "jax.jit(jax.grad)",
    "torch (eager)",
    "tangent-ad",
)
PEERS = (AUTOGRAD, JAX_EAGER, JAX_JIT, TORCH, TANGENT)
# names accepted by --peers
PEER_GROUPS = {
    "autograd": (AUTOGRAD,),
    "jax": (JAX_EAGER, JAX_JIT),
    "jax-eager": (JAX_EAGER,),
    "jax-jit": (JAX_JIT,),
    "torch": (TORCH,),
    "tangent": (TANGENT,),
}
DISTRIBUTIONS = {
    AUTOGRAD: "autograd",
    JAX_EAGER: "jax",
    JAX_JIT: "jax",
    TORCH: "torch",
    TANGENT: "tangent-ad",
}


class Unavailable(Exception):
    """The contender cannot run this case (not installed, unsupported, failed)."""


@dataclass
class Prepared:
    """A contender ready to be timed on one case."""

    call: Callable[[], object]
    to_numpy: Callable[[object], tuple] = None  # result -> tuple of float64 arrays
    setup_seconds: float | None = None  # JAX: compilation (first call of the jitted fn)
    setup_cpu_seconds: float | None = None  # the same first call in CPU time (single-threaded)
    note: str = ""


def _as_tuple(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def numpy_result(value) -> tuple:
    return tuple(np.asarray(v, dtype=np.float64) for v in _as_tuple(value))


def positions(case: Case) -> tuple[int, ...]:
    return (case.wrt,) if isinstance(case.wrt, int) else tuple(case.wrt)


def short_error(exc: BaseException) -> str:
    """One line naming an exception, short enough for a table cell."""
    text = " ".join(str(exc).split())
    for marker in ("Detailed information", "See https", "The error occurred"):
        if marker in text:
            text = text[: text.index(marker)].strip()
    if len(text) > 110:
        text = text[:107] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def rebind(func: Callable, **names) -> types.FunctionType:
    """``func``'s code with some of its global names bound to other objects."""
    namespace = dict(func.__globals__)
    namespace.update(names)
    return types.FunctionType(
        func.__code__, namespace, func.__name__, func.__defaults__, func.__closure__
    )


def version_of(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _import(module: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise Unavailable(f"not installed ({short_error(exc)})") from None


# -- ours and the baselines -------------------------------------------------------------


def prepare_forward(case: Case, args: tuple) -> Prepared:
    f = case.forward
    return Prepared(lambda: f(*args))


def prepare_hand(case: Case, args: tuple) -> Prepared:
    h = case.hand
    return Prepared(lambda: h(*args), numpy_result)


def prepare_ours(case: Case, args: tuple) -> Prepared:
    from ad_transform import grad

    g = grad(case.forward, wrt=case.wrt)
    g(*args)  # transformation and compilation happen here, outside the timing
    return Prepared(lambda: g(*args), numpy_result)


def prepare_ours_direct(case: Case, args: tuple) -> Prepared:
    """Diagnostic: the generated function itself, without the ``grad`` object's call
    (argument checks, lookup of the specialisation). Uses ad_transform's internals."""
    from ad_transform import grad

    g = grad(case.forward, wrt=case.wrt)
    g(*args)
    try:
        function = g._generated(g._prepare(args)).function
    except AttributeError as exc:
        raise Unavailable(f"skipped: ad_transform's internals changed ({exc})") from None
    return Prepared(lambda: function(*args), numpy_result)


# -- autograd ----------------------------------------------------------------------------


def prepare_autograd(case: Case, args: tuple) -> Prepared:
    autograd = _import("autograd")
    anp = _import("autograd.numpy")
    f = rebind(case.forward, np=anp, math=anp)
    g = autograd.grad(f, case.wrt)
    return Prepared(lambda: g(*args), numpy_result)


# -- JAX ---------------------------------------------------------------------------------

_jax_configured = False


def _jax():
    global _jax_configured
    jax = _import("jax")
    if not _jax_configured:
        jax.config.update("jax_enable_x64", True)  # float64 like everyone else
        jax.config.update("jax_platforms", "cpu")
        _jax_configured = True
    return jax


def _jax_args(jax, case: Case, args: tuple) -> tuple:
    jnp = jax.numpy
    wrt = positions(case)
    return tuple(
        jnp.asarray(a) if isinstance(a, np.ndarray) or i in wrt else a for i, a in enumerate(args)
    )


def prepare_jax_eager(case: Case, args: tuple) -> Prepared:
    jax = _jax()
    f = rebind(case.forward, np=jax.numpy, math=jax.numpy)
    g = jax.grad(f, argnums=case.wrt)
    jargs = _jax_args(jax, case, args)
    block = jax.block_until_ready
    return Prepared(lambda: block(g(*jargs)), numpy_result)


def prepare_jax_jit(case: Case, args: tuple) -> Prepared:
    jax = _jax()
    f = rebind(case.forward, np=jax.numpy, math=jax.numpy)
    wrt = positions(case)
    # Python numbers that are not differentiated (loop lengths, limits) are static
    static = tuple(i for i, a in enumerate(args) if i not in wrt and not isinstance(a, np.ndarray))
    g = jax.jit(jax.grad(f, argnums=case.wrt), static_argnums=static)
    jargs = _jax_args(jax, case, args)
    block = jax.block_until_ready
    start = time.perf_counter()
    block(g(*jargs))  # tracing + XLA compilation
    compile_seconds = time.perf_counter() - start
    return Prepared(lambda: block(g(*jargs)), numpy_result, setup_seconds=compile_seconds)


# -- PyTorch -----------------------------------------------------------------------------


def _torch_namespaces(torch):
    """``np`` and ``math`` for the cases' functions, on float64 tensors."""

    def tsum(a, axis=None, keepdims=False):
        return torch.sum(a) if axis is None else torch.sum(a, dim=axis, keepdim=keepdims)

    def maximum(a, b):
        if isinstance(b, (int, float)):
            return torch.clamp_min(a, b)
        return torch.maximum(a, b)

    def zeros(shape):
        return torch.zeros(shape, dtype=torch.float64)

    def tmax(a, axis=None, keepdims=False):
        return torch.amax(a) if axis is None else torch.amax(a, dim=axis, keepdim=keepdims)

    def mean(a, axis=None):
        return torch.mean(a) if axis is None else torch.mean(a, dim=axis)

    def logaddexp(a, b):
        a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
        return torch.logaddexp(a, b)

    def concatenate(parts, axis=0):
        return torch.cat(list(parts), dim=axis)

    tlinalg = types.SimpleNamespace(cholesky=torch.linalg.cholesky, solve=torch.linalg.solve)
    tnp = types.SimpleNamespace(
        tanh=torch.tanh,
        exp=torch.exp,
        log=torch.log,
        sin=torch.sin,
        cos=torch.cos,
        sum=tsum,
        max=tmax,
        mean=mean,
        maximum=maximum,
        zeros=zeros,
        eye=lambda n: torch.eye(n, dtype=torch.float64),
        diag=torch.diag,
        einsum=torch.einsum,
        logaddexp=logaddexp,
        concatenate=concatenate,
        linalg=tlinalg,
    )

    def sqrt(v):
        return torch.sqrt(v) if isinstance(v, torch.Tensor) else math.sqrt(v)

    tmath = types.SimpleNamespace(
        sin=torch.sin, cos=torch.cos, exp=torch.exp, log=torch.log, sqrt=sqrt
    )
    return tnp, tmath


def prepare_torch(case: Case, args: tuple) -> Prepared:
    torch = _import("torch")
    tnp, tmath = _torch_namespaces(torch)
    f = rebind(case.forward, np=tnp, math=tmath)
    wrt = positions(case)
    targs = []
    for i, a in enumerate(args):
        if i in wrt:
            targs.append(torch.tensor(a, dtype=torch.float64, requires_grad=True))
        elif isinstance(a, np.ndarray):
            targs.append(torch.from_numpy(a))
        else:
            targs.append(a)
    threads = os.environ.get("OMP_NUM_THREADS")
    if threads and threads.isdigit() and torch.get_num_threads() != int(threads):
        torch.set_num_threads(int(threads))
    leaves = [targs[i] for i in wrt]
    autograd_grad = torch.autograd.grad
    single = isinstance(case.wrt, int)

    def call():
        grads = autograd_grad(f(*targs), leaves)
        return grads[0] if single else grads

    def to_numpy(value):
        return tuple(v.detach().numpy().astype(np.float64) for v in _as_tuple(value))

    return Prepared(call, to_numpy)


# -- tangent-ad ------------------------------------------------------------------------


def prepare_tangent(case: Case, args: tuple) -> Prepared:
    tangent = _import("tangent")
    g = tangent.grad(case.forward, wrt=positions(case), verbose=0)
    return Prepared(lambda: g(*args), numpy_result)


PREPARE: dict[str, Callable[[Case, tuple], Prepared]] = {
    FORWARD: prepare_forward,
    HAND: prepare_hand,
    OURS: prepare_ours,
    OURS_DIRECT: prepare_ours_direct,
    AUTOGRAD: prepare_autograd,
    JAX_EAGER: prepare_jax_eager,
    JAX_JIT: prepare_jax_jit,
    TORCH: prepare_torch,
    TANGENT: prepare_tangent,
}


def compare(result: tuple, expected: tuple, rtol: float = 1e-6) -> str | None:
    """``None`` if ``result`` matches ``expected`` (the hand-written gradient), else why."""
    if len(result) != len(expected):
        return f"wrong gradient: {len(result)} values for {len(expected)} arguments"
    worst = 0.0
    for r, e in zip(result, expected):
        if np.shape(r) != np.shape(e):
            return f"wrong gradient: shape {np.shape(r)}, expected {np.shape(e)}"
        scale = max(float(np.max(np.abs(e), initial=0.0)), 1e-300)
        error = float(np.max(np.abs(r - e), initial=0.0)) / scale
        if not math.isfinite(error):
            return "wrong gradient: not finite"
        worst = max(worst, error)
    if worst > rtol:
        return f"wrong gradient: relative error {worst:.2g} against the hand-written one"
    return None
