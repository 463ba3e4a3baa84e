"""facts.py: the parsers on real command outputs (each test names its source) and on every sandbox OS profile."""

import re
import time
from pathlib import Path

import pytest
import yaml

from ansible_collections.orgops.ssm_automation.plugins.module_utils import facts as F
from sandbox.engine import profiles
from sandbox.world import DEMO_WORLD

# Every sample below is a verbatim public output (man page, vendor documentation, a project's test fixture of a
# captured output, or a public post of one), named with its repository + path + commit or its URL. The runbook's
# own line "[exit code 100 accepted: ok_exit_codes 0 100]" (plugins/module_utils/_runbook/render.py) is appended
# where the command exited 100; nothing else is added or changed.

# --- timedatectl ---------------------------------------------------------------------------------------------

# systemd/systemd man/timedatectl.xml @ 0307f79171ed47b120afcd432d1f463904ae515a, Examples, "Show current settings".
TIMEDATECTL_MAN = """\
               Local time: Thu 2017-09-21 16:08:56 CEST
           Universal time: Thu 2017-09-21 14:08:56 UTC
                 RTC time: Thu 2017-09-21 14:08:56
                Time zone: Europe/Warsaw (CEST, +0200)
System clock synchronized: yes
              NTP service: active
          RTC in local TZ: no
"""
# RedHatInsights/insights-core insights/parsers/timedatectl.py @ 8ad51c8cb791a31e394dee9f6b445b4e158bbf0a, "Sample
# content from command /usr/bin/timedatectl" (RHEL 7, systemd 219: "NTP synchronized", DST lines, the RTC warning).
TIMEDATECTL_RHEL7 = """\
          Local time: Tue 2019-12-03 20:28:52 EST
      Universal time: Wed 2019-12-04 01:28:52 UTC
            RTC time: Tue 2019-12-03 20:28:52
           Time zone: America/New_York (EST, -0500)
         NTP enabled: yes
    NTP synchronized: yes
     RTC in local TZ: yes
          DST active: no
     Last DST change: DST ended at
                      Sun 2019-11-03 01:59:59 EDT
                      Sun 2019-11-03 01:00:00 EST
     Next DST change: DST begins (the clock jumps one hour forward) at
                      Sun 2020-03-08 01:59:59 EST
                      Sun 2020-03-08 03:00:00 EDT

Warning: The system is configured to read the RTC time in the local time zone.
         This mode can not be fully supported. It will create various problems
         with time zone changes and daylight saving time adjustments. The RTC
         time is never updated, it relies on external facilities to maintain it.
         If at all possible, use RTC in UTC by calling
"""
# Amazon Linux 2022 (AL2023's preview) as posted in https://github.com/amazonlinux/amazon-linux-2023/issues/52
# (elsaco, 2021-12-04): /etc/localtime is a plain file, not a symlink (issue #526 reports the same on the AL2023 AMI
# al2023-ami-2023.2.20231016.0), so timedatectl cannot name the zone and prints "n/a" with the zone in effect.
TIMEDATECTL_AL2023 = """\
               Local time: Sat 2021-12-04 15:29:34 UTC
           Universal time: Sat 2021-12-04 15:29:34 UTC
                 RTC time: Sat 2021-12-04 15:29:35
                Time zone: n/a (UTC, +0000)
System clock synchronized: yes
              NTP service: active
          RTC in local TZ: no
"""


def test_timedatectl_man_page_example():
    assert F.parse_timedatectl(TIMEDATECTL_MAN) == ({"timezone": "Europe/Warsaw", "ntp_synchronized": True}, {})


def test_timedatectl_rhel7_labels_dst_lines_and_warning():
    assert F.parse_timedatectl(TIMEDATECTL_RHEL7) == (
        {"timezone": "America/New_York", "ntp_synchronized": True},
        {},
    )


def test_timedatectl_unnamed_utc_is_utc():
    # timedatectl prints "n/a" when it cannot name the zone (no /etc/localtime, or not a symlink) and, in
    # parentheses, the zone in effect: UTC, +0000 (localtime(5): "If /etc/localtime is missing, the default "UTC"
    # timezone is used").
    assert F.parse_timedatectl(TIMEDATECTL_AL2023) == ({"timezone": "UTC", "ntp_synchronized": True}, {})


