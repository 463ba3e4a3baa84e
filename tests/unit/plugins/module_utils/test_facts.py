"""facts.py: the parsers on real command outputs (each test names its source) and on every sandbox OS profile."""

import time
from pathlib import Path

import pytest
import yaml

from ansible_collections.orgops.ssm_automation.plugins.module_utils import facts as F
from sandbox.engine import profiles

# --- timedatectl ---------------------------------------------------------------------------------------------

# man timedatectl(1), systemd 239+, EXAMPLES "Show current settings".
TIMEDATECTL_MAN = """\
               Local time: Thu 2017-09-21 16:08:56 CEST
           Universal time: Thu 2017-09-21 14:08:56 UTC
                 RTC time: Thu 2017-09-21 14:08:56
                Time zone: Europe/Warsaw (CEST, +0200)
System clock synchronized: yes
              NTP service: active
          RTC in local TZ: no
"""
# man timedatectl(1) as shipped with systemd 219-236 (e.g. the zh_TW translation on man.archlinux.org), EXAMPLES.
TIMEDATECTL_MAN_OLD = """\
      Local time: Di 2015-04-07 16:26:56 CEST
  Universal time: Di 2015-04-07 14:26:56 UTC
        RTC time: Di 2015-04-07 14:26:56
       Time zone: Europe/Berlin (CEST, +0200)
 Network time on: yes
NTP synchronized: yes
 RTC in local TZ: no
"""
# A host without /etc/localtime that lost NTP, as posted with chronyc sources -v in a public report (gist
# ZubairLK/d2a5a38e5dcdca5a65dc74882af2d86c, "caught chrony loosing time sync").
TIMEDATECTL_NA = """\
                      Local time: Mon 2018-11-19 18:16:30 UTC
                  Universal time: Mon 2018-11-19 18:16:30 UTC
                        RTC time: Mon 2018-11-19 18:16:30
                       Time zone: n/a (UTC, +0000)
       System clock synchronized: no
systemd-timesyncd.service active: n/a
                 RTC in local TZ: no
"""


def test_timedatectl_man_page_example():
    assert F.parse_timedatectl(TIMEDATECTL_MAN) == ({"timezone": "Europe/Warsaw", "ntp_synchronized": True}, {})


def test_timedatectl_older_systemd_labels():
    assert F.parse_timedatectl(TIMEDATECTL_MAN_OLD) == ({"timezone": "Europe/Berlin", "ntp_synchronized": True}, {})


def test_timedatectl_without_a_zone_name_is_unknown_not_utc():
    facts, unknown = F.parse_timedatectl(TIMEDATECTL_NA)
    assert facts == {"ntp_synchronized": False}
    assert "n/a" in unknown["timezone"]


@pytest.mark.parametrize("text", ["", "timedatectl: command not found", "Failed to create bus connection"])
def test_timedatectl_unreadable_gives_reasons(text):
    facts, unknown = F.parse_timedatectl(text)
    assert facts == {}
    assert set(unknown) == {"timezone", "ntp_synchronized"}


# --- localectl -----------------------------------------------------------------------------------------------

# Red Hat Enterprise Linux 7 System Administrator's Guide, 2.1.1 "Displaying the Current Status".
LOCALECTL_RHEL = "   System Locale: LANG=en_US.UTF-8\n       VC Keymap: us\n      X11 Layout: n/a\n"
# Several variables: localectl prints the further ones indented under LANG (systemd's test-localed, localectl(1)).
LOCALECTL_MULTI = (
    " System Locale: LANG=en_GB.utf8\n                LC_COLLATE=C\n     VC Keymap: cz-qwertz\n    X11 Layout: cz\n"
)


def test_localectl_red_hat_example():
    assert F.parse_localectl(LOCALECTL_RHEL) == ({"locale": "en_US.UTF-8"}, {})


def test_localectl_lang_among_several_variables():
    assert F.parse_localectl(LOCALECTL_MULTI) == ({"locale": "en_GB.utf8"}, {})


