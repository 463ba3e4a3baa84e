# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts parsed from the check-os runbook's command outputs: pure functions, text in, facts out.

Each parser returns ``(facts, unknown)``: ``facts`` maps a fact name to its value, ``unknown`` maps a fact name that
could not be read to the reason. A parser never guesses: an output it cannot read gives no value and a reason.

``instance_facts(instance)`` applies them to one harvested instance record (``automation_execution_info``'s
``locations[].instances[]``): it picks the step that ran on the instance's platform (``CheckTimezone`` on Linux,
``CheckTimezoneWindows`` on Windows), reads its output (the full stdout when the harvest has it, else the step's
``Output``, which AWS cuts at 2,500 characters) and parses it. Parsing happens when a report is built, never during
the harvest.

The outputs each parser reads (the verbatim public examples and their sources are in
tests/unit/plugins/module_utils/test_facts.py):
- ``hostname``: one line, the host name.
- ``timedatectl status`` (systemd): ``Time zone: Asia/Tokyo (JST, +0900)``; ``System clock synchronized: yes`` (systemd
  239 and later) or ``NTP synchronized: yes`` (earlier). timedatectl prints ``n/a`` when it cannot name the zone (no
  /etc/localtime, or one that is not a symlink, as on Amazon Linux 2023) and the zone in effect in parentheses:
  ``n/a (UTC, +0000)`` is UTC (localtime(5): "If /etc/localtime is missing, the default "UTC" timezone is used");
  any other ``n/a`` is unknown.
- ``localectl status``: ``System Locale: LANG=en_US.UTF-8`` (further ``LC_*=`` lines indented under it).
- ``yum check-update`` / ``dnf check-update``: one line per package (``name.arch  version  repository``; a long name,
  or a long version, pushes the rest onto the next line(s)), exit status 100 when updates are pending (the runbook
  prints ``[exit code 100 accepted...]``). Packages under ``Obsoleting Packages`` (the header is translated) are
  counted once each with the updates; the installed packages they replace (indented, repository ``@...``) are not.
  It does not say which are security updates.
- ``apt list --upgradable``: ``name/suite[,suite] version arch [upgradable from: old]`` (the bracket and the
  ``Listing...`` line are translated); a suite ending in ``-security`` marks a security update.
- ``chronyc sources``: the source marked ``*`` (selected), its stratum and its adjusted offset (``-12us[ -15us]``: the
  first value, in seconds here).
- Windows: ``Get-TimeZone`` (``Id : Tokyo Standard Time``), ``Get-WinSystemLocale`` (a table: ``LCID Name
  DisplayName``), ``w32tm /query /status`` (``Leap Indicator``, ``Stratum``, ``Source``; English or Japanese labels;
  other display languages give unknown for the labels they translate) and the Windows Update Agent search the
  runbook runs (``PendingUpdates: N`` / ``SecurityUpdates: N``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# check -> (Linux step, Windows step, output name)
CHECK_STEPS = {
    "hostname": ("CheckHostname", "CheckHostnameWindows", "HostnameOutput"),
    "timezone": ("CheckTimezone", "CheckTimezoneWindows", "TimezoneOutput"),
    "locale": ("CheckLocale", "CheckLocaleWindows", "LocaleOutput"),
    "update": ("CheckUpdate", "CheckUpdateWindows", "UpdateOutput"),
    "ntp": ("CheckNTP", "CheckNTPWindows", "NTPOutput"),
}
# fact -> the check whose output tells it (Linux, Windows)
FACT_SOURCES = {
    "hostname": ("hostname", "hostname"),
    "timezone": ("timezone", "timezone"),
    "ntp_synchronized": ("timezone", "ntp"),
    "locale": ("locale", "locale"),
    "pending_updates": ("update", "update"),
    "security_updates": ("update", "update"),
    "ntp_source": ("ntp", "ntp"),
    "ntp_stratum": ("ntp", "ntp"),
    "ntp_offset_seconds": ("ntp", "ntp"),
}
FACTS = tuple(FACT_SOURCES)
OUTPUT_CAP = 2500  # a runCommand step's Output keeps the first 2,500 characters (CommandPlugin.Output)
SKIP_RE = re.compile(r"^Skipping \w+ check$", re.M)
NOISE_RE = re.compile(r"^(Active code page: \d+|\[exit code \d+ accepted: [^\]]*\])$")
HOSTNAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9-]{1,63})*$")