def test_timedatectl_na_with_another_zone_in_effect_is_unknown():
    # Not a public output (none found): the same AL2023 output with a non-UTC zone in the parentheses, which
    # localtime(5) does not explain; the parser must not pick a name.
    facts, unknown = F.parse_timedatectl(TIMEDATECTL_AL2023.replace("(UTC, +0000)", "(JST, +0900)"))
    assert facts == {"ntp_synchronized": True}
    assert "n/a" in unknown["timezone"]


@pytest.mark.parametrize("text", ["", "timedatectl: command not found", "Failed to create bus connection"])
def test_timedatectl_unreadable_gives_reasons(text):
    facts, unknown = F.parse_timedatectl(text)
    assert facts == {}
    assert set(unknown) == {"timezone", "ntp_synchronized"}


# --- localectl -----------------------------------------------------------------------------------------------
# systemd's man page localectl(1) (systemd/systemd man/localectl.xml @ 018333725f9d8565a47abc54b7a6e301e8492f39) has
# no example output; these are the public ones found.

# RedHatInsights/insights-core insights/parsers/localectl.py @ 4d42f0e988fc261a94c94278a42cd7bb02c272c9, "Example
# output" of `localectl status`.
LOCALECTL_INSIGHTS = """\
       System Locale: LANG=en_US.UTF-8
           VC Keymap: us
          X11 Layout: us
"""
# Amazon Linux 2023, posted in a public notes repository found by the code search (a Markdown file starting "#
# AmazonLinux2023検証 初期設定", section "3. OS言語設定"): newer systemd's "(unset)".
LOCALECTL_AL2023 = """\
System Locale: LANG=C.UTF-8
    VC Keymap: (unset)
   X11 Layout: (unset)
"""
# Several variables: ArchWiki's Linux console/Keyboard configuration, as quoted in a public notes repository found by
# the code search ("localectl status" under "3- Keyboard Configuration"): the further variables are indented.
LOCALECTL_MULTI = """\
 System Locale: LANG=en_GB.utf8
                LC_COLLATE=C
     VC Keymap: cz-qwertz
    X11 Layout: cz
"""


def test_localectl_insights_example():
    assert F.parse_localectl(LOCALECTL_INSIGHTS) == ({"locale": "en_US.UTF-8"}, {})


def test_localectl_amazon_linux_2023():
    assert F.parse_localectl(LOCALECTL_AL2023) == ({"locale": "C.UTF-8"}, {})


def test_localectl_lang_among_several_variables():
    assert F.parse_localectl(LOCALECTL_MULTI) == ({"locale": "en_GB.utf8"}, {})


def test_localectl_without_lang_is_unknown():
    facts, unknown = F.parse_localectl("   System Locale: LC_CTYPE=C.UTF-8\n")
    assert facts == {} and "LANG" in unknown["locale"]
    assert "System Locale" in F.parse_localectl("Could not get properties: Connection timed out")[1]["locale"]


# --- pending updates: yum / dnf check-update -----------------------------------------------------------------
# ansible/ansible test/units/modules/test_yum.py @ 12ccf357c2f2ffb1f3dc2340c13d30670249880b keeps outputs users
# posted in ansible's issues (the comment above each names the issue comment).
EXIT_100 = "[exit code 100 accepted: ok_exit_codes 0 100]\n"

