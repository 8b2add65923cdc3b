"""repro.base.validation: the shared argument checks."""
import pytest
import torch

from repro.base.validation import check_images, check_int


def test_check_int_accepts_and_returns():
    assert check_int(3, "n", 1) == 3 and check_int(-5, "seed") == -5
    assert check_int(None, "n", 1, optional=True) is None and check_int(0, "n", 0, optional=True) == 0


@pytest.mark.parametrize("value, exc, match", [
    (True, TypeError, r"n must be an int >= 1, got True"),
    (2.0, TypeError, r"n must be an int >= 1, got 2.0"),
    ("3", TypeError, r"n must be an int >= 1, got '3'"),
    (0, ValueError, r"n must be an int >= 1, got 0"),
    (None, TypeError, r"n must be an int >= 1, got None"),
])
def test_check_int_errors(value, exc, match):
    with pytest.raises(exc, match=match):
        check_int(value, "n", 1)


def test_check_int_optional_wording():
    with pytest.raises(ValueError, match=r"num_classes must be an int >= 1 or None, got 0"):
        check_int(0, "num_classes", 1, optional=True)


def test_check_images():
    x = torch.zeros(2, 3, 4, 5)
    assert check_images(x) is x and check_images(x[:0]).shape[0] == 0
    with pytest.raises(TypeError, match="images must be a torch.Tensor N×3×H×W"):
        check_images(x.numpy())
    with pytest.raises(ValueError, match=r"batch must have shape N×3×H×W \(RGB\), got \(2, 4, 5\)"):
        check_images(x[:, 0], "batch")
    with pytest.raises(TypeError, match="must be a floating tensor"):
        check_images(x.to(torch.uint8))
    with pytest.raises(ValueError, match="at least one image"):
        check_images(x[:0], allow_empty=False)


def test_integer_and_number_predicates():
    import numpy as np

    from repro.base.validation import is_int, is_int_pair, is_number

    assert is_int(3) and is_int(np.int64(3)) and is_int(0, 0) and not is_int(0, 1)
    assert not is_int(True) and not is_int(3.0) and not is_int("3")
    assert is_number(0.5) and is_number(np.float32(0.5)) and is_number(2) and not is_number(False)
    assert not is_number("1")
    assert is_int_pair((8, 16), 8) and is_int_pair([1, 2]) and not is_int_pair((7, 16), 8)
    assert not is_int_pair((1, 2, 3)) and not is_int_pair((True, 2)) and not is_int_pair(8)
