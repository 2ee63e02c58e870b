"""The docstring examples of rdtheory.vinfo run and give what they show."""
import doctest

import pytest

import rdtheory.vinfo.estimators
import rdtheory.vinfo.examples
import rdtheory.vinfo.families
import rdtheory.vinfo.gaussian


@pytest.mark.parametrize("module", [rdtheory.vinfo.estimators, rdtheory.vinfo.families, rdtheory.vinfo.gaussian,
                                    rdtheory.vinfo.examples])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