# "from https://github.com/ansible/ansible/issues/20608#issuecomment-276971275" (wrapped_output_2): a long name and a
# long version each push the rest of the package line onto the next line; a Russian yum.
YUM_WRAPPED_2 = """
Загружены модули: fastestmirror
Loading mirror speeds from cached hostfile
 * base: mirror.corbina.net
 * extras: mirror.corbina.net
 * updates: mirror.corbina.net

empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty-empty.x86_64
                                    0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1-0
                                                                         addons
libtiff.x86_64                      4.0.3-27.el7_3                       updates
"""
# "from https://github.com/ansible/ansible-modules-core/issues/4318#issuecomment-251416661" (wrapped_output_4): a long
# version pushes the repository onto the next line.
YUM_WRAPPED_4 = """
ipxe-roms-qemu.noarch                 20160127-1.git6366fa7a.el7
                                                            rhelosp-9.0-director-puddle
quota.x86_64                          1:4.01-11.el7_2.1     rhelosp-rhel-7.2-z
quota-nls.noarch                      1:4.01-11.el7_2.1     rhelosp-rhel-7.2-z
rdma.noarch                           7.2_4.1_rc6-2.el7     rhelosp-rhel-7.2-z
screen.x86_64                         4.1.0-0.23.20120314git3c2946.el7_2
                                                            rhelosp-rhel-7.2-z
sos.noarch                            3.2-36.el7ost.2       rhelosp-9.0-puddle
sssd-client.x86_64                    1.13.0-40.el7_2.12    rhelosp-rhel-7.2-z
"""
# unwrapped_output_rhel7 + wrapped_output_rhel7_obsoletes_postfix: RHEL 7 with a wrapped "Loaded plugins" note, then
# "Obsoleting Packages" (each obsoleting package, then the installed one it replaces, indented, from "@repo").
YUM_RHEL7 = """

Loaded plugins: etckeeper, product-id, search-disabled-repos, subscription-
              : manager
This system is not registered to Red Hat Subscription Management. You can use subscription-manager to register.

NetworkManager-openvpn.x86_64         1:1.2.6-1.el7           epel
NetworkManager-openvpn-gnome.x86_64   1:1.2.6-1.el7           epel
cabal-install.x86_64                  1.16.1.0-2.el7          epel
cgit.x86_64                           1.1-1.el7               epel
python34-libs.x86_64                  3.4.5-3.el7             epel
python34-test.x86_64                  3.4.5-3.el7             epel
python34-tkinter.x86_64               3.4.5-3.el7             epel
python34-tools.x86_64                 3.4.5-3.el7             epel
qgit.x86_64                           2.6-4.el7               epel
rdiff-backup.x86_64                   1.2.8-12.el7            epel
stoken-libs.x86_64                    0.91-1.el7              epel
xlockmore.x86_64                      5.49-2.el7              epel
"""
YUM_RHEL7_OBSOLETES = """
Obsoleting Packages
ddashboard.x86_64                     0.2.0.1-1.el7_3         mhlavink-developerdashboard
    developerdashboard.x86_64         0.1.12.2-1.el7_2        @mhlavink-developerdashboard
python-bugzilla.noarch                1.2.2-3.el7_2.1         mhlavink-developerdashboard
    python-bugzilla-develdashboardfixes.noarch
                                      1.2.2-3.el7             @mhlavink-developerdashboard
python2-futures.noarch                3.0.5-1.el7             epel
    python-futures.noarch             3.0.3-1.el7             @epel
python2-pip.noarch                    8.1.2-5.el7             epel
    python-pip.noarch                 7.1.0-1.el7             @epel
python2-pyxdg.noarch                  0.25-6.el7              epel
    pyxdg.noarch                      0.25-5.el7              @epel
python2-simplejson.x86_64             3.10.0-1.el7            epel
    python-simplejson.x86_64          3.3.3-1.el7             @epel
Security: kernel-3.10.0-327.28.2.el7.x86_64 is an installed security update
Security: kernel-3.10.0-327.22.2.el7.x86_64 is the currently running version
"""
# longname: a long name alone on its line, its version and repository on the next; RHN notes.
YUM_LONGNAME = """
Loaded plugins: fastestmirror, priorities, rhnplugin
This system is receiving updates from RHN Classic or Red Hat Satellite.
Loading mirror speeds from cached hostfile

xxxxxxxxxxxxxxxxxxxxxxxxxx.noarch
                        1.16-1            xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
glibc.x86_64            2.17-157.el7_3.1  xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"""
# rpm-software-management/dnf doc/user_faq.rst @ a61263c531a3c11167d97b521db9e6e2ee1d62d9, "Why are dnf check-update
# packages not marked for upgrade in the following dnf upgrade" (dnf's own FAQ).
DNF_FAQ = """\
libocsync0.x86_64 0.91.4-2.1              devel_repo
owncloud-client.x86_64 1.5.0-18.1         devel_repo
"""
# Nothing pending (exit 0), yum 3: the notes of wrapped_output_3 above without its package lines (no public verbatim
# capture of a whole "nothing pending" yum 3 run was found).
YUM_NONE = "Loaded plugins: fastestmirror, langpacks\nLoading mirror speeds from cached hostfile\n"
# Nothing pending (exit 0), `dnf check-update` on Amazon Linux 2023 as posted in a public notes repository found by
# the code search (a Japanese LAMP set-up log, "[ec2-user@ip-172-31-33-39 ~]$ dnf check-update"): only the line dnf
# prints for each repository whose metadata it downloaded (dnf/cli/progress.py, MultiFileProgressMeter.end).
DNF_AL2023_NONE = (
    "Amazon Linux 2023 repository                                                                                     35 "
    "MB/s |  33 MB     00:00\n"
    "Amazon Linux 2023 Kernel Livepatch repository                                                                   108 "
    "kB/s |  16 kB     00:00\n"
)


