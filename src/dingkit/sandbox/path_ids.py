"""The ``{name:id}`` path parameter of the sandbox's own routes: a non-negative integer of at
most 18 digits. Starlette's ``int`` takes any digit string and crashes on 4,300+ digits
(Python's int-string limit), which answered a sandbox bug (issue 10, found by the
hostile-route tests); a longer number simply matches no route (JSON 404)."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

__all__ = ["ID"]

ID = "id"


class _IdConvertor(Convertor[int]):
    regex = "[0-9]{1,18}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor(ID, _IdConvertor())
