"""The sandbox's one pager: offset page tokens, filtered pages, time filters, for every listing our layer serves
(the Automation engine's Describe*/List* actions, Run Command's, and StackSets').
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
from collections.abc import Callable

from sandbox.server import AwsError


def error(code: str, message: str, status: int = 400) -> AwsError:
    return AwsError(code, message, status)


def token(offset: int, kind: str | None = None) -> str:
    """An opaque NextToken for ``offset``; ``kind`` names the listing it belongs to (None: any listing)."""
    data: dict = {"o": offset} if kind is None else {"o": offset, "k": kind}
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _invalid_token() -> AwsError:
    return error("InvalidNextToken", "The specified token is not valid.")


def offset(value: str | None, kind: str | None = None, invalid: Callable[[], Exception] = _invalid_token) -> int:
    """The offset a NextToken carries; ``invalid()`` (SSM's InvalidNextToken by default) if it is not one, or
    (``kind`` given) another listing's."""
    if not value:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(value.encode()))
        if kind is not None and data.get("k") != kind:
            raise ValueError
        return int(data["o"])
    except (ValueError, KeyError, TypeError):
        raise invalid() from None


def page(
    pool: list,
    checks: list[Callable],
    params: dict,
    kind: str | None = None,
    default_size: int = 50,
    invalid: Callable[[], Exception] = _invalid_token,
) -> tuple[list, str | None]:
    """One page of a listing: (the next items of ``pool`` that pass every check, MaxResults of them at the most
    (``default_size`` when the request has none), from the request's NextToken on; the NextToken for the rest or
    None). Offset pagination over an append-only list: O(page) without filters, stable while the list grows.
    ``invalid`` makes the error for a token that is not this listing's."""
    size = int(params.get("MaxResults") or default_size)
    items = []
    i = offset(params.get("NextToken"), kind, invalid)
    while i < len(pool) and len(items) < size:
        if all(check(pool[i]) for check in checks):
            items.append(pool[i])
        i += 1
    return items, (token(i, kind) if i < len(pool) else None)


def listing(member: str, items: list, next_token: str | None) -> dict:
    """A listing's response: ``{member: items}``, with NextToken when there is more."""
    out: dict = {member: items}
    if next_token:
        out["NextToken"] = next_token
    return out


def invalid_filter_key(key: str):
    """The error for a filter key a listing does not know."""
    return error("InvalidFilterKey", f"The filter key {key} is not valid.")


def parse_time(value: str) -> float | None:
    """Epoch seconds from a number or an ISO 8601 text (UTC if it has no zone); None if it is neither."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        dt = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_dt.UTC)
    return dt.timestamp()


def start_time_filter(key: str, values: list[str], start_of: Callable) -> Callable:
    """The check for a StartTimeBefore / StartTimeAfter filter: the earliest (Before) or latest (After) of its
    values bounds ``start_of(item)``, exclusive; an item that has not started passes neither."""
    stamps = [parse_time(v) for v in values]
    if any(s is None for s in stamps):
        raise error("InvalidFilterValue", f"The filter value {values[0]} is not a valid timestamp for {key}.")
    if key == "StartTimeBefore":
        bound = min(stamps)
        return lambda item: (start := start_of(item)) is not None and start < bound
    bound = max(stamps)
    return lambda item: (start := start_of(item)) is not None and start > bound