def test_yum_long_name_and_long_version_wrapped_over_three_lines():
    facts, unknown = F.parse_pending_updates(YUM_WRAPPED_2 + EXIT_100)
    assert facts == {"pending_updates": 2}
    assert "security" in unknown["security_updates"]


def test_yum_repository_wrapped_onto_the_next_line():
    assert F.parse_pending_updates(YUM_WRAPPED_4 + EXIT_100)[0] == {"pending_updates": 7}


def test_yum_rhel7_counts_obsoleting_packages_once_and_not_the_replaced_ones():
    assert F.parse_pending_updates(YUM_RHEL7 + EXIT_100)[0] == {"pending_updates": 12}
    # 12 updates + 6 obsoleting packages (ansible's parser reads the same 18); the 6 installed ones they replace
    # (indented, "@repo") are not pending.
    assert F.parse_pending_updates(YUM_RHEL7 + YUM_RHEL7_OBSOLETES + EXIT_100)[0] == {"pending_updates": 18}
    translated = YUM_RHEL7_OBSOLETES.replace("Obsoleting Packages", "Устаревшие пакеты")  # the header is translated
    assert F.parse_pending_updates(YUM_RHEL7 + translated + EXIT_100)[0] == {"pending_updates": 18}


def test_yum_long_name_alone_on_its_line():
    assert F.parse_pending_updates(YUM_LONGNAME + "\n" + EXIT_100)[0] == {"pending_updates": 2}


def test_dnf_faq_single_space_columns():
    assert F.parse_pending_updates(DNF_FAQ + EXIT_100)[0] == {"pending_updates": 2}


def test_yum_nothing_pending():
    facts, _reason = F.parse_pending_updates(YUM_NONE)
    assert facts == {"pending_updates": 0}


def test_dnf_nothing_pending_after_downloading_metadata():
    assert F.parse_pending_updates(DNF_AL2023_NONE)[0] == {"pending_updates": 0}
    # the download lines above a list with pending updates are not packages either
    assert F.parse_pending_updates(DNF_AL2023_NONE + DNF_FAQ + EXIT_100)[0] == {"pending_updates": 2}


def test_cut_output_gives_only_a_lower_bound():
    facts, unknown = F.parse_pending_updates(YUM_WRAPPED_4 + EXIT_100, complete=False)
    assert facts == {"pending_updates_at_least": 7}
    assert "at least 7" in unknown["pending_updates"]


# --- pending updates: apt list --upgradable ------------------------------------------------------------------

