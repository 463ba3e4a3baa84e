# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OS standard (``check_os_expect``) and each instance's compliance with it.

``normalize_expect(expect, flat)`` validates the standard before anything runs (unknown keys and malformed values
are refused, naming the key and the accepted form) and merges the flat variables an AWX survey can set
(``check_os_expect_timezone``...). ``evaluate(facts, expect)`` judges one instance: one check per expectation, each
``compliant``, ``noncompliant`` or ``unknown`` (a fact that could not be read, or a check that did not run), and the
instance is ``noncompliant`` if any check is, else ``unknown`` if any is, else ``compliant``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput

COMPLIANT = "compliant"
NONCOMPLIANT = "noncompliant"
UNKNOWN = "unknown"
STATUSES = (COMPLIANT, NONCOMPLIANT, UNKNOWN)

# expectation -> (the fact it reads, the accepted form, in words)
EXPECTATIONS = {
    "timezone": (
        "timezone",
        "a time zone name as the instance reports it (Asia/Tokyo; on Windows its Id, Tokyo Standard Time)",
    ),
    "locale": ("locale", "a locale as the instance reports it (ja_JP.UTF-8; on Windows ja-JP)"),
    "ntp_synchronized": ("ntp_synchronized", "true or false"),
    "ntp_source": ("ntp_source", "the selected NTP source as chronyc or w32tm shows it (169.254.169.123)"),
    "max_pending_updates": ("pending_updates", "a whole number of pending updates, 0 or more"),
    "hostname_pattern": ("hostname", "a regular expression searched in the host name (^(ip-|web-))"),
}
ORDER = tuple(EXPECTATIONS)
FLAT_PREFIX = "check_os_expect_"
# The characters each free-text value may hold: what time zones, locales, NTP sources and host-name patterns use.
# Nothing here reaches a shell, but a survey answer with shell metacharacters (; ` & > <) is refused all the same.
FORMS = {
    "timezone": re.compile(r"^[A-Za-z0-9_+./ -]{1,64}$"),
    "locale": re.compile(r"^[A-Za-z0-9_.@-]{1,64}$"),
    "ntp_source": re.compile(r"^[A-Za-z0-9_.: -]{1,255}$"),
    "hostname_pattern": re.compile(r"^[A-Za-z0-9_.^$()\[\]{}|*+?\\,-]{1,256}$"),
}
FORM_WORDS = {
    "timezone": "letters, digits, spaces and _ + . / - (at most 64)",
    "locale": "letters, digits and _ . @ - (at most 64)",
    "ntp_source": "letters, digits, spaces and _ . : - (at most 255)",
    "hostname_pattern": "letters, digits, _ - , and the regular expression signs ^ $ . ( ) [ ] { } | * + ? \\ "
    "(no spaces, at most 256)",
}
TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")


def _field(key, field_name):
    return "%s.%s" % (field_name, key)


def _bool(value, name):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS + FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    raise InvalidInput(name, "must be true or false, not %r" % (value,))


def _count(value, name):
    if isinstance(value, bool):
        raise InvalidInput(name, "must be a whole number of pending updates (0 or more), not %r" % (value,))
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and re.match(r"^\s*\d+\s*$", value):
        return int(value)
    if isinstance(value, float) and value >= 0 and value == int(value):
        return int(value)
    raise InvalidInput(name, "must be a whole number of pending updates (0 or more), not %r" % (value,))


def _text(value, name, form, key=None):
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InvalidInput(name, "must be %s, not %r" % (form, value))
    text = str(value).strip()
    if not text:
        raise InvalidInput(name, "must be %s, not empty" % form)
    if key in FORMS and not FORMS[key].match(text):
        raise InvalidInput(name, "must be %s, only %s, not %r" % (form, FORM_WORDS[key], text))
    return text


def _pattern(value, name):
    text = _text(value, name, EXPECTATIONS["hostname_pattern"][1], "hostname_pattern")
    try:
        re.compile(text)
    except re.error as e:
        raise InvalidInput(name, "is not a valid regular expression (%s): %r" % (e, text)) from None
    return text


def _texts(value, name, key):
    """A string, or a list of accepted strings (a mixed fleet: Linux says Asia/Tokyo, Windows Tokyo Standard Time)."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise InvalidInput(name, "must be %s, or a list of them, not an empty list" % EXPECTATIONS[key][1])
        texts = [_text(v, "%s[%d]" % (name, i), EXPECTATIONS[key][1], key) for i, v in enumerate(value)]
        return texts[0] if len(texts) == 1 else texts
    return _text(value, name, EXPECTATIONS[key][1], key)


def validate_expect(expect, field_name="check_os_expect"):
    """The standard with each value in its form; unknown keys and malformed values raise InvalidInput."""
    if expect in (None, "", {}):
        return {}
    if not isinstance(expect, dict):
        raise InvalidInput(
            field_name,
            "must be a dictionary of expectations (%s), not %r" % (", ".join(ORDER), expect),
        )
    unknown = sorted(str(k) for k in expect if k not in EXPECTATIONS)
    if unknown:
        raise InvalidInput(
            _field(unknown[0], field_name),
            "is not an expectation; accepted keys: %s" % ", ".join(ORDER),
        )
    out = {}
    for key in ORDER:
        if key not in expect or expect[key] is None or expect[key] == "":
            continue
        name = _field(key, field_name)
        value = expect[key]
        if key == "ntp_synchronized":
            out[key] = _bool(value, name)
        elif key == "max_pending_updates":
            out[key] = _count(value, name)
        elif key == "hostname_pattern":
            out[key] = _pattern(value, name)
        else:
            out[key] = _texts(value, name, key)
    return out


def normalize_expect(expect=None, flat=None, field_name="check_os_expect"):
    """Merge the flat variables (``check_os_expect_<key>``: AWX surveys cannot set nested keys) into the standard.

    A flat variable that is set (not empty) wins over the same key of the dictionary. Returns the validated standard.
    """
    merged = dict(validate_expect(expect, field_name))
    for name, value in sorted((flat or {}).items()):
        key = name[len(FLAT_PREFIX) :] if name.startswith(FLAT_PREFIX) else name
        if key not in EXPECTATIONS:
            raise InvalidInput(
                name, "is not an expectation variable; accepted: %s" % ", ".join(FLAT_PREFIX + k for k in ORDER)
            )
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        label = name if name.startswith(FLAT_PREFIX) else FLAT_PREFIX + key
        merged.update(_one(key, value, label))
    return merged


def _one(key, value, label):
    if key == "ntp_synchronized":
        return {key: _bool(value, label)}
    if key == "max_pending_updates":
        return {key: _count(value, label)}
    if key == "hostname_pattern":
        return {key: _pattern(value, label)}
    if isinstance(value, str) and "," in value:  # a survey's text field: alternatives separated by commas
        value = [part for part in (p.strip() for p in value.split(",")) if part]
    return {key: _texts(value, label, key)}


def display(value):
    """How a value is shown in the reports: booleans as yes/no, offsets in seconds, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "%gs" % value
    if isinstance(value, (list, tuple)):
        return " or ".join(display(v) for v in value)
    return str(value)