def test_localectl_without_lang_is_unknown():
    facts, unknown = F.parse_localectl("   System Locale: LC_CTYPE=C.UTF-8\n")
    assert facts == {} and "LANG" in unknown["locale"]
    assert "System Locale" in F.parse_localectl("Could not get properties: Connection timed out")[1]["locale"]


# --- pending updates -----------------------------------------------------------------------------------------

# dnf check-update on RHEL 8 with pending updates (Red Hat Customer Portal discussion 4800351 shows the header line);
# the package lines are in yum's columns, a long name on a line of its own followed by its version and repository.
YUM_UPDATES = """\
Last metadata expiration check: 0:14:42 ago on Fri 07 Feb 2020 09:29:06 AM EST.

kernel.x86_64                       4.18.0-147.5.1.el8_1                   rhel-8-for-x86_64-baseos-rpms
python3-libselinux.x86_64           2.9-3.el8                              rhel-8-for-x86_64-baseos-rpms
NetworkManager-config-server.noarch
                                    1:1.20.0-5.el8_1                       rhel-8-for-x86_64-baseos-rpms
Obsoleting Packages
grub2-tools.x86_64                  1:2.02-81.el8                          rhel-8-for-x86_64-baseos-rpms
    grub2-tools.x86_64              1:2.02-78.el8                          @anaconda
[exit code 100 accepted: ok_exit_codes 0 100]
"""
# yum --bugfix check-update with nothing pending (same Red Hat discussion): exit 0, only the metadata line.
YUM_NONE = "Last metadata expiration check: 0:14:48 ago on Fri 07 Feb 2020 09:29:06 AM EST.\n"
# apt list --upgradable (Ubuntu 22.04, qemu-guest-agent line as printed in apt list -a on a public wiki; security from
# the -security suite).
APT = """\
Listing...
qemu-guest-agent/jammy-updates 1:6.2+dfsg-2ubuntu6.5 amd64 [upgradable from: 1:6.2+dfsg-2ubuntu6.4]
openssl/jammy-updates,jammy-security 3.0.2-0ubuntu1.18 amd64 [upgradable from: 3.0.2-0ubuntu1.17]
"""


def test_yum_counts_packages_once_and_not_obsoletes():
    facts, unknown = F.parse_pending_updates(YUM_UPDATES)
    assert facts == {"pending_updates": 3}
    assert "security" in unknown["security_updates"]


def test_yum_nothing_pending():
    facts, _reason = F.parse_pending_updates(YUM_NONE)
    assert facts == {"pending_updates": 0}


def test_apt_counts_and_security():
    assert F.parse_pending_updates(APT) == ({"pending_updates": 2, "security_updates": 1}, {})
    assert F.parse_pending_updates("Listing...\n") == ({"pending_updates": 0, "security_updates": 0}, {})


def test_windows_update_agent_search():
    text = (
        "Active code page: 65001\r\nPendingUpdates: 2\r\nSecurityUpdates: 1\r\nKB5044023 2024-10 Cumulative Update\r\n"
    )
    assert F.parse_pending_updates(text) == ({"pending_updates": 2, "security_updates": 1}, {})


def test_cut_output_gives_only_a_lower_bound():
    facts, unknown = F.parse_pending_updates(YUM_UPDATES, complete=False)
    assert facts == {"pending_updates_at_least": 3}
    assert "at least 3" in unknown["pending_updates"]


@pytest.mark.parametrize(
    "text",
    [
        "[exit code 100 accepted: ok_exit_codes 0 100]\n",  # exit 100 but no package line read
        "Error: Failed to download metadata for repo 'appstream'\n",
        "kernel.x86_64  4.18.0  baseos\n",  # a package line without yum's exit 100
        "Listing...\nE: Could not open lock file\n",
    ],
)
def test_unreadable_update_outputs(text):
    facts, unknown = F.parse_pending_updates(text)
    assert "pending_updates" not in facts
    assert unknown["pending_updates"]


# --- chronyc sources -----------------------------------------------------------------------------------------

