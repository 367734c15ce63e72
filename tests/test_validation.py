"""The shared argument checks of `keras_vae._validation`."""

import numpy as np
import pytest

from keras_vae import _validation as V


def test_check_choice_is_case_insensitive_and_allows_none_only_when_listed():
    assert V.check_choice("mode", "MSS", ("mss", "mws")) == "mss"
    assert V.check_choice("binarize", None, (None, "static")) is None
    with pytest.raises(ValueError, match=r"one of \['mss', 'mws'\]\. Received: mode=None"):
        V.check_choice("mode", None, ("mss", "mws"))
    with pytest.raises(ValueError, match=r"one of \['dynamic', 'static'\] or None\. "
                                         r"Received: binarize='bern'"):
        V.check_choice("binarize", "bern", (None, "static", "dynamic"))
    with pytest.raises(ValueError, match="Received: split=0"):
        V.check_choice("split", 0, ("train",))


def test_check_bool_takes_python_and_numpy_bools_only():
    assert V.check_bool("flag", np.bool_(True)) is True
    assert V.check_bool("flag", False) is False
    for bad in (1, 0, "yes", None, np.array([True])):
        with pytest.raises(TypeError, match="`flag` must be True or False. Received: flag="):
            V.check_bool("flag", bad)


def test_image_shape_and_size():
    assert V.check_image_shape("input_shape", [28, 28, 1]) == (28, 28, 1)
    assert V.check_image_size("image_size", None) is None
    assert V.check_image_size("image_size", (np.int64(8), 16)) == (8, 16)
    for bad in ((0, 8), 16, "ab", (8, 8, 1), (8.0, 8), (True, 8)):
        with pytest.raises(ValueError, match="Received: image_size="):
            V.check_image_size("image_size", bad)
    with pytest.raises(ValueError, match="three positive integers"):
        V.check_image_shape("input_shape", "abc")


def test_array_checks_name_the_arguments():
    with pytest.raises(ValueError, match=r"the first at index \(1, 0\)\. Received: z\.shape=\(2, 2\)"):
        V.check_finite_numeric("z", np.array([[0.0, 1.0], [np.nan, np.inf]]))
    with pytest.raises(TypeError, match="Received: z.dtype=<U1"):
        V.check_finite_numeric("z", np.array(["a"]))
    with pytest.raises(ValueError, match=r"`a` and `b` must have the same number of samples"):
        V.check_num_samples(a=np.zeros((2, 3)), b=np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"same number of columns .*Received: a.shape=\(2, 3\), "
                                         r"b.shape=\(2, 4\)"):
        V.check_num_columns(a=np.zeros((2, 3)), b=np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"must be a 2D array of shape \(n, d\)"):
        V.check_rank("x", np.zeros(3), 2, "(n, d)")
    with pytest.raises(TypeError, match="convertible to a numpy array"):
        V.as_array("x", [[1, 2], [3]])


def test_check_instances_and_check_optional_dict():
    from keras_vae import _validation

    assert _validation.check_instances("xs", (1, 2), int, "ints", "int") == [1, 2]
    with pytest.raises(TypeError, match="must be a list of ints. Received: xs of type int"):
        _validation.check_instances("xs", 1, int, "ints", "int")
    with pytest.raises(ValueError, match=r"at least one int. Received: xs=\[\]"):
        _validation.check_instances("xs", [], int, "ints", "int")
    with pytest.raises(TypeError, match=r"only ints. Received: xs\[1\] of type str"):
        _validation.check_instances("xs", [1, "2"], int, "ints", "int")
    assert _validation.check_optional_dict("m", None) is None
    with pytest.raises(TypeError, match="must be None or a dict. Received: m of type list"):
        _validation.check_optional_dict("m", [])