# Debian/apt test/integration/test-apt-cli-list @ 3498fbedafbf30e5c91deeaefa6a60d1e387593a: apt's own test of
# `apt list --upgradable` (its expected output, verbatim).
APT_TESTSUITE = """\
Listing...
baz/unstable 2.0 all [upgradable from: 0.1]
foobar/unstable 2.0 i386 [upgradable from: 1.0]
foreign/unstable 2.0 armel [upgradable from: 1.0]"""
# apt's po/ja.po (same repository, 6b128124271e94bdb0f4e7850d9286170d712b04) translates "[upgradable from: %s]" as
# "[%s からアップグレード可]" and "Listing" as "一覧表示": the same listing on a host whose locale is ja_JP. (No
# public capture of a translated run was found; this is the test-suite output with apt's own translations.)
APT_JA = (
    APT_TESTSUITE.replace("Listing...", "一覧表示...")
    .replace("[upgradable from: 0.1]", "[0.1 からアップグレード可]")
    .replace("[upgradable from: 1.0]", "[1.0 からアップグレード可]")
)
# A suite list with a -security suite (apt prints the archives of the candidate joined by ","; GetArchiveSuite in
# apt-private/private-output.cc): no public verbatim capture was found, so the security count is tested on the
# sandbox's Ubuntu profile (test_sandbox_update_profiles), whose lines have this shape.


def test_apt_test_suite_listing():
    assert F.parse_pending_updates(APT_TESTSUITE) == ({"pending_updates": 3, "security_updates": 0}, {})
    assert F.parse_pending_updates("Listing...\n") == ({"pending_updates": 0, "security_updates": 0}, {})


def test_apt_translated_listing():
    assert F.parse_pending_updates(APT_JA) == ({"pending_updates": 3, "security_updates": 0}, {})


def test_windows_update_agent_search():
    # The runbook's own lines (roles/check_os/files/check-os-improved.checks.yml): no public output exists.
    text = (
        "Active code page: 65001\r\nPendingUpdates: 2\r\nSecurityUpdates: 1\r\nKB5044023 2024-10 Cumulative Update\r\n"
    )
    assert F.parse_pending_updates(text) == ({"pending_updates": 2, "security_updates": 1}, {})


@pytest.mark.parametrize(
    "text",
    [
        EXIT_100,  # exit 100 but no package line read
        "Error: Failed to download metadata for repo 'appstream'\n",
        DNF_FAQ,  # package lines without yum's exit 100
        YUM_WRAPPED_2.replace("                                                                         addons\n", "")
        + EXIT_100,  # a wrapped package line cut short
        "Загружены модули: fastestmirror\n",  # exit 0, but a line that is not one of yum's known notes
        "Listing...\nE: Could not open lock file\n",
    ],
)
def test_unreadable_update_outputs(text):
    facts, unknown = F.parse_pending_updates(text)
    assert "pending_updates" not in facts
    assert unknown["pending_updates"]


# --- chronyc sources -----------------------------------------------------------------------------------------

# mlichvar/chrony doc/chronyc.adoc @ 8f2db839de0c4c8683ec460819c1ee77a718c770, "sources": the example table.
CHRONYC_MAN = """\
MS Name/IP address         Stratum Poll Reach LastRx Last sample
===============================================================================
#* GPS0                          0   4   377    11   -479ns[ -621ns] +/-  134ns
^? ntp1.example.net              2   6   377    23   -923us[ -924us] +/-   43ms
^+ ntp2.example.net              1   6   377    21  -2629us[-2619us] +/-   86ms
"""
# mlichvar/chrony doc/faq.adoc (same commit), "How can I improve the accuracy of the system clock with NTP sources?"
# ... "chronyc sources ... should show a line starting with ^* ...": three servers, the first selected.
CHRONYC_FAQ = """\
MS Name/IP address         Stratum Poll Reach LastRx Last sample
===============================================================================
^* ntp1.example.net              2   6   377    34   +484us[ -157us] +/-   30ms
^- ntp2.example.net              2   6   377    34    +33ms[  +32ms] +/-   47ms
^+ ntp3.example.net              3   6   377    35  -1397us[-2033us] +/-   60ms
"""
# chronyc sources -v: the legend lines are the ones client.c (same commit, cmd_sources, not wide) prints before the
# table, verbatim; no public capture of a whole -v run from a known source was found, so they are put above the
# FAQ's table.
CHRONYC_V = (
    "\n"
    "  .-- Source mode  '^' = server, '=' = peer, '#' = local clock.\n"
    " / .- Source state '*' = current best, '+' = combined, '-' = not combined,\n"
    "| /             'x' = may be in error, '~' = too variable, '?' = unusable.\n"
    "||                                                 .- xxxx [ yyyy ] +/- zzzz\n"
    "||      Reachability register (octal) -.           |  xxxx = adjusted offset,\n"
    "||      Log2(Polling interval) --.      |          |  yyyy = measured offset,\n"
    "||                                \\     |          |  zzzz = estimated error.\n"
    "||                                 |    |           \\\n"
) + CHRONYC_FAQ
# Amazon Linux 2023, the same public notes as LOCALECTL_AL2023 (section "9. NTP設定"): the one source unreachable
# (chronyc pads its header line with spaces).
CHRONYC_AL2023 = (
    "MS Name/IP address         Stratum Poll Reach LastRx Last sample               \n"
    + """\
===============================================================================
^? 180.43.145.38                 0   7     0     -     +0ns[   +0ns] +/-    0ns
"""
)


