"""Every public function refuses bad arguments with a ValueError that names the argument: never another
exception, a silent coercion, or NumPy's own words (hypothesis draws the bad values)."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .bad_values import bad_values
from .protocol_calls import PROTOCOL_CALLS
from .public_calls import CALLS as ENGINE_CALLS

CALLS = ENGINE_CALLS + PROTOCOL_CALLS

#: Phrases of NumPy's and Python's own messages: a message holding one was not written for the caller.
FOREIGN = (
    "setting an array element",
    "could not broadcast",
    "operands could not",
    "invalid literal",
    "truth value of an array",
    "object arrays",
    "ufunc",
    "Cannot cast",
    "unsupported operand",
    "not supported between",
    "inhomogeneous",
    "could not convert",
)


@pytest.mark.parametrize("call", CALLS, ids=[c.name for c in CALLS])
def test_the_valid_call_runs(call):
    call.fn(**call.valid())


@pytest.mark.parametrize("call", CALLS, ids=[c.name for c in CALLS])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_bad_argument_is_refused_with_a_value_error_naming_it(call, data):
    kwargs = call.valid()
    argument = data.draw(st.sampled_from(sorted(call.kinds)), label="argument")
    bad = data.draw(bad_values(call.kinds[argument], kwargs.get(argument)), label="value")
    kwargs[argument] = bad
    with pytest.raises(ValueError) as err:
        out = call.fn(**kwargs)
        if hasattr(out, "__next__"):
            next(out)  # a generator checks when it is made, never at its first step: this must not be reached
    message = str(err.value)
    assert re.search(rf"(^|\W){re.escape(argument)}(\W|$)", message), (argument, message)
    assert "\n" not in message and not any(phrase in message for phrase in FOREIGN), message