# chronyc(1) (chrony's doc/chronyc.adoc), "sources": the example table.
CHRONYC_MAN = """\
MS Name/IP address         Stratum Poll Reach LastRx Last sample
===============================================================================
#* GPS0                          0   4   377    11   -479ns[ -621ns] +/-  134ns
^? ntp1.example.net              2   6   377    23   -923us[ -924us] +/-   43ms
^+ ntp2.example.net              1   6   377    21  -2629us[-2619us] +/-   86ms
"""
# A public report of chronyc sources -v (pastebin xts0wMuD): the 210 header of chrony 3 and the legend.
CHRONYC_V = """\
210 Number of sources = 4
  .-- Source mode  '^' = server, '=' = peer, '#' = local clock.
 / .- Source state '*' = current synced, '+' = combined , '-' = not combined,
| /   '?' = unreachable, 'x' = time may be in error, '~' = time too variable.
||                                                 .- xxxx [ yyyy ] +/- zzzz
||      Reachability register (octal) -.           |  xxxx = adjusted offset,
||      Log2(Polling interval) --.      |          |  yyyy = measured offset,
||                                \\     |          |  zzzz = estimated error.
||                                 |    |           \\
MS Name/IP address         Stratum Poll Reach LastRx Last sample
===============================================================================
^+ lax1.m-d.net                  2  10   377   308  -4660us[-5078us] +/-  101ms
^* vps6.ctyme.com                2   9   377   212  +1086us[ +661us] +/-   72ms
^+ paladin.latt.net              2   8   377   248  -6301us[-6723us] +/-   75ms
^? time.no-such-agency.net       0   6     0     -     +0ns[   +0ns] +/-    0ns
"""


def test_chronyc_man_page_selected_source_stratum_offset():
    facts, unknown = F.parse_chronyc_sources(CHRONYC_MAN)
    assert unknown == {}
    assert facts["ntp_source"] == "GPS0" and facts["ntp_stratum"] == 0
    assert facts["ntp_offset_seconds"] == pytest.approx(-479e-9)


def test_chronyc_verbose_legend_is_ignored():
    facts, _reason = F.parse_chronyc_sources(CHRONYC_V)
    assert facts == {"ntp_source": "vps6.ctyme.com", "ntp_stratum": 2, "ntp_offset_seconds": pytest.approx(1086e-6)}


def test_chronyc_without_selected_source_is_unknown():
    text = CHRONYC_MAN.replace("#*", "#?")
    facts, unknown = F.parse_chronyc_sources(text)
    assert facts == {} and "none selected" in unknown["ntp_source"]
    assert "no source line" in F.parse_chronyc_sources("506 Cannot talk to daemon\n")[1]["ntp_stratum"]


# --- Windows -------------------------------------------------------------------------------------------------

# Get-TimeZone on a Japanese Windows (public gist guitarrapc/8ac01f75567d625cd1135003040cab07).
GET_TIMEZONE = """\

Id                         : Tokyo Standard Time
DisplayName                : (UTC+09:00) Osaka, Sapporo, Tokyo
StandardName               : Tokyo Standard Time
DaylightName               : Tokyo Summer Time
BaseUtcOffset              : 09:00:00
SupportsDaylightSavingTime : False
"""
# Microsoft Learn, Get-WinSystemLocale, Example 1.
GET_WINSYSTEMLOCALE = """\
LCID             Name             DisplayName
----             ----             -----------
1033             en-US            English (United States)
"""
# w32tm /query /status as decoded field by field on check-ntp.net's Windows Time troubleshooting page (English labels).
W32TM = """\
Leap Indicator: 0(no warning)
Stratum: 4 (secondary reference - syncd by (S)NTP)
Precision: -23 (119.209ns per tick)
Root Delay: 0.0312500s
Root Dispersion: 7.7902343s
ReferenceId: 0xC0A80001 (source IP:  192.168.0.1)
Last Successful Sync Time: 6/19/2026 9:14:02 AM
Source: dc01.corp.example.com
Poll Interval: 10 (1024s)
"""


