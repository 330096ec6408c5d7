"""Helpers the generated code calls at run time, one module per family like ``rules/``.

Kept out of the scalar hot path: code specialised for Python numbers uses plain
arithmetic and none of these. ``values`` and ``adjoints`` are the pipeline's own (what
adjoint values are, seeds, un-broadcasting, the type of gradients); ``in_place`` the
aliasing guards; ``statements`` the lowered statements' helpers; the others serve the rule
family of the same name in ``rules/``. They keep the float dtype of their inputs
(float32 stays float32; Python numbers do not promote). Every helper is re-exported
here: generated code and rules use ``runtime.<name>``.
"""

from __future__ import annotations

from .adjoints import (  # noqa: F401
    as_gradient,
    container_adjoint,
    is_zero,
    item_adjoint,
    nondifferentiable_zero,
    require_number,
    seed,
    unbroadcast,
    zeros_like,
)
from .constructors import (  # noqa: F401
    arange_adjoint,
    concatenator_adjoint,
    full_adjoint,
    linspace_adjoint,
)
from .containers import (  # noqa: F401
    NO_ITEM,
    conversion_adjoint,
    dict_default_adjoint,
    dict_get_adjoint,
    dict_key,
    dict_receiver,
    dict_slot,
    display_value_adjoint,
    extend_adjoint,
    extreme_of_adjoint,
    items_adjoint,
    iterated,
    iteration_adjoint,
    joined_list,
    joined_parts_adjoint,
    joined_tuple,
    max_of,
    min_of,
    restore_slot,
    reversed_adjoint,
    reversed_list,
    sequence_sum_adjoint,
    set_of,
    sorted_adjoint,
    spread,
    starred_adjoint,
    starred_parts,
    sum_start_adjoint,
    truncate,
    unpacked,
    values_adjoint,
    zip_rows,
    zip_rows_adjoint,
)
from .conversions import (  # noqa: F401
    array_adjoint,
    astype_adjoint,
    cast_like,
    unless_discrete,
)
from .elementwise import (  # noqa: F401
    clip_weights,
    fmax_weights,
    over,
    power_derivative,
    quotient,
    safe_log,
    scalar_over,
    scalar_power_adjoint,
    scalar_times_ratio,
    scalar_zero,
    sinc_derivative,
    tie_share,
    tie_weight,
    times,
)
from .in_place import (  # noqa: F401
    alias_after,
    alias_after_adjoint,
    changes_in_place,
    fresh_copy,
    fresh_saved,
    in_place,
)
from .linalg import (  # noqa: F401
    cholesky_adjoint,
    det_adjoint,
    dot_adjoint_left,
    dot_adjoint_right,
    einsum_adjoint,
    inner_adjoint_left,
    inner_adjoint_right,
    kron_adjoint,
    matmul_adjoint_left,
    matmul_adjoint_right,
    norm_adjoint,
    outer_adjoint_left,
    outer_adjoint_right,
    slogdet_adjoint,
    solve_cotangent,
    solve_matrix_adjoint,
    tensordot_adjoint_left,
    tensordot_adjoint_right,
    vdot_adjoint,
)
from .objects import (  # noqa: F401
    array_receiver,
    method_of_class,
)
from .operators import (  # noqa: F401
    add_adjoint_left,
    add_adjoint_right,
    element_adjoints,
    head_adjoint,
    mul_adjoint_left,
    mul_adjoint_right,
    repetition_adjoint,
    tail_adjoint,
)
from .reductions import (  # noqa: F401
    average_adjoint,
    cumprod_adjoint,
    cumsum_adjoint,
    diag_adjoint,
    diagonal_adjoint,
    diff_adjoint,
    expand_reduced,
    extremum_adjoint,
    nan_extremum_adjoint,
    nan_mean_adjoint,
    nan_sum_adjoint,
    prod_adjoint,
    ptp_adjoint,
    reduced_count,
    sort_adjoint,
    std_adjoint,
    trace_adjoint,
    var_adjoint,
)
from .shape_indexing import (  # noqa: F401
    concatenate_adjoint,
    index_adjoint,
    item_method_adjoint,
    joined_adjoint,
    method_arguments,
    pad_adjoint,
    pad_value_adjoint,
    repeat_adjoint,
    reshape_adjoint,
    roll_adjoint,
    slice_adjoint,
    split_adjoint,
    stack_adjoint,
    take_adjoint,
    take_along_axis_adjoint,
    tile_adjoint,
    transpose_adjoint,
)
from .statements import (  # noqa: F401
    UNBOUND,
    check_bound,
    current_exception,
    enter_context,
    exception_matches,
    exit_context,
    half_changed,
    has_attribute,
    matches_sequence,
    narrowed,
    raise_exception,
    reraise,
    reraise_current,
    set_cell,
    set_global,
    super_of,
    throw,
)
from .values import (  # noqa: F401
    DictAdjoint,
    Fields,
    Item,
    KeyItem,
    ListAdjoint,
    is_discrete,
    own,
)
from .vectorize import check_vectorized_outputs  # noqa: F401
