"""The shared query parameters: one answer (400, the parameter named) for every service."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request
from ebok_shared.http.params import query_int
from ebok_shared.http.problems import Problem


def test_a_whole_number_in_range_is_read_and_an_absent_one_is_the_default() -> None:
    assert query_int(make_mocked_request("GET", "/list?limit=7"), "limit", 20, 1, 100) == 7
    assert query_int(make_mocked_request("GET", "/list"), "limit", 20, 1, 100) == 20
    assert (
        query_int(make_mocked_request("GET", "/list?before_id="), "before_id", None, 1, 9) is None
    )


@pytest.mark.parametrize("raw", ["0", "101", "-1", "1.5", "abc", "1e3", "99999999999999999999"])
def test_a_bad_whole_number_is_a_400_naming_the_parameter(raw: str) -> None:
    with pytest.raises(Problem) as refused:
        query_int(make_mocked_request("GET", f"/list?limit={raw}"), "limit", 20, 1, 100)
    assert refused.value.status == 400
    assert refused.value.code == "bad-parameter"
    assert refused.value.errors == [{"field": "limit", "reason": "liczba całkowita od 1 do 100"}]
