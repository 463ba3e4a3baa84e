# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Regex strictness: can a value matching an allowedPattern carry shell metacharacters?"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

try:
    import re._constants as sre_constants
    import re._parser as sre_parse  # Python >= 3.11
except ImportError:  # pragma: no cover - older Pythons
    import sre_constants  # pylint: disable=deprecated-module
    import sre_parse  # pylint: disable=deprecated-module

from ansible_collections.orgops.ssm_automation.plugins.module_utils import java_regex
from ansible_collections.orgops.ssm_automation.plugins.module_utils._runbook.spec import SAFE_VALUE_CHARS


def _range_is_safe(lo, hi):
    if hi - lo > 512:
        return False
    return all(chr(c) in SAFE_VALUE_CHARS for c in range(lo, hi + 1))


def _items_are_safe(items):
    """True when every character the parsed regex items can match is in SAFE_VALUE_CHARS."""
    c = sre_constants
    for op, av in items:
        if op == c.LITERAL:
            if chr(av) not in SAFE_VALUE_CHARS:
                return False
        elif op == c.IN:
            for iop, iav in av:
                if iop == c.LITERAL:
                    if chr(iav) not in SAFE_VALUE_CHARS:
                        return False
                elif iop == c.RANGE:
                    if not _range_is_safe(iav[0], iav[1]):
                        return False
                elif iop == c.CATEGORY:
                    if iav not in (c.CATEGORY_DIGIT, c.CATEGORY_WORD):
                        return False
                else:  # NEGATE and anything else: unbounded set of characters
                    return False
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT) or op == getattr(c, "POSSESSIVE_REPEAT", None):
            if not _items_are_safe(av[2]):
                return False
        elif op == c.SUBPATTERN:
            if not _items_are_safe(av[-1]):
                return False
        elif op == getattr(c, "ATOMIC_GROUP", None):
            if not _items_are_safe(av):
                return False
        elif op == c.BRANCH:
            if not all(_items_are_safe(alt) for alt in av[1]):
                return False
        elif op == c.GROUPREF_EXISTS:
            if not all(_items_are_safe(alt) for alt in av[1:] if alt is not None):
                return False
        elif op in (c.AT, c.GROUPREF, c.ASSERT, c.ASSERT_NOT):
            continue  # anchors, back-references and look-arounds add no new characters
        elif op == c.CATEGORY:
            if av not in (c.CATEGORY_DIGIT, c.CATEGORY_WORD):
                return False
        else:  # ANY (.), NOT_LITERAL and anything unforeseen
            return False
    return True


def _edge_anchored(items, first):
    """True when every match of ``items`` starts (first=True) or ends (first=False) at an anchor."""
    c = sre_constants
    items = list(items)
    if not items:
        return False
    op, av = items[0] if first else items[-1]
    if op == c.AT:
        wanted = (c.AT_BEGINNING, c.AT_BEGINNING_STRING) if first else (c.AT_END, c.AT_END_STRING)
        return av in wanted
    if op == c.BRANCH:
        return all(_edge_anchored(alt, first) for alt in av[1])
    if op == c.SUBPATTERN:
        return _edge_anchored(av[-1], first)
    return False


def _anchored(items):
    items = list(items)
    return _edge_anchored(items, True) and _edge_anchored(items, False)


def is_strict_pattern(pattern):
    """True when ``pattern`` (a Java regex, translated) is anchored at both ends and admits only
    :data:`SAFE_VALUE_CHARS`."""
    if not isinstance(pattern, str):
        return False
    try:
        parsed = sre_parse.parse(java_regex.translate(pattern, plain_anchors=True), re.ASCII)
    except (java_regex.JavaRegexError, re.error, RecursionError, OverflowError):
        return False
    items = list(parsed)
    return _anchored(items) and _items_are_safe(items)


def is_safe_value(value):
    return all(ch in SAFE_VALUE_CHARS for ch in str(value))