def test_get_timezone_id():
    assert F.parse_get_timezone(GET_TIMEZONE) == ({"timezone": "Tokyo Standard Time"}, {})
    assert "Id" in F.parse_get_timezone("Get-TimeZone : The term is not recognized")[1]["timezone"]


def test_get_winsystemlocale_microsoft_example():
    assert F.parse_get_winsystemlocale(GET_WINSYSTEMLOCALE) == ({"locale": "en-US"}, {})
    assert F.parse_get_winsystemlocale("nothing here")[0] == {}


def test_w32tm_status_english():
    facts, unknown = F.parse_w32tm_status(W32TM)
    assert facts == {"ntp_source": "dc01.corp.example.com", "ntp_stratum": 4, "ntp_synchronized": True}
    assert "offset" in unknown["ntp_offset_seconds"]


def test_w32tm_unsynchronised():
    # Leap indicator 3 is "not synchronized" (RFC 1305 sys.leap, which W32TimeQueryStatus returns: MS-W32T 3.2.5.7);
    # a free-running clock has no NTP source.
    facts, _reason = F.parse_w32tm_status(W32TM.replace("0(no warning)", "3(not synchronized)"))
    assert facts["ntp_synchronized"] is False
    facts, _reason = F.parse_w32tm_status(W32TM.replace("dc01.corp.example.com", "Local CMOS Clock"))
    assert facts["ntp_synchronized"] is False


def test_hostname():
    assert F.parse_hostname("ip-10-0-1-5.ap-northeast-1.compute.internal\n") == (
        {"hostname": "ip-10-0-1-5.ap-northeast-1.compute.internal"},
        {},
    )
    assert F.parse_hostname("Active code page: 65001\r\nEC2AMAZ-ABC1234\r\n")[0] == {"hostname": "EC2AMAZ-ABC1234"}
    assert F.parse_hostname("")[1]["hostname"] == "the output is empty"
    assert "single host name" in F.parse_hostname("bash: hostname: command not found\n")[1]["hostname"]


# --- every sandbox OS profile: the command lines the improved runbook runs ----------------------------------

COMMANDS = {
    "Linux": {
        "hostname": "hostname",
        "timezone": "timedatectl status",
        "locale": "localectl status",
        "ntp": "chronyc sources",
    },
    "Windows": {
        "hostname": "hostname",
        "timezone": "Get-TimeZone",
        "locale": "Get-WinSystemLocale",
        "ntp": "w32tm /query /status",
    },
}


CHECKS = Path(__file__).resolve().parents[4] / "roles/check_os/files/check-os-improved.checks.yml"


def _windows_update_command():
    checks = yaml.safe_load(CHECKS.read_text(encoding="utf-8"))["checks"]
    return next(c["windows"] for c in checks if c["name"] == "Update")


COMMANDS["Windows"]["update"] = _windows_update_command()


def _run(profile, command, utf8=True):
    spec = profile.find(command)
    assert spec is not None, "%s does not answer %r" % (profile.name, command)
    facts = profiles.Facts(
        "i-0123456789abcdef0", "111111111111", "ap-northeast-1", "web", profile.platform, time.time()
    )
    facts.utf8 = utf8
    out, _err, code, _delay = profiles.run_spec(spec, facts, profile)
    return out, code


@pytest.mark.parametrize("name", sorted(n for n, p in profiles.BUILTIN.items() if not p.local))
def test_every_sandbox_profile_parses(name):
    profile = profiles.BUILTIN[name]
    for check, command in COMMANDS[profile.platform].items():
        out, _err = _run(profile, command)
        got, unknown = F.PARSERS[(check, profile.platform)](out)
        expected_facts = {
            f for f, src in F.FACT_SOURCES.items() if src[1 if profile.platform == "Windows" else 0] == check
        }
        if profile.platform == "Windows" and check == "ntp":
            expected_facts.discard("ntp_offset_seconds")  # w32tm /query /status does not show it
        assert expected_facts <= set(got), (name, check, out, unknown)


