"""Independent tests of ``matching.solve`` (dense and sparse assignment solvers).

Written from the specification, not from the implementation.  The oracles in
``oracle.py`` are scipy on an expanded matrix (capacities = replicated columns,
unmatched costs = one private dummy column per row) and plain enumeration.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from matching.errors import InfeasibleError, InputError

try:
    from matching import solve_assignment, solve_sparse_assignment
except ImportError:  # package not wired yet
    from matching.solve import solve_assignment, solve_sparse_assignment

try:
    from oracle import (
        brute_force_optimum,
        check_result,
        permutation_optimum,
        scipy_optimum,
    )
except ImportError:  # tests collected as a package
    from .oracle import (
        brute_force_optimum,
        check_result,
        permutation_optimum,
        scipy_optimum,
    )

# When a hypothesis test fails, its pytest plugin imports ``hypothesis.extra._patching``
# (libcst), which emits a DeprecationWarning (mypy_extensions.TypedDict); with
# ``filterwarnings = error`` that becomes a pytest INTERNALERROR that aborts the
# whole session and hides the real failure.  Import it once here, quietly.
with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore", DeprecationWarning)
    import hypothesis.extra._patching  # noqa: F401

INF = np.inf

# --------------------------------------------------------------------------- helpers


def float_tol(n):
    """Tolerance on the total for non-integral float costs (auto scale >= 1e6)."""
    return 1e-6 * max(n, 1)


def to_arcs(cost, rng=None):
    """The finite cells of a dense matrix as (rows, cols, costs), optionally shuffled."""
    cost = np.asarray(cost)
    rows, cols = np.nonzero(np.isfinite(cost))
    vals = cost[rows, cols]
    if rng is not None:
        perm = rng.permutation(rows.size)
        rows, cols, vals = rows[perm], cols[perm], vals[perm]
    return rows, cols, vals


def arc_set(rows, cols):
    return set(zip(np.asarray(rows).tolist(), np.asarray(cols).tolist(), strict=True))


def solve_dense_total(cost, capacities=None, unmatched_cost=None, **kw):
    """Solve densely, validate, return the total or None when infeasible."""
    try:
        res = solve_assignment(cost, capacities=capacities, unmatched_cost=unmatched_cost, **kw)
    except InfeasibleError:
        return None
    return check_result(res, cost, capacities, unmatched_cost)


def solve_sparse_total(cost, capacities=None, unmatched_cost=None, rng=None, **kw):
    """Solve the arc formulation of a dense matrix, validate, return total or None."""
    cost = np.asarray(cost)
    rows, cols, vals = to_arcs(cost, rng)
    try:
        res = solve_sparse_assignment(
            rows,
            cols,
            vals,
            shape=cost.shape,
            capacities=capacities,
            unmatched_cost=unmatched_cost,
            **kw,
        )
    except InfeasibleError:
        return None
    return check_result(res, cost, capacities, unmatched_cost, sparse_arcs=arc_set(rows, cols))


def assert_same_total(got, expected, *, n, exact):
    if expected is None or got is None:
        assert got is None and expected is None, f"feasibility differs: got {got}, want {expected}"
        return
    if exact:
        assert got == expected, f"total {got} != optimum {expected}"
    else:
        assert abs(float(got) - float(expected)) <= float_tol(n), (got, expected)


def random_instance(seed, max_side=10):
    """A seeded random instance: (cost, capacities, unmatched_cost, integral)."""
    rng = np.random.default_rng([1789, seed])
    base = int(rng.integers(1, max_side + 1))
    kind = seed % 3
    if kind == 0:  # square
        n = m = base
    elif kind == 1:  # tall (n > m)
        n, m = base + int(rng.integers(1, 6)), base
    else:  # wide (n < m)
        n, m = base, base + int(rng.integers(1, 6))
    if seed % 41 == 5:
        n = 0
    elif seed % 41 == 17:
        m = 0

    cost_kind = rng.choice(["int", "int", "int", "negint", "float", "float", "intfloat"])
    if cost_kind == "int":
        cost = rng.integers(0, 101, (n, m))
    elif cost_kind == "negint":
        cost = rng.integers(-50, 51, (n, m))
    elif cost_kind == "intfloat":  # integer-valued floats with many ties
        cost = rng.integers(0, 6, (n, m)).astype(float)
    else:
        cost = rng.uniform(0, 100, (n, m))
    integral = cost_kind != "float"

    density = rng.choice([0.0, 0.0, 0.1, 0.3, 0.6, 0.9])
    if density > 0:
        cost = cost.astype(float)
        cost[rng.random((n, m)) < density] = INF

    capacities = None if rng.random() < 0.25 else rng.integers(0, 4, m)

    u = rng.random()
    if u < 0.4:
        unmatched = None
    elif u < 0.5:
        unmatched = int(rng.integers(0, 121)) if integral else float(rng.uniform(0, 120))
    else:
        if integral:
            unmatched = rng.integers(-5, 121, n).astype(float)
        else:
            unmatched = rng.uniform(-5, 120, n)
        inf_share = rng.choice([0.0, 0.3, 1.0])
        unmatched[rng.random(n) < inf_share] = INF
    return cost, capacities, unmatched, integral


def random_tiny(seed):
    """A random instance with n, m <= 4 and capacities <= 2 (brute-forceable)."""
    rng = np.random.default_rng([4242, seed])
    n, m = (int(x) for x in rng.integers(0, 5, 2))
    cost = rng.integers(0, 10, (n, m)).astype(float)
    cost[rng.random((n, m)) < rng.choice([0.0, 0.3, 0.6])] = INF
    capacities = None if rng.random() < 0.3 else rng.integers(0, 3, m)
    if rng.random() < 0.4:
        unmatched = None
    else:
        unmatched = rng.integers(-2, 13, n).astype(float)
        unmatched[rng.random(n) < 0.3] = INF
    return cost, capacities, unmatched


# --------------------------------------------------------------------------- known answers


def orlib_path() -> Path:
    env = os.environ.get("MATCHING_ORLIB")
    if env:
        p = Path(env)
        return p / "assign100.txt" if p.is_dir() else p
    shared = Path(__file__).resolve().parents[2] / "shared/data/orlib/assign100.txt"
    if shared.is_file():
        return shared
    # a copy kept with the tests, for checkouts without the shared folder next to them
    return Path(__file__).resolve().parent / "data" / "assign100.txt"


def load_orlib(path: Path) -> np.ndarray:
    tokens = path.read_text().split()
    n = int(tokens[0])
    values = np.array(tokens[1 : 1 + n * n], dtype=np.int64)
    assert values.size == n * n, f"{path}: expected {n * n} costs, found {values.size}"
    return values.reshape(n, n)


@pytest.fixture(scope="module")
def assign100():
    path = orlib_path()
    if not path.is_file():
        pytest.fail(f"OR-Library file not found: {path} (set MATCHING_ORLIB to its path)")
    cost = load_orlib(path)
    assert cost.shape == (100, 100)
    return cost


def test_orlib_assign100_dense(assign100):
    res = solve_assignment(assign100)
    assert check_result(res, assign100) == 305
    assert res[0].size == 100


def test_orlib_assign100_transposed_and_variants(assign100):
    assert check_result(solve_assignment(assign100.T), assign100.T) == 305
    ones = np.ones(100, dtype=np.int64)
    assert check_result(solve_assignment(assign100, capacities=ones), assign100, ones) == 305
    # every row must be assigned: same optimum
    res = solve_assignment(assign100, unmatched_cost=INF)
    assert check_result(res, assign100, None, INF) == 305
    # leaving a row out costs more than any cell: same optimum
    res = solve_assignment(assign100, unmatched_cost=1000)
    assert check_result(res, assign100, None, 1000) == 305


def test_orlib_assign100_sparse(assign100):
    rng = np.random.default_rng(100)
    assert solve_sparse_total(assign100, rng=rng) == 305
    assert solve_sparse_total(assign100.T, rng=rng) == 305


SCIPY_DOC_CASES = [
    ([[400, 150, 400], [400, 450, 600], [300, 225, 300]], 850),
    ([[400, 150, 400, 1], [400, 450, 600, 2], [300, 225, 300, 3]], 452),
    ([[10, 10, 8], [9, 8, 1], [9, 7, 4]], 18),
    ([[10, 10, 8, 11], [9, 8, 1, 1], [9, 7, 4, 10]], 15),
]


@pytest.mark.parametrize("transpose", [False, True], ids=["as-is", "transposed"])
@pytest.mark.parametrize(("matrix", "total"), SCIPY_DOC_CASES)
def test_scipy_documented_cases(matrix, total, transpose):
    cost = np.array(matrix)
    if transpose:
        cost = cost.T
    r, c = linear_sum_assignment(cost)  # the documented answer really is scipy's
    assert cost[r, c].sum() == total
    # dense, given as a nested list (array-like) and as an array
    as_list = cost.tolist()
    assert check_result(solve_assignment(as_list), cost) == total
    assert check_result(solve_assignment(cost), cost) == total
    assert check_result(solve_assignment(cost.astype(float)), cost) == total
    # sparse
    assert solve_sparse_total(cost) == total
    assert solve_sparse_total(cost, rng=np.random.default_rng(7)) == total


HAND_CASES = [
    # (cost, capacities, unmatched_cost, total or None, number of pairs)
    ([[1, 10], [1, 10], [1, 10]], [2, 1], None, 12, 3),
    ([[1, 10], [1, 10], [1, 10]], [2, 1], 3, 5, 2),
    ([[1, 10], [1, 10], [1, 10]], [2, 1], [INF, INF, 3], 5, 2),
    ([[1, 10], [1, 10], [1, 10]], [2, 1], [INF, INF, INF], 12, 3),
    ([[1, 10], [1, 10], [1, 10]], [2, 0], [INF, INF, INF], None, 0),
    ([[1, 10], [1, 10], [1, 10]], [2, 0], None, 2, 2),
    ([[1, 10], [1, 10], [1, 10]], [0, 0], None, 0, 0),
    ([[INF]], None, 7, 7, 0),
    ([[INF]], None, INF, None, 0),
    ([[INF]], None, None, None, 0),
    ([[1]], None, -1, -1, 0),
    ([[1, INF], [INF, INF], [2, 3]], None, None, 4, 2),
    ([[1, INF], [INF, INF]], None, None, None, 0),
    ([[5, 1], [5, 1]], [1, 3], None, 2, 2),
]


@pytest.mark.parametrize(("cost", "caps", "unmatched", "total", "pairs"), HAND_CASES)
def test_hand_computed_cases(cost, caps, unmatched, total, pairs):
    cost = np.array(cost, dtype=float)
    assert scipy_optimum(cost, caps, unmatched) == total  # the hand answer is right
    assert brute_force_optimum(cost, caps, unmatched) == total
    for sparse in (False, True):
        if total is None:
            with pytest.raises(InfeasibleError) as info:
                if sparse:
                    r, c, v = to_arcs(cost)
                    solve_sparse_assignment(
                        r, c, v, shape=cost.shape, capacities=caps, unmatched_cost=unmatched
                    )
                else:
                    solve_assignment(cost, capacities=caps, unmatched_cost=unmatched)
            assert isinstance(info.value, ValueError)
            assert not isinstance(info.value, InputError)
            if unmatched is None:
                assert "cost matrix is infeasible" in str(info.value)
            continue
        if sparse:
            r, c, v = to_arcs(cost)
            res = solve_sparse_assignment(
                r, c, v, shape=cost.shape, capacities=caps, unmatched_cost=unmatched
            )
        else:
            res = solve_assignment(cost, capacities=caps, unmatched_cost=unmatched)
        assert check_result(res, cost, caps, unmatched) == total
        assert res[0].size == pairs


# --------------------------------------------------------------------------- oracle cross-checks

DENSE_SEEDS = range(360)


@pytest.mark.parametrize("seed", DENSE_SEEDS)
def test_random_dense_against_scipy(seed):
    cost, caps, unmatched, integral = random_instance(seed)
    expected = scipy_optimum(cost, caps, unmatched)
    if expected is None:
        with pytest.raises(InfeasibleError, match="infeasible" if unmatched is None else None):
            solve_assignment(cost, capacities=caps, unmatched_cost=unmatched)
        return
    got = solve_dense_total(cost, caps, unmatched)
    assert got is not None, "solver says infeasible, scipy found an assignment"
    assert_same_total(got, expected, n=cost.shape[0], exact=integral)


@pytest.mark.parametrize("seed", range(8))
def test_random_medium_against_scipy(seed):
    rng = np.random.default_rng([55, seed])
    n, m = (int(x) for x in rng.integers(20, 61, 2))
    cost = rng.integers(0, 1000, (n, m)).astype(float)
    cost[rng.random((n, m)) < 0.5] = INF
    caps = rng.integers(0, 4, m)
    unmatched = None
    if seed % 2:
        unmatched = rng.integers(200, 2000, n).astype(float)
        unmatched[rng.random(n) < 0.2] = INF
    expected = scipy_optimum(cost, caps, unmatched)
    got = solve_dense_total(cost, caps, unmatched)
    assert_same_total(got, expected, n=n, exact=True)
    assert_same_total(solve_sparse_total(cost, caps, unmatched, rng=rng), expected, n=n, exact=True)


# --------------------------------------------------------------------------- brute force


@pytest.mark.parametrize("seed", range(150))
def test_tiny_brute_force_seeded(seed):
    cost, caps, unmatched = random_tiny(seed)
    want = brute_force_optimum(cost, caps, unmatched)
    assert scipy_optimum(cost, caps, unmatched) == want  # the two oracles agree
    assert_same_total(solve_dense_total(cost, caps, unmatched), want, n=0, exact=True)
    assert_same_total(solve_sparse_total(cost, caps, unmatched), want, n=0, exact=True)


CELL = st.one_of(st.integers(0, 9).map(float), st.just(INF))
UNMATCHED_CELL = st.one_of(st.integers(-2, 12).map(float), st.just(INF))


@st.composite
def tiny_instances(draw):
    n = draw(st.integers(0, 4))
    m = draw(st.integers(0, 4))
    cells = draw(st.lists(CELL, min_size=n * m, max_size=n * m))
    cost = np.array(cells, dtype=float).reshape(n, m)
    caps = draw(st.none() | st.lists(st.integers(0, 2), min_size=m, max_size=m))
    unmatched = draw(
        st.none()
        | UNMATCHED_CELL
        | st.lists(UNMATCHED_CELL, min_size=n, max_size=n).map(lambda xs: np.array(xs, dtype=float))
    )
    return cost, caps, unmatched


@settings(
    max_examples=250,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(tiny_instances())
def test_tiny_brute_force_hypothesis(instance):
    cost, caps, unmatched = instance
    want = brute_force_optimum(cost, caps, unmatched)
    assert scipy_optimum(cost, caps, unmatched) == want
    assert_same_total(solve_dense_total(cost, caps, unmatched), want, n=0, exact=True)
    assert_same_total(solve_sparse_total(cost, caps, unmatched), want, n=0, exact=True)


# --------------------------------------------------------------------------- sparse vs dense


@pytest.mark.parametrize("seed", range(150))
def test_random_sparse_matches_dense(seed):
    cost, caps, unmatched, integral = random_instance(seed + 10_000)
    expected = scipy_optimum(cost, caps, unmatched)
    rng = np.random.default_rng(seed)
    dense = solve_dense_total(cost, caps, unmatched)
    sparse = solve_sparse_total(cost, caps, unmatched, rng=rng)
    n = cost.shape[0]
    assert_same_total(sparse, expected, n=n, exact=integral)
    assert_same_total(sparse, dense, n=n, exact=integral)


def test_sparse_accepts_lists_and_unsorted_arcs():
    rows = [2, 0, 1, 0]
    cols = [1, 1, 0, 0]
    costs = [4, 3, 1, 5]
    dense = np.full((3, 2), INF)
    dense[rows, cols] = costs
    res = solve_sparse_assignment(rows, cols, costs, shape=(3, 2))
    assert scipy_optimum(dense) == 4
    assert check_result(res, dense, sparse_arcs=arc_set(rows, cols)) == 4
    res = solve_sparse_assignment(rows, cols, costs, shape=(3, 2), unmatched_cost=[INF, 2, 2])
    assert scipy_optimum(dense, None, [INF, 2, 2]) == 6
    assert check_result(res, dense, None, [INF, 2, 2], sparse_arcs=arc_set(rows, cols)) == 6


def test_sparse_no_arcs():
    empty_i = np.array([], dtype=np.intp)
    empty_f = np.array([], dtype=float)
    res = solve_sparse_assignment(empty_i, empty_i, empty_f, shape=(2, 3), unmatched_cost=4)
    assert check_result(res, np.full((2, 3), INF), None, 4) == 8
    with pytest.raises(InfeasibleError, match="infeasible"):
        solve_sparse_assignment(empty_i, empty_i, empty_f, shape=(2, 3))
    res = solve_sparse_assignment(empty_i, empty_i, empty_f, shape=(2, 3), capacities=[0, 0, 0])
    assert check_result(res, np.full((2, 3), INF), [0, 0, 0]) == 0


# --------------------------------------------------------------------------- scale / dtypes


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8", "uint16"])
def test_integer_dtypes_exact(dtype):
    rng = np.random.default_rng(3)
    for _ in range(5):
        n, m = (int(x) for x in rng.integers(1, 12, 2))
        cost = rng.integers(0, 101, (n, m)).astype(dtype)
        caps = rng.integers(0, 3, m)
        expected = scipy_optimum(cost, caps)
        assert_same_total(solve_dense_total(cost, caps), expected, n=n, exact=True)
        unmatched = rng.integers(0, 80, n).astype(dtype)
        expected = scipy_optimum(cost, caps, unmatched)
        assert_same_total(solve_dense_total(cost, caps, unmatched), expected, n=n, exact=True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_dtypes(dtype):
    rng = np.random.default_rng(4)
    for _ in range(5):
        n, m = (int(x) for x in rng.integers(1, 12, 2))
        cost = rng.uniform(0, 100, (n, m)).astype(dtype)
        expected = scipy_optimum(cost)
        got = solve_dense_total(cost)
        assert abs(float(got) - expected) <= float_tol(n)


def test_integer_valued_floats_exact_at_large_magnitude():
    rng = np.random.default_rng(5)
    for _ in range(5):
        cost = rng.integers(0, 10**9, (20, 15)).astype(float)
        cost[rng.random(cost.shape) < 0.3] = INF
        caps = rng.integers(0, 3, 15)
        unmatched = rng.integers(0, 10**9, 20).astype(float)
        for u in (None, unmatched):
            expected = scipy_optimum(cost, caps, u)
            assert_same_total(solve_dense_total(cost, caps, u), expected, n=20, exact=True)


@pytest.mark.parametrize("scale", [1, 1000, 10**6])
def test_explicit_scale_bound(scale):
    rng = np.random.default_rng(6)
    for _ in range(10):
        n, m = (int(x) for x in rng.integers(1, 12, 2))
        cost = rng.uniform(0, 100, (n, m))
        cost[rng.random((n, m)) < 0.2] = INF
        unmatched = rng.uniform(0, 100, n)
        for u in (None, unmatched):
            expected = scipy_optimum(cost, None, u)
            got = solve_dense_total(cost, None, u, scale=scale)
            assert (got is None) == (expected is None)
            if got is not None:
                assert got >= expected - 1e-9
                assert got - expected <= n / scale + 1e-9


def test_non_contiguous_input():
    rng = np.random.default_rng(8)
    base = rng.integers(0, 100, (20, 30)).astype(float)
    base[rng.random(base.shape) < 0.2] = INF
    for cost in (base.T, base[::2, ::-1], np.asfortranarray(base), base[:, ::3]):
        expected = scipy_optimum(cost)
        assert_same_total(solve_dense_total(cost), expected, n=cost.shape[0], exact=True)


# --------------------------------------------------------------------------- errors


def _raises_input_error(match, fn, *args, **kwargs):
    with pytest.raises(InputError, match=match) as info:
        fn(*args, **kwargs)
    assert isinstance(info.value, ValueError)
    assert not isinstance(info.value, InfeasibleError)


GOOD = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])


@pytest.mark.parametrize(
    "cost",
    [
        [[1.0, np.nan], [2.0, 3.0]],
        [[1.0, -INF], [2.0, 3.0]],
        np.zeros((2, 2, 2)),
        np.zeros(3),
        5.0,
    ],
    ids=["nan", "-inf", "3-D", "1-D", "0-D"],
)
def test_bad_cost(cost):
    _raises_input_error("cost", solve_assignment, cost)


@pytest.mark.parametrize(
    "caps",
    [[1, 1], [1, 1, 1, 1], [1, -1, 1], [1, 1.5, 1], [[1, 1, 1]]],
    ids=["short", "long", "negative", "non-integer", "2-D"],
)
def test_bad_capacities(caps):
    _raises_input_error("capacities", solve_assignment, GOOD, capacities=caps)
    r, c, v = to_arcs(GOOD)
    _raises_input_error(
        "capacities", solve_sparse_assignment, r, c, v, shape=GOOD.shape, capacities=caps
    )


@pytest.mark.parametrize(
    "unmatched",
    [[1.0], [1.0, 2.0, 3.0], [[1.0, 2.0]], [1.0, np.nan], [1.0, -INF]],
    ids=["short", "long", "2-D", "nan", "-inf"],
)
def test_bad_unmatched_cost(unmatched):
    _raises_input_error("unmatched_cost", solve_assignment, GOOD, unmatched_cost=unmatched)
    r, c, v = to_arcs(GOOD)
    _raises_input_error(
        "unmatched_cost",
        solve_sparse_assignment,
        r,
        c,
        v,
        shape=GOOD.shape,
        unmatched_cost=unmatched,
    )


def test_sparse_duplicated_arc():
    _raises_input_error(
        "rows|cols", solve_sparse_assignment, [0, 1, 0], [2, 0, 2], [1.0, 2.0, 3.0], shape=(2, 3)
    )


@pytest.mark.parametrize(
    ("rows", "cols", "name"),
    [
        ([0, 2], [0, 1], "rows"),
        ([0, -1], [0, 1], "rows"),
        ([0, 1], [0, 3], "cols"),
        ([0, 1], [-1, 1], "cols"),
    ],
)
def test_sparse_out_of_range(rows, cols, name):
    _raises_input_error(name, solve_sparse_assignment, rows, cols, [1.0, 2.0], shape=(2, 3))


@pytest.mark.parametrize("bad", [np.nan, -INF], ids=["nan", "-inf"])
def test_sparse_non_finite_costs(bad):
    _raises_input_error("cost", solve_sparse_assignment, [0, 1], [0, 1], [1.0, bad], shape=(2, 3))


def test_sparse_mismatched_lengths():
    with pytest.raises(ValueError):
        solve_sparse_assignment([0, 1], [0], [1.0, 2.0], shape=(2, 3))
    with pytest.raises(ValueError):
        solve_sparse_assignment([0, 1], [0, 1], [1.0], shape=(2, 3))


def test_options_are_keyword_only():
    with pytest.raises(TypeError):
        solve_assignment(GOOD, [1, 1, 1])
    with pytest.raises(TypeError):
        solve_sparse_assignment([0], [0], [1.0], (2, 3))


def test_exception_hierarchy():
    assert issubclass(InputError, ValueError)
    assert issubclass(InfeasibleError, ValueError)


# --------------------------------------------------------------------------- properties


def test_inputs_not_mutated_and_read_only_ok():
    rng = np.random.default_rng(9)
    cost = rng.integers(0, 50, (8, 5)).astype(float)
    cost[rng.random(cost.shape) < 0.2] = INF
    caps = np.array([2, 0, 1, 3, 1])
    unmatched = rng.uniform(0, 60, 8)
    unmatched[2] = INF
    saved = [a.copy() for a in (cost, caps, unmatched)]
    for a in (cost, caps, unmatched):
        a.flags.writeable = False
    res = solve_assignment(cost, capacities=caps, unmatched_cost=unmatched)
    check_result(res, cost, caps, unmatched)
    for a, b in zip((cost, caps, unmatched), saved, strict=True):
        assert np.array_equal(a, b)
    # writable inputs: still untouched
    w = [a.copy() for a in saved]
    solve_assignment(w[0], capacities=w[1], unmatched_cost=w[2])
    for a, b in zip(w, saved, strict=True):
        assert np.array_equal(a, b)
    # sparse inputs
    r, c, v = to_arcs(cost, np.random.default_rng(1))
    arrays = [r.copy(), c.copy(), v.copy(), caps.copy(), unmatched.copy()]
    kept = [a.copy() for a in arrays]
    solve_sparse_assignment(
        arrays[0],
        arrays[1],
        arrays[2],
        shape=cost.shape,
        capacities=arrays[3],
        unmatched_cost=arrays[4],
    )
    for a, b in zip(arrays, kept, strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("seed", range(10))
def test_deterministic(seed):
    rng = np.random.default_rng([77, seed])
    n, m = (int(x) for x in rng.integers(1, 15, 2))
    cost = rng.integers(0, 3, (n, m)).astype(float)  # lots of ties
    if seed % 2:
        cost = np.zeros((n, m))
    caps = rng.integers(0, 3, m)
    unmatched = None if seed % 3 else np.full(n, 1.0)
    first = solve_assignment(cost, capacities=caps, unmatched_cost=unmatched)
    second = solve_assignment(cost.copy(), capacities=caps.copy(), unmatched_cost=unmatched)
    assert np.array_equal(first[0], second[0])
    assert np.array_equal(first[1], second[1])
    r, c, v = to_arcs(cost)
    s1 = solve_sparse_assignment(r, c, v, shape=cost.shape, capacities=caps)
    s2 = solve_sparse_assignment(r.copy(), c.copy(), v.copy(), shape=cost.shape, capacities=caps)
    assert np.array_equal(s1[0], s2[0])
    assert np.array_equal(s1[1], s2[1])


@pytest.mark.parametrize("shape", [(0, 0), (0, 3), (3, 0)])
def test_empty_shapes(shape):
    cost = np.zeros(shape)
    for res in (
        solve_assignment(cost),
        solve_assignment(cost, capacities=np.ones(shape[1], dtype=int)),
        solve_assignment(cost, unmatched_cost=np.ones(shape[0])),
        solve_assignment(cost, unmatched_cost=2.5),
        solve_sparse_assignment([], [], [], shape=shape),
        solve_sparse_assignment([], [], [], shape=shape, unmatched_cost=np.ones(shape[0])),
    ):
        check_result(res, cost)
        assert res[0].size == 0
        assert res[1].size == 0
    if shape[0]:
        with pytest.raises(InfeasibleError):
            solve_assignment(cost, unmatched_cost=INF)
        with pytest.raises(InfeasibleError):
            solve_sparse_assignment([], [], [], shape=shape, unmatched_cost=INF)


# --------------------------------------------------------------------------- overflow guard


def _solve_or_overflow(fn, *args, **kwargs):
    """Solve, or accept an InputError that says 'overflow'; anything else fails."""
    try:
        return fn(*args, **kwargs)
    except InputError as exc:
        assert "overflow" in str(exc).lower(), f"InputError without 'overflow': {exc}"
        return None


@pytest.mark.parametrize("high", [10**12, 10**15, 2**53, 2**60, 2**62, 2**63 - 1])
def test_large_integer_costs_exact_or_overflow(high):
    rng = np.random.default_rng(high % 1000)
    for _ in range(3):
        cost = rng.integers(0, high, (6, 6), dtype=np.int64, endpoint=True)
        want = permutation_optimum(cost)
        res = _solve_or_overflow(solve_assignment, cost)
        if res is not None:
            check_result(res, cost)
            got = sum(int(cost[i, j]) for i, j in zip(*res, strict=True))
            assert got == want, f"silently wrong: {got} != {want} (max cost {high})"
        r, c, v = to_arcs(cost)
        res = _solve_or_overflow(solve_sparse_assignment, r, c, v, shape=cost.shape)
        if res is not None:
            got = sum(int(cost[i, j]) for i, j in zip(*res, strict=True))
            assert got == want, f"sparse silently wrong: {got} != {want} (max cost {high})"


def test_large_integral_float_costs():
    rng = np.random.default_rng(11)
    cost = rng.integers(0, 10**15, (6, 6)).astype(float)  # exactly representable
    want = permutation_optimum(cost.astype(np.int64))
    res = _solve_or_overflow(solve_assignment, cost)
    if res is not None:
        got = sum(int(cost[i, j]) for i, j in zip(*res, strict=True))
        assert got == want


def test_mixed_huge_and_small_costs_against_scipy():
    rng = np.random.default_rng(12)
    for huge in (10**12, 10**15):
        cost = rng.integers(0, 100, (30, 30)).astype(np.int64)
        cost[rng.random(cost.shape) < 0.3] = huge
        r, c = linear_sum_assignment(cost.astype(float))
        want = int(cost[r, c].sum())
        res = _solve_or_overflow(solve_assignment, cost)
        if res is not None:
            assert check_result(res, cost) == want
        res = _solve_or_overflow(solve_assignment, cost, unmatched_cost=huge)
        if res is not None:
            expected = scipy_optimum(cost, None, float(huge))
            assert check_result(res, cost, None, float(huge)) == expected


def test_huge_unmatched_cost_with_forbidden_cells():
    cost = np.array([[1.0, INF, INF], [INF, 2.0, INF], [3.0, INF, INF]])
    unmatched = np.array([1e15, 1e15, 1e15])
    res = _solve_or_overflow(solve_assignment, cost, unmatched_cost=unmatched)
    if res is not None:
        assert check_result(res, cost, None, unmatched) == 1e15 + 3.0


def test_int64_costs_beyond_float_precision_exact_or_overflow():
    # Integer costs above 2**53 are not exactly representable as float64; a
    # solver that rounds them through float64 can pick a worse assignment.
    # cost: (0,0)+(1,1) = 2A+5 is optimal; (0,1)+(1,0) = 2A+6.
    a = 2**55
    cost = np.array([[a + 5, a + 3], [a + 3, a]], dtype=np.int64)
    assert permutation_optimum(cost) == 2 * a + 5
    res = _solve_or_overflow(solve_assignment, cost)
    if res is not None:
        got = sum(int(cost[i, j]) for i, j in zip(*res, strict=True))
        assert got == 2 * a + 5, f"silently wrong: {got} != {2 * a + 5}"
    res = _solve_or_overflow(
        solve_sparse_assignment, [0, 0, 1, 1], [0, 1, 0, 1], cost.ravel(), shape=(2, 2)
    )
    if res is not None:
        got = sum(int(cost[i, j]) for i, j in zip(*res, strict=True))
        assert got == 2 * a + 5, f"sparse silently wrong: {got} != {2 * a + 5}"


@pytest.mark.parametrize("seed", range(5))
def test_random_int64_costs_beyond_float_precision(seed):
    rng = np.random.default_rng([2**53, seed])
    cost = rng.integers(2**53, 2**55, (6, 6), dtype=np.int64)
    want = permutation_optimum(cost)
    res = _solve_or_overflow(solve_assignment, cost)
    if res is not None:
        got = sum(int(cost[i, j]) for i, j in zip(*res, strict=True))
        assert got == want, f"silently wrong: {got} != {want}"


@pytest.mark.parametrize(("n", "m"), [(6, 6), (30, 40), (60, 45)])
def test_power_of_two_multiples_up_to_int64_exact_or_overflow(n, m):
    # cost = F * small with F a power of two: exactly representable at any
    # magnitude, and the optimum is F times the optimum of ``small``.
    rng = np.random.default_rng(n * m)
    small = rng.integers(0, 1000, (n, m))
    small[0, 0] = 999
    r, c = linear_sum_assignment(small)
    base = int(small[r, c].sum())
    for e in range(30, 54):
        f = 2**e
        cost = small.astype(np.int64) * f
        res = _solve_or_overflow(solve_assignment, cost)
        if res is not None:
            got = sum(int(cost[i, j]) for i, j in zip(*res, strict=True))
            assert got == base * f, f"silently wrong at F=2**{e}: {got} != {base * f}"
        res = _solve_or_overflow(solve_assignment, cost, unmatched_cost=float(2000 * f))
        if res is not None:
            assert res[0].size == min(n, m)  # leaving a row out costs more than any cell
            got = sum(int(cost[i, j]) for i, j in zip(*res, strict=True))
            got += (n - res[0].size) * 2000 * f
            want = base * f + max(n - m, 0) * 2000 * f
            assert got == want, f"silently wrong with unmatched at F=2**{e}"