def _check(key, expected, facts):
    fact = EXPECTATIONS[key][0]
    unknown = (facts or {}).get("unknown") or {}
    if key == "max_pending_updates" and fact not in facts and "pending_updates_at_least" in facts:
        at_least = facts["pending_updates_at_least"]
        actual = ">= %d" % at_least
        if at_least > expected:
            return actual, NONCOMPLIANT, "at least %d pending updates, more than %d" % (at_least, expected)
        return actual, UNKNOWN, unknown.get(fact) or "the output was cut: at least %d pending" % at_least
    if fact not in facts or facts.get(fact) is None:
        return None, UNKNOWN, unknown.get(fact) or "%s was not read" % fact
    actual = facts[fact]
    if key == "max_pending_updates":
        ok = actual <= expected
        reason = "" if ok else "%d pending updates, more than %d" % (actual, expected)
    elif key == "hostname_pattern":
        ok = re.search(expected, str(actual)) is not None
        reason = "" if ok else "%s does not match %s" % (actual, expected)
    elif key == "ntp_synchronized":
        ok = actual is expected
        reason = "" if ok else "the clock is %ssynchronised" % ("" if actual else "not ")
    else:
        accepted = expected if isinstance(expected, list) else [expected]
        ok = str(actual) in [str(a) for a in accepted]
        reason = "" if ok else "%s is %s, expected %s" % (key, actual, " or ".join(str(a) for a in accepted))
    return actual, COMPLIANT if ok else NONCOMPLIANT, reason


def evaluate(facts, expect):
    """``{"status", "checks": [{name, expected, actual, status, reason}]}`` for one instance's facts."""
    checks = []
    for key in ORDER:
        if key not in (expect or {}):
            continue
        actual, status, reason = _check(key, expect[key], facts or {})
        checks.append({"name": key, "expected": expect[key], "actual": actual, "status": status, "reason": reason})
    return {"status": overall([c["status"] for c in checks]), "checks": checks}


def overall(statuses):
    statuses = list(statuses)
    if NONCOMPLIANT in statuses:
        return NONCOMPLIANT
    if UNKNOWN in statuses:
        return UNKNOWN
    return COMPLIANT


def _percent(value, name):
    if isinstance(value, bool):
        raise InvalidInput(name, "must be a whole number from 0 to 100, not %r" % (value,))
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise InvalidInput(name, "must be a whole number from 0 to 100, not %r" % (value,)) from None
    if not 0 <= number <= 100:
        raise InvalidInput(name, "must be a whole number from 0 to 100, not %r" % (value,))
    return number


def policy(
    summary_compliance,
    max_noncompliant_percent=100,
    fail_on_unknown=False,
    percent_field="check_os_max_noncompliant_percent",
    unknown_field="check_os_fail_on_unknown",
):
    """The compliance part of the pass/fail verdict, from a report summary's ``compliance``.

    ``unknown`` instances are counted apart, and as noncompliant when ``fail_on_unknown``. The default, 100, only
    reports. Returns ``{compliant, noncompliant, unknown, total, failing, percent, max_percent, reason}``, ``reason``
    empty when the policy passes. The inputs are checked first (InvalidInput naming the variable)."""
    limit = _percent(max_noncompliant_percent, percent_field)
    strict = _bool(fail_on_unknown, unknown_field)
    counts = (summary_compliance or {}).get("instances") or {}
    good, bad, unknown = (int(counts.get(s, 0)) for s in STATUSES)
    total = good + bad + unknown
    failing = bad + (unknown if strict else 0)
    percent = round(100.0 * failing / total, 1) if total else 0.0
    out = {
        "compliant": good,
        "noncompliant": bad,
        "unknown": unknown,
        "total": total,
        "failing": failing,
        "percent": percent,
        "max_percent": limit,
        "reason": "",
    }
    if total and percent > limit:
        if strict:
            what = "%d of %d instance(s) are noncompliant or unknown (%d noncompliant, %d unknown; %s)" % (
                failing,
                total,
                bad,
                unknown,
                unknown_field,
            )
        else:
            what = "%d of %d instance(s) are noncompliant (%d unknown not counted)" % (bad, total, unknown)
        out["reason"] = "%s: %.1f%% > %s %d%%" % (what, percent, percent_field, limit)
    return out