def test_chronyc_man_page_selected_source_stratum_offset():
    facts, unknown = F.parse_chronyc_sources(CHRONYC_MAN)
    assert unknown == {}
    assert facts["ntp_source"] == "GPS0" and facts["ntp_stratum"] == 0
    assert facts["ntp_offset_seconds"] == pytest.approx(-479e-9)


def test_chronyc_faq_and_verbose_legend():
    expected = {"ntp_source": "ntp1.example.net", "ntp_stratum": 2, "ntp_offset_seconds": pytest.approx(484e-6)}
    assert F.parse_chronyc_sources(CHRONYC_FAQ) == (expected, {})
    assert F.parse_chronyc_sources(CHRONYC_V) == (expected, {})


def test_chronyc_without_selected_source_is_unknown():
    facts, unknown = F.parse_chronyc_sources(CHRONYC_AL2023)
    assert facts == {} and "none selected" in unknown["ntp_source"]
    assert "no source line" in F.parse_chronyc_sources("506 Cannot talk to daemon\n")[1]["ntp_stratum"]


# --- Windows -------------------------------------------------------------------------------------------------

# MicrosoftDocs/PowerShell-Docs reference/7.4/Microsoft.PowerShell.Utility/Get-Date.md
# @ 27138b21b41de3e2b43cfcac4a56861ca419d5eb, Example 10 ("PS> Get-TimeZone"). Get-TimeZone.md's own examples show
# no output for the current zone.
GET_TIMEZONE = """\

Id                         : Pacific Standard Time
DisplayName                : (UTC-08:00) Pacific Time (US & Canada)
StandardName               : Pacific Standard Time
DaylightName               : Pacific Daylight Time
BaseUtcOffset              : -08:00:00
SupportsDaylightSavingTime : True
"""
# MicrosoftDocs/PowerShell-Docs reference/5.1/Microsoft.PowerShell.Management/Set-TimeZone.md (same commit),
# Example 1: Set-TimeZone prints the zone it set in the same format.
SET_TIMEZONE_UTC = """\
Id                         : UTC
DisplayName                : (UTC) Coordinated Universal Time
StandardName               : Coordinated Universal Time
DaylightName               : Coordinated Universal Time
BaseUtcOffset              : 00:00:00
SupportsDaylightSavingTime : False
"""
# MicrosoftDocs/windows-powershell-docs docset/winserver2025-ps/International/Get-WinSystemLocale.md
# @ b86b053539a918e9d71c7ebacb845244ae61f1a9, Example 1.
GET_WINSYSTEMLOCALE = """\
LCID             Name             DisplayName
----             ----             -----------
1033             en-US            English (United States)
"""
# MicrosoftDocs/windowsserverdocs WindowsServerDocs/networking/windows-time-service/
# Windows-Time-Service-Tools-and-Settings.md @ 048f945a6efbbbdbfa1da287c0ae076fd60d1228, "w32tm /query /status
# /verbose ... produces output that resembles the following lines" (a Hyper-V guest; the second line of the
# blank-looking separator is " ").
W32TM_MICROSOFT = (
    """\
Leap Indicator: 0(no warning)
Stratum: 1 (primary reference - syncd by radio clock)
Precision: -23 (119.209ns per tick)
Root Delay: 0.0003538s
Root Dispersion: 0.0100002s
ReferenceId: 0x00000000 (unspecified)
Last Successful Sync Time: 5/23/2023 7:51:39 PM
Source: VM IC Time Synchronization Provider
Poll Interval: 6 (64s)
"""
    + " \n"
    + """\
Phase Offset: -0.0000013s
ClockRate: 0.0156250s
State Machine: 2 (Sync)
Time Source Flags: 3 (Authenticated Hardware )
Server Role: 0 (None)
Last Sync Error: 0 (The command completed successfully.)
Time since Last Good Sync Time: 15.7344985s
"""
)
# Linuxfabrik/monitoring-plugins check-plugins/ntp-w32tm/unit-test/stdout/unsynced-local-cmos-poll10
# @ 64000046687e0710f2564028e18cb534273b74ad (captured stdout of w32tm /query /status /verbose).
W32TM_LOCAL_CMOS = """\
Leap Indicator: 3(not synchronized)
Stratum: 0 (unspecified)
Precision: -23 (119.209ns per tick)
Root Delay: 0.0000000s
Root Dispersion: 0.0000000s
ReferenceId: 0x00000000 (unspecified)
Last Successful Sync Time: unspecified
Source: Local CMOS Clock
Poll Interval: 10 (1024s)

Phase Offset: 0.0000000s
ClockRate: 0.0156250s
State Machine: 0 (Unset)
Time Source Flags: 0 (None)
Server Role: 0 (None)
Last Sync Error: 1 (The computer did not resync because no time data was available.)
Time since Last Good Sync Time: 19.4881785s
"""
# Same repository, unit-test/stdout/de-stratum-5-synced @ eff517022d16780461a78367a548bf06c9782d1e: a German Windows
# (labels translated; "Stratum" is the same word).
W32TM_DE = """\
Sprungindikator: 0(keine Warnung)
Stratum: 5 (Sekundärreferenz - synchr. über (S)NTP)
Präzision: -23 (119.209ns pro Tick)
Stammverzögerung: 0.0165359s
Stammabweichung: 7.7713661s
Referenz-ID: 0x682895BD (Quell-IP:  104.40.149.189)
Letzte erfolgr. Synchronisierungszeit: 25.09.2026 06:35:07
Quelle: time.windows.com,0x8
Abrufintervall: 6 (64s)

Phasendifferenz: -0.0000433s
Taktfrequenz: 0.0156250s
Statuscomputer: 1 (Anhalten)
Zeitquellenkennzeichen: 0 (Keine)
Serverrolle: 0 (Keine)
Letzter Synchronierungsfehler: 0 (Der Befehl wurde erfolgreich ausgeführt.)
Zeit seit der letzten erfolgr. Synchronisierungszeit: 51.6640258s

"""
# A Japanese Windows Server's w32tm /query /status (no /verbose), as posted in a public notes repository found by
# the code search (a PowerShell session that first sets /manualpeerlist:10.30.0.3,0x8): the labels the sandbox's
# Windows profile prints.
W32TM_JA = """\
閏インジケーター: 0 (警告なし)
階層: 3 (二次参照 - (S)NTP で同期)
精度: -23 (ティックごとに 119.209ns)
ルート遅延: 0.0216253s
ルート分散: 7.7938950s
参照 ID: 0x0A000003 (ソース IP:  10.30.0.3)
最終正常同期時刻: 2022/01/10 1:45:54
ソース: 10.30.0.3,8
ポーリング間隔: 10 (1024s)
"""


