"""The array helpers of the solver modules."""

from __future__ import annotations

import numpy as np
import pytest

from matching._arrays import unique_ints


@pytest.mark.parametrize("size", [0, 1, 2, 17, 5000])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_unique_ints_is_numpys_unique(size: int, dtype: type) -> None:
    rng = np.random.default_rng(size)
    hi = min(np.iinfo(dtype).max, 3 * size + 2)
    x = rng.integers(0, hi, size).astype(dtype)
    got = unique_ints(x)
    want = np.unique(x)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_unique_ints_flattens_and_keeps_negatives() -> None:
    x = np.array([[3, -1], [3, 7], [-1, -5]], dtype=np.int64)
    np.testing.assert_array_equal(unique_ints(x), [-5, -1, 3, 7])