def _lines(text):
    """Non-empty lines without the runbook's own notes (chcp's code page line, the accepted exit code)."""
    out = []
    for line in (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        stripped = line.strip()
        if stripped and not NOISE_RE.match(stripped):
            out.append(line.rstrip())
    return out


def _yes_no(value):
    value = value.strip().lower()
    if value in ("yes", "true"):
        return True
    if value in ("no", "false"):
        return False
    return None


# ---------------------------------------------------------------------------------------------------------
# Parsers (text -> (facts, unknown))
# ---------------------------------------------------------------------------------------------------------


def parse_hostname(text):
    lines = [line.strip() for line in _lines(text)]
    if len(lines) == 1 and HOSTNAME_RE.match(lines[0]):
        return {"hostname": lines[0]}, {}
    if not lines:
        return {}, {"hostname": "the output is empty"}
    return {}, {"hostname": "not a single host name: %r" % _excerpt(text)}


def _field(lines, *labels):
    for line in lines:
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in labels:
            return value.strip()
    return None


def parse_timedatectl(text):
    lines = _lines(text)
    facts, unknown = {}, {}
    zone = _field(lines, "time zone")
    if zone is None:
        unknown["timezone"] = "no 'Time zone:' line in the timedatectl output"
    else:
        name, _sep, rest = zone.partition(" (")
        name = name.strip()
        if name.lower() == "n/a" and rest.strip() == "UTC, +0000)":
            facts["timezone"] = "UTC"  # unnamed, and the zone in effect is UTC+0000 (see the module docstring)
        elif not name or name.lower() == "n/a" or " " in name:
            unknown["timezone"] = "timedatectl shows no time zone name (%r)" % zone
        else:
            facts["timezone"] = name
    synced = _field(lines, "system clock synchronized", "ntp synchronized")
    if synced is None:
        unknown["ntp_synchronized"] = "no 'System clock synchronized:' (or 'NTP synchronized:') line in the output"
    elif _yes_no(synced) is None:
        unknown["ntp_synchronized"] = "timedatectl says %r, neither yes nor no" % synced
    else:
        facts["ntp_synchronized"] = _yes_no(synced)
    return facts, unknown


def parse_localectl(text):
    lines = _lines(text)
    value = _field(lines, "system locale")
    if value is None:
        return {}, {"locale": "no 'System Locale:' line in the localectl output"}
    variables = dict(part.split("=", 1) for part in value.split() if "=" in part)
    if variables.get("LANG"):
        return {"locale": variables["LANG"]}, {}
    return {}, {"locale": "localectl shows no LANG (%r)" % value}


YUM_ARCHES = ("x86_64", "noarch", "aarch64", "i686", "i386", "ppc64le", "s390x", "armv7hl", "src")
YUM_NAME_RE = re.compile(r"^(\S+)\.(%s)$" % "|".join(YUM_ARCHES))
# apt list: name/suite[,suite] version arch [status]; the status text is translated (po/*.po of apt)
APT_PACKAGE_RE = re.compile(r"^(\S+)/(\S+)\s+(\S+)\s+(\S+)\s+\[[^\]]+\]\s*$")
APT_HEADER_RE = re.compile(r"^[^/\[\]]+\.\.\.(\s.*)?$")  # "Listing..." (translated: apt's _("Listing") + "...")
WUA_RE = re.compile(r"^(PendingUpdates|SecurityUpdates):\s*(\d+)\s*$")
# Lines yum/dnf print around the list when nothing is pending (exit 0), as in the public outputs of the tests.
YUM_NOTES = (
    "last metadata expiration check",
    "loaded plugins",
    "loading mirror speeds",
    "updating subscription management",
    "updating and loading repositories",
    "repositories loaded",
    "this system is",
    "security:",
    "plugin ",
    "* ",
    ": ",
)


def parse_pending_updates(text, complete=True):
    """yum/dnf check-update, apt list --upgradable or the Windows Update Agent search; ``complete`` is False when
    the text may have been cut (a step Output at its 2,500-character cap), so that a count is only a lower bound."""
    lines = _lines(text)
    raw = (text or "").replace("\r\n", "\n")
    wua = {m.group(1): int(m.group(2)) for m in (WUA_RE.match(line.strip()) for line in lines) if m}
    if "PendingUpdates" in wua:
        facts = {"pending_updates": wua["PendingUpdates"]}
        unknown = {}
        if "SecurityUpdates" in wua:
            facts["security_updates"] = wua["SecurityUpdates"]
        else:
            unknown["security_updates"] = "no 'SecurityUpdates:' line in the Windows Update search output"
        return facts, unknown
    apt = [APT_PACKAGE_RE.match(line.strip()) for line in lines]
    if any(apt) or (lines and APT_HEADER_RE.match(lines[0].strip()) and not YUM_NAME_RE.match(lines[0].split()[0])):
        return _apt_counts(lines, apt, complete)
    accepted_100 = "[exit code 100 accepted" in raw
    packages, other, broken = _yum_packages(lines)
    if broken:
        return {}, _both("the yum/dnf package line of %r has no version and repository" % broken[0])
    if accepted_100 and not packages:
        return {}, _both("yum/dnf said updates are pending (exit code 100) but no package line could be read")
    if not accepted_100 and packages:
        return {}, _both("%d package lines but yum/dnf did not exit with 100 (updates pending)" % len(packages))
    if not accepted_100 and other:
        return {}, _both(
            "not the output of yum/dnf check-update, apt list --upgradable or a Windows Update search "
            "(line %r)" % _excerpt(other[0])
        )
    facts, unknown = _counted(len(packages), None, complete, "yum/dnf check-update")
    unknown.setdefault("security_updates", "yum/dnf check-update does not say which updates are security updates")
    return facts, unknown


def _apt_counts(lines, apt, complete):
    header = 1 if lines and not apt[0] and APT_HEADER_RE.match(lines[0].strip()) else 0
    other = [
        lines[i].strip()
        for i in range(header, len(lines))
        if not apt[i] and not lines[i].strip().startswith("N: ")  # apt's notices ("N: There is 1 additional...")
    ]
    if other:
        return {}, _both("line %r of apt list --upgradable is not a package line" % _excerpt(other[0]))
    matched = [m for m in apt if m]
    security = sum(1 for m in matched if any(s.endswith("-security") for s in m.group(2).split(",")))
    return _counted(len(matched), security, complete, "apt list --upgradable")


def _yum_packages(lines):
    """``(packages, other, broken)``: the distinct ``name.arch`` yum/dnf lists as pending (updates and obsoleting
    packages), the lines that are neither a package nor one of yum's notes (section headers such as ``Obsoleting
    Packages``, translated notes), and package lines cut short. A package line is ``name.arch version repo``; a long
    field pushes the rest onto the next line(s), indented. An indented package whose repository starts with ``@``
    is an installed package that an obsoleting one replaces: not pending itself."""
    packages, other, broken = [], [], []
    seen = set()
    pending = None  # [name.arch, indented, fields so far] of a package line wrapped onto the next line(s)
    for line in lines:
        tokens = line.split()
        indented = line[:1].isspace()
        if pending is not None:
            if indented and not YUM_NAME_RE.match(tokens[0]) and len(pending[2]) + len(tokens) <= 2:
                pending[2].extend(tokens)
                if len(pending[2]) == 2:
                    _add_yum(pending, packages, seen)
                    pending = None
                continue
            broken.append(pending[0])
            pending = None
        if YUM_NAME_RE.match(tokens[0]) and len(tokens) <= 3:
            entry = [tokens[0], indented, tokens[1:]]
            if len(tokens) == 3:
                _add_yum(entry, packages, seen)
            else:
                pending = entry
        elif not _is_note(line.strip()):
            other.append(line.strip())
    if pending is not None:
        broken.append(pending[0])
    return packages, other, broken


# the line dnf prints (on stdout, terminal or not) when a repository's metadata is downloaded, dnf/cli/progress.py
# MultiFileProgressMeter.end: "<repository name> <rate>B/s | <size>B <time>", e.g. "... 35 MB/s |  33 MB     00:00"
DNF_DOWNLOAD_RE = re.compile(r"\s[\d.-]+\s*[kMGTPEZY]?\s*B/s\s+\|\s+[\d.]+\s*[kMGTPEZY]?\s*B\s+[\d:]+\s*$")


def _is_note(line):
    return line.lower().startswith(YUM_NOTES) or bool(DNF_DOWNLOAD_RE.search(line))


def _add_yum(entry, packages, seen):
    name, indented, (_version, repo) = entry[0], entry[1], entry[2]
    if indented and repo.startswith("@"):
        return  # the installed package an obsoleting package replaces
    if name not in seen:
        seen.add(name)
        packages.append(name)


def _both(reason):
    return {"pending_updates": reason, "security_updates": reason}


def _counted(count, security, complete, tool):
    if not complete:
        reason = "the %s output was cut at %d characters: at least %d pending" % (tool, OUTPUT_CAP, count)
        return {"pending_updates_at_least": count}, {"pending_updates": reason, "security_updates": reason}
    facts = {"pending_updates": count}
    if security is not None:
        facts["security_updates"] = security
    return facts, {}


UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
CHRONY_SOURCE_RE = re.compile(
    r"^(?P<mode>[\^=#])(?P<state>[*+\-?x~])\s+(?P<name>\S+)\s+(?P<stratum>\d+)\s+(?P<poll>-?\d+)\s+"
    r"(?P<reach>[0-7]+)\s+(?P<lastrx>\S+)\s+(?P<offset>[+-]?\d+(?:\.\d+)?)(?P<unit>ns|us|ms|s)\["
)


def parse_chronyc_sources(text):
    sources = [m for m in (CHRONY_SOURCE_RE.match(line) for line in _lines(text)) if m]
    reason = None
    if not sources:
        reason = "no source line in the chronyc sources output"
    selected = [m for m in sources if m.group("state") == "*"]
    if sources and not selected:
        reason = "chronyc sources shows %d source(s) but none selected ('*')" % len(sources)
    if reason:
        return {}, {"ntp_source": reason, "ntp_stratum": reason, "ntp_offset_seconds": reason}
    best = selected[0]
    offset = float(best.group("offset")) * UNIT_SECONDS[best.group("unit")]
    return {
        "ntp_source": best.group("name"),
        "ntp_stratum": int(best.group("stratum")),
        "ntp_offset_seconds": round(offset, 12),
    }, {}


def parse_get_timezone(text):
    value = _field(_lines(text), "id")
    if value:
        return {"timezone": value}, {}
    return {}, {"timezone": "no 'Id :' line in the Get-TimeZone output"}


def parse_get_winsystemlocale(text):
    lines = [line.strip() for line in _lines(text)]
    for index, line in enumerate(lines):
        if line.split()[:2] == ["LCID", "Name"] and index + 2 < len(lines) and set(lines[index + 1]) <= set("- "):
            values = lines[index + 2].split()
            if len(values) >= 2 and values[0].isdigit():
                return {"locale": values[1]}, {}
    name = _field(lines, "name")
    if name:
        return {"locale": name}, {}
    return {}, {"locale": "no LCID/Name table in the Get-WinSystemLocale output"}


# w32tm prints its labels in the display language (Japanese labels as a Japanese Windows Server prints them).
W32TM_LABELS = {
    "leap": ("leap indicator", "閏インジケーター"),
    "stratum": ("stratum", "階層"),
    "source": ("source", "ソース"),
    "offset": ("phase offset", "フェーズ オフセット"),  # /verbose only
}
# The local clock, not a time source. "VM IC Time Synchronization Provider" (the Hyper-V host's time) is a source:
# Microsoft's own w32tm /query /status /verbose example shows it with Leap Indicator 0 and State Machine 2 (Sync).
UNSYNCHRONISED_SOURCES = ("local cmos clock", "free-running system clock")


def parse_w32tm_status(text):
    lines = _lines(text)
    fields = {}
    for line in lines:
        key, sep, value = line.partition(":")
        for name, labels in W32TM_LABELS.items():
            if sep and key.strip().lower() in labels:
                fields.setdefault(name, value.strip())
    facts, unknown = {}, {}
    if not fields:
        reason = "no Leap Indicator, Stratum or Source line in the w32tm /query /status output"
        return {}, dict.fromkeys(("ntp_synchronized", "ntp_source", "ntp_stratum", "ntp_offset_seconds"), reason)
    source = fields.get("source", "")
    source_name = source.split(",", 1)[0].strip()
    leap = re.match(r"^(\d)", fields.get("leap", ""))
    if source_name:
        facts["ntp_source"] = source_name
    else:
        unknown["ntp_source"] = "no Source line in the w32tm output"
    stratum = re.match(r"^(\d+)", fields.get("stratum", ""))
    if stratum:
        facts["ntp_stratum"] = int(stratum.group(1))
    else:
        unknown["ntp_stratum"] = "no Stratum line in the w32tm output"
    if leap and leap.group(1) == "3":
        facts["ntp_synchronized"] = False  # leap indicator 3: not synchronised (RFC 1305 sys.leap)
    elif source_name.lower() in UNSYNCHRONISED_SOURCES:
        facts["ntp_synchronized"] = False
    elif leap and stratum and int(stratum.group(1)) > 0 and source_name:
        facts["ntp_synchronized"] = True
    else:
        unknown["ntp_synchronized"] = "w32tm shows no leap indicator, stratum and source to judge from"
    offset = re.match(r"^([+-]?\d+(?:\.\d+)?)s$", fields.get("offset", ""))
    if offset:
        facts["ntp_offset_seconds"] = float(offset.group(1))
    else:
        unknown["ntp_offset_seconds"] = "w32tm /query /status shows the offset (Phase Offset) only with /verbose"
    return facts, unknown


PARSERS = {
    ("hostname", "Linux"): parse_hostname,
    ("hostname", "Windows"): parse_hostname,
    ("timezone", "Linux"): parse_timedatectl,
    ("timezone", "Windows"): parse_get_timezone,
    ("locale", "Linux"): parse_localectl,
    ("locale", "Windows"): parse_get_winsystemlocale,
    ("update", "Linux"): parse_pending_updates,
    ("update", "Windows"): parse_pending_updates,
    ("ntp", "Linux"): parse_chronyc_sources,
    ("ntp", "Windows"): parse_w32tm_status,
}


def _excerpt(text, limit=120):
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# ---------------------------------------------------------------------------------------------------------
# One harvested instance
# ---------------------------------------------------------------------------------------------------------


def _step_output(step, output_name):
    """(text, complete): the full stdout when harvested, else the step's Output (cut at 2,500 characters)."""
    if step.get("stdout"):
        return step["stdout"], True
    outputs = step.get("outputs") or {}
    for key in (output_name, "%s.%s" % (step.get("step_name"), output_name), "Output"):
        if key in outputs:
            value = outputs[key]
            if isinstance(value, list):
                value = value[0] if value else ""
            text = "" if value is None else str(value)
            return text, len(text) < OUTPUT_CAP
    return None, True


def ran_step(instance, check):
    """The step of ``check`` that ran on this instance, and its platform; (None, None) when neither did."""
    linux, windows, _unused = CHECK_STEPS[check]
    by_name = {s.get("step_name"): s for s in instance.get("steps") or []}
    candidates = [(by_name.get(linux), "Linux"), (by_name.get(windows), "Windows")]
    for step, platform in candidates:
        if step and step.get("status") not in (None, "Pending", "Skipped"):
            return step, platform
    return None, None


def check_facts(instance, check):
    """Facts of one check on one instance: (facts, unknown) for the facts that check tells."""
    step, platform = ran_step(instance, check)
    names = [f for f, sources in FACT_SOURCES.items() if check in sources]
    if step is None:
        linux, windows, _unused = CHECK_STEPS[check]
        why = instance.get("failure_message") or instance.get("status") or "not run"
        reason = "neither %s nor %s ran on this instance (%s)" % (linux, windows, _excerpt(why))
        return {}, dict.fromkeys(names, reason), None
    if step.get("status") != "Success":
        reason = "%s %s: %s" % (step.get("step_name"), step.get("status"), _excerpt(step.get("failure_message") or ""))
        return {}, {f: reason.rstrip(": ") for f in names}, platform
    text, complete = _step_output(step, CHECK_STEPS[check][2])
    if text is None:
        reason = "%s has no output (harvest without outputs?)" % step.get("step_name")
        return {}, dict.fromkeys(names, reason), platform
    if SKIP_RE.search(text):
        reason = "%s was skipped (the runbook's %s parameter is skip)" % (
            step.get("step_name"),
            CHECK_STEPS[check][0],
        )
        return {}, dict.fromkeys(names, reason), platform
    parser = PARSERS[(check, platform)]
    if check == "update":
        facts, unknown = parser(text, complete=complete)
    else:
        facts, unknown = parser(text)
    return facts, unknown, platform


def instance_facts(instance):
    """``{"platform", <fact>: value..., "unknown": {fact: reason}}`` of one harvested instance."""
    facts = {}
    unknown = {}
    platforms = set()
    for check in CHECK_STEPS:
        got, missing, platform = check_facts(instance, check)
        if platform:
            platforms.add(platform)
        wanted = [f for f, sources in FACT_SOURCES.items() if sources[1 if platform == "Windows" else 0] == check]
        if platform is None:
            wanted = [f for f, sources in FACT_SOURCES.items() if check in sources]
        for name, value in got.items():
            if name in wanted or name not in FACT_SOURCES:
                facts[name] = value
        for name, reason in missing.items():
            if name in wanted and name not in facts:
                unknown.setdefault(name, reason)
    for name in FACTS:
        if name in facts:
            unknown.pop(name, None)
    result = dict(facts)
    result["platform"] = platforms.pop() if len(platforms) == 1 else None
    result["unknown"] = {name: unknown[name] for name in FACTS if name in unknown and name not in facts}
    return result