def test_get_timezone_microsoft_examples():
    assert F.parse_get_timezone(GET_TIMEZONE) == ({"timezone": "Pacific Standard Time"}, {})
    assert F.parse_get_timezone(SET_TIMEZONE_UTC) == ({"timezone": "UTC"}, {})
    assert "Id" in F.parse_get_timezone("Get-TimeZone : The term is not recognized")[1]["timezone"]


def test_get_winsystemlocale_microsoft_example():
    assert F.parse_get_winsystemlocale(GET_WINSYSTEMLOCALE) == ({"locale": "en-US"}, {})
    assert F.parse_get_winsystemlocale("nothing here")[0] == {}


def test_w32tm_microsoft_example_vm_ic_provider_is_synchronised_with_offset():
    facts, unknown = F.parse_w32tm_status(W32TM_MICROSOFT)
    assert facts == {
        "ntp_source": "VM IC Time Synchronization Provider",
        "ntp_stratum": 1,
        "ntp_synchronized": True,
        "ntp_offset_seconds": pytest.approx(-0.0000013),
    }
    assert unknown == {}


def test_w32tm_local_cmos_clock_is_not_synchronised():
    facts, _reason = F.parse_w32tm_status(W32TM_LOCAL_CMOS)
    assert facts["ntp_synchronized"] is False and facts["ntp_source"] == "Local CMOS Clock"