def test_sandbox_profiles_values():
    al = profiles.BUILTIN["amazon-linux-2023"]
    assert F.parse_timedatectl(_run(al, "timedatectl status")[0])[0] == {"timezone": "UTC", "ntp_synchronized": True}
    assert F.parse_localectl(_run(al, "localectl status")[0])[0] == {"locale": "C.UTF-8"}
    ntp = F.parse_chronyc_sources(_run(al, "chronyc sources")[0])[0]
    assert ntp == {"ntp_source": "169.254.169.123", "ntp_stratum": 3, "ntp_offset_seconds": pytest.approx(-12e-6)}
    ubuntu = profiles.BUILTIN["ubuntu-22.04"]
    assert F.parse_timedatectl(_run(ubuntu, "timedatectl status")[0])[0]["timezone"] == "Etc/UTC"
    win = profiles.BUILTIN["windows-server-2022"]
    assert F.parse_get_winsystemlocale(_run(win, "Get-WinSystemLocale")[0])[0] == {"locale": "ja-JP"}
    # Japanese labels, and the same facts when the console was not switched to UTF-8 (labels garbled: unknown)
    assert F.parse_w32tm_status(_run(win, "w32tm /query /status")[0])[0]["ntp_source"] == "169.254.169.123"
    garbled, unknown = F.parse_w32tm_status(_run(win, "w32tm /query /status", utf8=False)[0])
    assert "ntp_source" not in garbled and unknown["ntp_source"]


def _yum_output(profile_name):
    profile = profiles.BUILTIN[profile_name]
    out, code = _run(profile, "yum check-update")
    if code == 100:
        out += "[exit code 100 accepted: ok_exit_codes 0 100]\n"
    return F.parse_pending_updates(out)[0]


def test_sandbox_update_profiles():
    assert _yum_output("amazon-linux-2023") == {"pending_updates": 0}
    assert _yum_output("amazon-linux-2023-updates") == {"pending_updates": 13}
    assert _yum_output("rhel-9") == {"pending_updates": 0}
    ubuntu = profiles.BUILTIN["ubuntu-22.04"]
    out, _err = _run(ubuntu, "apt -o APT::Cmd::Disable-Script-Warning=true list --upgradable")
    assert F.parse_pending_updates(out)[0] == {"pending_updates": 6, "security_updates": 6}


# --- one harvested instance ----------------------------------------------------------------------------------


def _step(name, status="Success", output=None, **extra):
    step = {"step_name": name, "status": status, "outputs": {}}
    if output is not None:
        step["outputs"] = {"Output": [output]}
    step.update(extra)
    return step


def test_instance_facts_linux_and_reasons():
    inst = {
        "instance_id": "i-1",
        "status": "Success",
        "steps": [
            _step("CheckHostname", output="web-1\n"),
            _step("CheckTimezone", output=TIMEDATECTL_MAN),
            _step("CheckLocale", output="Skipping locale check\n"),
            _step("CheckUpdate", "Failed", failure_message="apt failed with exit code 100"),
            _step("CheckNTP", output=CHRONYC_MAN),
            _step("CheckTimezoneWindows", "Pending"),
        ],
    }
    got = F.instance_facts(inst)
    assert got["platform"] == "Linux"
    assert got["hostname"] == "web-1" and got["timezone"] == "Europe/Warsaw" and got["ntp_synchronized"] is True
    assert got["ntp_source"] == "GPS0"
    assert "skipped" in got["unknown"]["locale"]
    assert "CheckUpdate Failed" in got["unknown"]["pending_updates"]
    assert "locale" not in got


def test_instance_not_reached_is_unknown_everywhere():
    inst = {"instance_id": "i-2", "status": "Failed", "failure_message": "PingStatus is ConnectionLost", "steps": []}
    got = F.instance_facts(inst)
    assert set(got["unknown"]) == set(F.FACTS)
    assert "ConnectionLost" in got["unknown"]["timezone"]


def test_full_stdout_wins_over_the_cut_output():
    long = "x" * 2600
    inst = {"steps": [_step("CheckUpdate", output=long[:2500], stdout=YUM_UPDATES)]}
    assert F.instance_facts(inst)["pending_updates"] == 3
