"""The direct walk for plain dotted paths gives what jsonpath-ng gives."""

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonpath_ng.ext import parse

from acehooks import jsonpaths

NAMES = st.sampled_from(["a", "b", "id", "type", "data", "_x"])
VALUES = st.recursive(
    st.none() | st.integers() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(NAMES, children, max_size=4),
    max_leaves=20,
)
PATHS = st.lists(NAMES, min_size=1, max_size=4).map(".".join)


def reference(path: str, payload):
    matches = parse("$." + path).find(payload)
    if not matches:
        return jsonpaths.MISSING
    return matches[0].value if len(matches) == 1 else [match.value for match in matches]


@settings(max_examples=400)
@given(payload=VALUES, path=PATHS, dollar=st.booleans())
def test_plain_path_matches_jsonpath_ng(payload, path, dollar):
    expression = f"$.{path}" if dollar else path

    assert jsonpaths._plain_fields(expression) is not None
    assert jsonpaths.extract(expression, payload) == reference(path, payload)


def test_bracketed_path_uses_jsonpath_ng():
    assert jsonpaths._plain_fields("items[0].price") is None
    assert jsonpaths.extract("items[0].price", {"items": [{"price": 5}]}) == 5