def test_w32tm_japanese_labels():
    facts, unknown = F.parse_w32tm_status(W32TM_JA)
    assert facts == {"ntp_source": "10.30.0.3", "ntp_stratum": 3, "ntp_synchronized": True}
    assert "/verbose" in unknown["ntp_offset_seconds"]


def test_w32tm_other_display_language_reads_only_what_it_can():
    # German labels: only "Stratum" is the English word; the rest is unknown with a reason, never guessed.
    facts, unknown = F.parse_w32tm_status(W32TM_DE)
    assert facts == {"ntp_stratum": 5}
    assert set(unknown) == {"ntp_source", "ntp_synchronized", "ntp_offset_seconds"}


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


def _labels(text, sep=":"):
    """The labels of a "label: value" output, in order (continuation lines without a label left out)."""
    return [line.split(sep, 1)[0].strip() for line in text.replace("\r\n", "\n").split("\n") if sep in line]


DEMO_PROFILES = profiles.build_profiles(yaml.safe_load(Path(DEMO_WORLD).read_text(encoding="utf-8")).get("profiles"))
LINUX_PROFILES = sorted(n for n, p in DEMO_PROFILES.items() if p.platform == "Linux" and not p.local)


@pytest.mark.parametrize("name", LINUX_PROFILES)
def test_sandbox_linux_profiles_print_the_documented_shape(name):
    """Every Linux profile (built-in, and the demo world's) prints the labels and columns of the public outputs."""
    profile = DEMO_PROFILES[name]
    timedatectl = _run(profile, "timedatectl status")[0]
    assert _labels(timedatectl) == _labels(TIMEDATECTL_MAN), timedatectl  # systemd 239+'s seven lines
    widths = {len(line.split(":", 1)[0]) for line in timedatectl.splitlines() if ":" in line}
    assert widths == {len("System clock synchronized")}  # the labels right-aligned on the colon, as systemd does
    assert _labels(_run(profile, "localectl status")[0]) == _labels(LOCALECTL_INSIGHTS)
    chrony = _run(profile, "chronyc sources")[0].splitlines()
    assert [line.rstrip() for line in chrony[:2]] == CHRONYC_MAN.splitlines()[:2]
    assert all(F.CHRONY_SOURCE_RE.match(line) for line in chrony[2:])


def test_sandbox_windows_profile_prints_the_documented_shape():
    win = profiles.BUILTIN["windows-server-2022"]
    assert _labels(_run(win, "Get-TimeZone")[0]) == _labels(GET_TIMEZONE)
    locale = [line.strip() for line in _run(win, "Get-WinSystemLocale")[0].splitlines() if line.strip()]
    assert [line.split() for line in locale[:2]] == [line.split() for line in GET_WINSYSTEMLOCALE.splitlines()[:2]]
    w32tm = _run(win, "w32tm /query /status")[0]
    assert _labels(w32tm) == _labels(W32TM_JA)  # a Japanese Windows Server's labels
    synced = [line.split(": ", 1)[1] for line in (w32tm + W32TM_JA).splitlines() if line.startswith("最終正常同期時刻")]
    assert all(re.fullmatch(r"\d{4}/\d{2}/\d{2} \d{1,2}:\d{2}:\d{2}", value.strip()) for value in synced), synced


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
    inst = {"steps": [_step("CheckUpdate", output=long[:2500], stdout=YUM_WRAPPED_4 + EXIT_100)]}
    assert F.instance_facts(inst)["pending_updates"] == 7
