"""A service's declared settings are validated as their declaration says, for any declaration
and any value: the model accepts exactly the values that meet the type and the constraints, and
keeps them as given (integers from their text too, flags from yes/no words)."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from stackyard.config.globals import declared_model
from stackyard.services.model import FALSE, TRUE, SettingDef

WORD = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=6)
INTEGER = st.integers(min_value=-(2**70), max_value=2**70)
BOUND = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@st.composite
def declarations(draw: st.DrawFn) -> SettingDef:
    kind = draw(st.sampled_from(["string", "integer", "flag"]))
    if kind == "integer":
        low, high = sorted(draw(st.tuples(BOUND, BOUND)))
        bounds = draw(st.sampled_from([(None, None), (low, None), (None, high), (low, high)]))
        default = draw(st.one_of(st.none(), st.integers(low, high)))
        return SettingDef(description="d", type="integer", default=default, minimum=bounds[0],
                          maximum=bounds[1])  # fmt: skip
    if kind == "flag":
        return SettingDef(description="d", type="flag", default=draw(st.none() | st.booleans()))
    choices = draw(st.none() | st.lists(WORD, min_size=1, max_size=3, unique=True))
    pattern = None if choices else draw(st.sampled_from([None, "[a-z]+", "[0-9]{2,3}", "x|y"]))
    allowed = choices or ([] if pattern else ["plain"])
    text = draw(st.none() | (st.sampled_from(allowed) if allowed else st.none()))
    if pattern and text is None:
        text = draw(st.none() | st.from_regex(pattern, fullmatch=True))
    return SettingDef(description="d", default=text, pattern=pattern, choices=choices)


def meets(setting: SettingDef, value: Any) -> bool:
    """Whether the value meets the declaration, said directly."""
    if setting.type == "flag":
        return isinstance(value, bool) or str(value).strip().lower() in TRUE | FALSE
    if setting.type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return False  # floats too: 3.0 is refused, not read as 3
        low = -(2**63) if setting.minimum is None else setting.minimum
        high = 2**63 - 1 if setting.maximum is None else setting.maximum
        return low <= value <= high
    if not isinstance(value, str):
        return False
    if setting.choices:
        return value in setting.choices
    return setting.pattern is None or re.fullmatch(setting.pattern, value) is not None


VALUES = st.one_of(
    INTEGER, st.booleans(), st.floats(), WORD, WORD.map(lambda w: w + "\n"),
    st.sampled_from(["yes", "Off", "12", "ab", "ab\n", "1\n"]),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(setting=declarations(), value=VALUES)
def test_a_declared_setting_accepts_what_its_declaration_allows(
    setting: SettingDef, value: Any
) -> None:
    model = declared_model({"a_setting": setting})
    assert model().model_dump() == {"a_setting": setting.default}  # the default is valid
    if setting.type == "integer" and isinstance(value, str):
        return  # text that is a number is read as one (references give text): not judged here
    try:
        kept = model(a_setting=value).model_dump()["a_setting"]
    except ValidationError:
        assert not meets(setting, value), (setting, value)
        return
    assert meets(setting, value), (setting, value)
    if setting.type == "flag":
        assert kept is (value if isinstance(value, bool) else str(value).strip().lower() in TRUE)
    else:
        assert kept == value
