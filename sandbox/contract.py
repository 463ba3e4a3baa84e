"""Contract cases derived from botocore's model: a value just inside and just outside each constraint.

For an operation, ``base_request`` builds a minimal request the model accepts (every required member, each value
generated from its shape: an enum's first value, a string of the pattern at the minimum length, the minimum number,
one list item), and ``cases`` walks every member of the input shape (through structures and list items, four
levels deep) and yields, for each constraint the model states,

- ``required``: the request without the member (outside);
- ``enum``: the first value (inside), a value that is not in the set (outside);
- ``min``/``max`` of strings, numbers and lists: the boundary (inside), one past it (outside);
- ``pattern``: a generated value that matches (inside), one that does not (outside), at a valid length.

Nothing is typed by hand: a constraint whose values cannot be generated (a pattern no generated string satisfies)
gives no case, and ``cases`` reports it in ``skipped``. The contract test sends each case to the sandbox and
checks the answer against the model: an outside value is refused with the validation error naming the member, an
inside value is not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from re import _constants as C  # noqa: N812 - the regex parser's opcodes
from re import _parser as sre_parse

from sandbox import fidelity
from sandbox.protocols import service_model

MAX_DEPTH = 4
_PREFERRED = "aA1-_.:/b"
_OUTSIDE_CHARS = ("!", " ", "\u00e9", "#", "*", "~")


@dataclass
class Case:
    service: str
    operation: str
    member: str  # the Coral path of the member, as the validation message names it: "targetLocations.1.member.accounts"
    constraint: str  # "required", "enum", "min", "max", "pattern"
    inside: bool
    params: dict = field(repr=False)
    label: str = ""

    @property
    def id(self) -> str:
        return f"{self.service}:{self.operation}:{self.member}:{self.constraint}:{'in' if self.inside else 'out'}"


# -- values -----------------------------------------------------------------------------------------------------------
def _pattern(shape) -> re.Pattern | None:
    p = shape.metadata.get("pattern")
    return fidelity._java_pattern(p) if p else None  # noqa: SLF001 - the validator's own translation


def _ok(value: str, shape) -> bool:
    meta = shape.metadata
    if "min" in meta and len(value) < meta["min"]:
        return False
    if "max" in meta and len(value) > meta["max"]:
        return False
    if shape.enum and value not in shape.enum:
        return False
    rx = _pattern(shape)
    return rx is None or rx.search(value) is not None


def string_value(shape, length: int | None = None) -> str | None:
    """A string the shape accepts, of ``length`` characters when given; None when none can be generated."""
    if shape.enum:
        v = shape.enum[0]
        return v if length is None or len(v) == length else None
    meta = shape.metadata
    want = length if length is not None else max(meta.get("min", 1), 1)
    rx = _pattern(shape)
    candidates = []
    if rx is not None:
        for branch in range(8):
            for budget in (0, want):
                sample = _generate(rx.pattern, budget, branch)
                if sample is not None:
                    candidates.append(sample)
                    if len(sample) < want:
                        candidates.append(sample + sample[-1:] * (want - len(sample)))
                        candidates.append(sample[:1] * (want - len(sample)) + sample)
    candidates += [c * want for c in _PREFERRED]
    fits = [v for v in candidates if (length is None or len(v) == want) and _ok(v, shape)]
    # a value the pattern matches as a whole first: whether AWS anchors a pattern is not documented per service
    whole = [v for v in fits if rx is None or rx.fullmatch(v)]
    return (whole or fits or [None])[0]


def _generate(pattern: str, budget: int, branch: int = 0) -> str | None:
    """A string of ``pattern``: the ``branch``-th alternative of each alternation (the last when there are fewer),
    with ``budget`` more characters in the first repetition that can take them."""
    try:
        parsed = sre_parse.parse(pattern)
    except Exception:  # noqa: BLE001 - a pattern Python cannot parse: no sample
        return None
    extra = [budget]
    try:
        return _gen(parsed, extra, branch)
    except _NoSample:
        return None


class _NoSample(Exception):  # noqa: N818 - control flow
    pass


def _char_in(items) -> str:
    negate = any(op is C.NEGATE for op, _ in items)

    def member(ch: str) -> bool:
        code = ord(ch)
        for op, av in items:
            if op is C.LITERAL and av == code:
                return True
            if op is C.RANGE and av[0] <= code <= av[1]:
                return True
            if op is C.CATEGORY:
                if av is C.CATEGORY_DIGIT and ch.isdigit():
                    return True
                if av is C.CATEGORY_WORD and (ch.isalnum() or ch == "_"):
                    return True
                if av is C.CATEGORY_SPACE and ch.isspace():
                    return True
                if av is C.CATEGORY_NOT_SPACE and not ch.isspace():
                    return True
                if av is C.CATEGORY_NOT_DIGIT and not ch.isdigit():
                    return True
                if av is C.CATEGORY_NOT_WORD and not (ch.isalnum() or ch == "_"):
                    return True
        return False

    for ch in _PREFERRED + "0123456789xyz@=,+ ":
        if member(ch) != negate:
            return ch
    for op, av in items:
        if op is C.LITERAL and not negate:
            return chr(av)
        if op is C.RANGE and not negate:
            return chr(av[0])
    raise _NoSample


def _gen(parsed, extra: list[int], branch: int = 0) -> str:
    out = []
    for op, av in parsed:
        if op is C.LITERAL:
            out.append(chr(av))
        elif op is C.NOT_LITERAL:
            out.append("a" if av != ord("a") else "b")
        elif op is C.ANY:
            out.append("a")
        elif op is C.IN:
            out.append(_char_in(av))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", None)):
            lo, hi, sub = av
            count = max(lo, 1) if hi >= 1 else 0
            if hi is C.MAXREPEAT:
                hi = 1 << 30
            count = min(count, hi)
            one = _gen(sub, [0], branch)
            if extra[0] > 0 and len(one) == 1 and hi > count:
                more = min(extra[0], hi - count)
                count += more
                extra[0] -= more
            out.append(one + "".join(_gen(sub, [0], branch) for _ in range(count - 1)) if count else "")
        elif op is C.SUBPATTERN:
            out.append(_gen(av[-1], extra, branch))
        elif op is C.BRANCH:
            alternatives = av[1]
            out.append(_gen(alternatives[min(branch, len(alternatives) - 1)], extra, branch))
        elif op is C.CATEGORY:
            out.append(_char_in([(op, av)]))
        elif op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            continue
        else:
            raise _NoSample
    return "".join(out)


def value_for(shape, depth: int = 0, seen: tuple = (), nonempty: bool = False):
    """A value the shape accepts (required members only, for structures; with ``nonempty``, a structure without
    required members gets its first member that has a value, since the query protocols cannot send an empty one);
    raises _NoSample when none is found."""
    kind, meta = shape.type_name, shape.metadata
    if kind == "structure":
        if shape.name in seen or depth > MAX_DEPTH + 2:
            raise _NoSample
        inner = (*seen, shape.name)
        out = {name: value_for(shape.members[name], depth + 1, inner) for name in shape.required_members}
        if nonempty and not out:
            for name, member in shape.members.items():
                try:
                    out[name] = value_for(member, depth + 1, inner, nonempty=True)
                    break
                except _NoSample:
                    continue
        return out
    if kind == "list":
        n = max(meta.get("min", 1), 1)
        item = value_for(shape.member, depth + 1, seen, nonempty=True)
        return [item] * n
    if kind == "map":
        return {}
    if kind == "string":
        v = string_value(shape)
        if v is None:
            raise _NoSample
        return v
    if kind in ("integer", "long"):
        return max(meta.get("min", 1), 1) if meta.get("max", 1) >= 1 else meta.get("min", 0)
    if kind == "boolean":
        return False
    if kind in ("float", "double"):
        return 1.0
    if kind == "timestamp":
        return 1_700_000_000
    if kind == "blob":
        return "YQ=="
    raise _NoSample


def base_request(service: str, operation: str) -> dict | None:
    shape = service_model(service).operation_model(operation).input_shape
    if shape is None:
        return {}
    try:
        return value_for(shape)
    except _NoSample:
        return None


# -- cases ------------------------------------------------------------------------------------------------------------
def _outside_string(shape, length: int) -> str | None:
    for ch in _OUTSIDE_CHARS:
        value = ch * length
        rx = _pattern(shape)
        if rx is not None and rx.search(value) is None:
            return value
    return None


def _scalar_cases(shape) -> list[tuple[str, bool, object]]:
    kind, meta = shape.type_name, shape.metadata
    out: list[tuple[str, bool, object]] = []
    if kind == "string":
        if shape.enum:
            out.append(("enum", True, shape.enum[0]))
            bad = "NOT_IN_THE_ENUM"
            if _ok_len(bad, shape):
                out.append(("enum", False, bad))
            return out
        lo, hi = meta.get("min"), meta.get("max")
        if lo:
            inside = string_value(shape, lo)
            if inside is not None:
                out.append(("min", True, inside))
            out.append(("min", False, (string_value(shape, 1) or "a")[:0] if lo == 1 else "a" * (lo - 1)))
        if hi is not None and hi < 100_000:
            inside = string_value(shape, hi)
            if inside is not None:
                out.append(("max", True, inside))
                out.append(("max", False, inside + inside[-1]))
            else:
                out.append(("max", False, "a" * (hi + 1)))
        if "pattern" in meta:
            inside = string_value(shape)
            if inside is not None:
                out.append(("pattern", True, inside))
            length = max(lo or 1, 1)
            bad = _outside_string(shape, length)
            if bad is not None:
                out.append(("pattern", False, bad))
    elif kind in ("integer", "long"):
        if "min" in meta:
            out += [("min", True, meta["min"]), ("min", False, meta["min"] - 1)]
        if "max" in meta:
            out += [("max", True, meta["max"]), ("max", False, meta["max"] + 1)]
    return out


def _ok_len(value: str, shape) -> bool:
    meta = shape.metadata
    return meta.get("min", 0) <= len(value) <= meta.get("max", 1 << 30)


def cases(service: str, operation: str) -> tuple[list[Case], list[str]]:
    """(cases, skipped): every case the model gives for the operation's input, and the constraints no value could
    be generated for (named by member and constraint)."""
    op = service_model(service).operation_model(operation)
    shape = op.input_shape
    base = base_request(service, operation)
    out: list[Case] = []
    skipped: list[str] = []
    if shape is None:
        return out, skipped
    if base is None:
        return out, [f"{operation}: no base request could be generated"]
    rules = fidelity._InputRules  # noqa: SLF001 - the Coral path convention of the validator

    def walk(struct, keys: list, coral: str, depth: int, seen: tuple) -> None:
        if depth > MAX_DEPTH or struct.name in seen:
            return
        for name, member in struct.members.items():
            path = [*keys, name]
            where = rules.member(coral, name)
            if name in struct.required_members:
                out.append(Case(service, operation, where, "required", False, _set(base, path, _DROP, shape)))
            kind, meta = member.type_name, member.metadata
            try:
                if kind == "list":
                    item = value_for(member.member, nonempty=True)
                    lo, hi = meta.get("min"), meta.get("max")
                    if lo:
                        out.append(Case(service, operation, where, "min", True, _set(base, path, [item] * lo, shape)))
                        out.append(
                            Case(service, operation, where, "min", False, _set(base, path, [item] * (lo - 1), shape))
                        )
                    if hi is not None and hi <= 1000:
                        out.append(Case(service, operation, where, "max", True, _set(base, path, [item] * hi, shape)))
                        out.append(
                            Case(service, operation, where, "max", False, _set(base, path, [item] * (hi + 1), shape))
                        )
                    inner = member.member
                    item_where = rules.item(where, 0)
                    if inner.type_name == "structure":
                        walk_list_item(inner, path, item_where, depth + 1, (*seen, struct.name))
                    else:
                        for constraint, inside, value in _scalar_cases(inner):
                            out.append(
                                Case(
                                    service,
                                    operation,
                                    item_where,
                                    constraint,
                                    inside,
                                    _set(base, [*path, 0], value, shape),
                                )
                            )
                elif kind == "structure":
                    walk(member, path, where, depth + 1, (*seen, struct.name))
                elif kind != "map":
                    for constraint, inside, value in _scalar_cases(member):
                        out.append(Case(service, operation, where, constraint, inside, _set(base, path, value, shape)))
            except _NoSample:
                skipped.append(f"{operation}: {where}: no value could be generated")

    def walk_list_item(inner, path, item_where, depth, seen):
        walk(inner, [*path, 0], item_where, depth, seen)

    walk(shape, [], "", 0, ())
    return out, skipped


_DROP = object()


def _set(base: dict, path: list, value, shape) -> dict:
    """A deep copy of ``base`` with ``value`` at ``path`` (an int is a list index); a parent the base lacks is
    generated from its shape (its required members), so that only the member under test differs."""
    import copy

    req = copy.deepcopy(base)
    node, node_shape = req, shape
    for key in path[:-1]:
        child_shape = node_shape.member if isinstance(key, int) else node_shape.members[key]
        if isinstance(node, list):
            while len(node) <= key:
                node.append(value_for(child_shape))
        elif node.get(key) is None:
            node[key] = value_for(child_shape)
        node, node_shape = node[key], child_shape
    last = path[-1]
    if isinstance(node, list):
        while len(node) <= last:
            node.append(None)
        node[last] = value
    elif value is _DROP:
        node.pop(last, None)
    else:
        node[last] = value
    return req
