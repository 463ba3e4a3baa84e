"""OS profiles: what a simulated instance answers when Run Command hands it a program.

Built-ins (a world's ``profiles`` may add more, or ``extends`` these and override single commands):

- ``amazon-linux-2023``           up to date: ``yum check-update`` exits 0
- ``amazon-linux-2023-updates``   updates pending: ``yum check-update`` exits 100 and lists packages
- ``rhel-9``                      up to date (dnf/yum)
- ``ubuntu-22.04``                apt, with pending updates (``apt list --upgradable`` lists six packages; it exits
                                  0 either way, as apt does); no yum or dnf (``yum`` is "command not found", exit
                                  127, and ``command -v yum`` finds nothing, as on a real Ubuntu host)
- ``windows-server-2022``         Japanese locale and time zone; the console code page is 932 until ``chcp 65001``
                                  switches it to UTF-8, so non-ASCII output is garbled without it (as the seed
                                  article describes)
- ``local-shell``                 opt-in: the script runs for real on this machine (bash, or pwsh when present)

A command entry is ``{match: <regex, full match on the command line>, stdout, stderr, exit_code, delay}``; ``stdout``
and ``stderr`` may use ``${hostname}``, ``${instance_id}``, ``${private_ip}``, ``${region}``, ``${account_id}``,
``${name}``, ``${date}`` (UTC, as timedatectl prints it), ``${rtc_time}`` and ``${date_m0500}``... ``${date_p0900}``
(the local time at a whole-hour offset, for timedatectl's ``Local time:``).  ``delay`` is in virtual seconds (scaled by the world's ``time_scale``).

Which programs an instance *has* is explicit, not guessed from the command patterns: each profile lists the
absolute paths of its ``programs`` (a world's profile may add ``programs: [/usr/bin/zypper]``), and a profile has
its own plus its parents' (``Profile.which``).  The shell's ``command -v yum`` asks exactly that, so a runbook can
pick the package manager the host really has.  Every program a built-in profile lists answers at least one command
line, and every command line it answers starts with one of its programs (sandbox/tests/test_engine_profiles.py).
``local-shell`` lists none: its scripts run in the real shell, whose ``command -v`` looks at the real PATH.
"""

from __future__ import annotations

import hashlib
import re
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Text = str | Callable[["Facts"], str]


@dataclass
class Facts:
    instance_id: str
    account_id: str
    region: str
    name: str
    platform: str
    now: float
    utf8: bool = False  # Windows: chcp 65001 ran in this script

    @property
    def private_ip(self) -> str:
        h = hashlib.sha256(self.instance_id.encode()).digest()
        return f"10.{h[0] % 64}.{h[1]}.{max(4, h[2])}"

    @property
    def hostname(self) -> str:
        if self.platform == "Windows":
            h = hashlib.sha256(self.instance_id.encode()).hexdigest().upper()
            return "EC2AMAZ-" + "".join(c for c in h if c.isalnum())[:7]
        domain = "ec2.internal" if self.region == "us-east-1" else f"{self.region}.compute.internal"
        return f"ip-{self.private_ip.replace('.', '-')}.{domain}"

    def variables(self) -> dict:
        return {
            "hostname": self.hostname,
            "short_hostname": self.hostname.split(".")[0],
            "instance_id": self.instance_id,
            "private_ip": self.private_ip,
            "region": self.region,
            "account_id": self.account_id,
            "name": self.name,
            "date": time.strftime("%a %Y-%m-%d %H:%M:%S UTC", time.gmtime(self.now)),
            "rtc_time": time.strftime("%a %Y-%m-%d %H:%M:%S", time.gmtime(self.now)),
            # the local time at a whole-hour UTC offset, as timedatectl's "Local time:" shows it without its zone
            # abbreviation: ${date_m0500} (UTC-05:00) ... ${date_p0900} (UTC+09:00)
            **{
                "date_%s%02d00" % ("m" if hours < 0 else "p", abs(hours)): time.strftime(
                    "%a %Y-%m-%d %H:%M:%S", time.gmtime(self.now + hours * 3600)
                )
                for hours in range(-12, 15)
            },
            # a Japanese Windows' short date and long time at UTC+09:00 (yyyy/MM/dd H:mm:ss), as w32tm prints its
            # "最終正常同期時刻" (a Japanese Windows Server's w32tm /query /status, tests/unit/.../test_facts.py W32TM_JA)
            "win_date_ja": _windows_ja_time(self.now + 9 * 3600),
        }


def _windows_ja_time(seconds: float) -> str:
    t = time.gmtime(seconds)
    return time.strftime("%Y/%m/%d ", t) + "%d:%s" % (t.tm_hour, time.strftime("%M:%S", t))


@dataclass
class CommandSpec:
    match: re.Pattern
    stdout: Text = ""
    stderr: Text = ""
    exit_code: int = 0
    delay: float = 0.5
    effect: str | None = None  # "utf8": switches the Windows console to UTF-8 (chcp 65001)


@dataclass
class Profile:
    name: str
    platform: str
    platform_name: str
    platform_version: str
    commands: list[CommandSpec] = field(default_factory=list)
    parent: Profile | None = None
    local: bool = False
    native_codepage: str | None = None  # Windows: output is garbled unless chcp 65001 ran
    programs: tuple[str, ...] = ()  # absolute paths of the programs this profile adds to its parent's

    def find(self, command: str) -> CommandSpec | None:
        text = " ".join(command.split())
        profile: Profile | None = self
        while profile is not None:
            for spec in profile.commands:
                if spec.match.fullmatch(text):
                    return spec
            profile = profile.parent
        return None

    def all_programs(self) -> tuple[str, ...]:
        """This profile's programs and its parents', nearest first."""
        found: list[str] = []
        profile: Profile | None = self
        while profile is not None:
            found.extend(p for p in profile.programs if p not in found)
            profile = profile.parent
        return tuple(found)

    def which(self, name: str) -> str | None:
        """The path of program ``name`` (a bare name, or an absolute path) on this profile's instances, or None.

        On Windows, names are case-insensitive and the extension may be left out (``w32tm`` is w32tm.exe)."""
        windows = self.platform == "Windows"
        key = name.lower() if windows else name
        bare = not re.search(r"[\\/]", name)
        for path in self.all_programs():
            full = path.lower() if windows else path
            base = re.split(r"[\\/]", full)[-1]
            if key == full or (bare and (key == base or (windows and key == base.rsplit(".", 1)[0]))):
                return path
        return None


def _render(text: Text, facts: Facts) -> str:
    value = text(facts) if callable(text) else text
    return string.Template(value).safe_substitute(facts.variables())


def garble(text: str, codepage: str) -> str:
    """What the SSM agent reads when a program writes ``text`` in ``codepage`` and the agent decodes UTF-8."""
    try:
        return text.encode(codepage, errors="replace").decode("utf-8", errors="replace")
    except LookupError:
        return text


def run_spec(spec: CommandSpec, facts: Facts, profile: Profile) -> tuple[str, str, int, float]:
    out, err = _render(spec.stdout, facts), _render(spec.stderr, facts)
    if spec.effect == "utf8":
        facts.utf8 = True
    elif profile.native_codepage and not facts.utf8:
        out, err = garble(out, profile.native_codepage), garble(err, profile.native_codepage)
    return out, err, spec.exit_code, spec.delay


# ---------------------------------------------------------------------------------------------------------------
# Built-in content
# ---------------------------------------------------------------------------------------------------------------
def _c(
    pattern: str, stdout: Text = "", stderr: Text = "", exit_code: int = 0, delay: float = 0.5, effect=None
) -> CommandSpec:
    return CommandSpec(re.compile(pattern), stdout, stderr, exit_code, delay, effect)


def _tz_linux(tz: str, offset: str, label: str) -> Callable[[Facts], str]:
    """``timedatectl status`` as systemd 239+ prints it (systemd's man/timedatectl.xml, Examples)."""

    def render(f: Facts) -> str:
        seconds = int(offset[:3]) * 3600 + (1 if offset[0] == "+" else -1) * int(offset[3:]) * 60
        local = time.strftime("%a %Y-%m-%d %H:%M:%S", time.gmtime(f.now + seconds))
        utc = time.strftime("%a %Y-%m-%d %H:%M:%S", time.gmtime(f.now))
        return (
            f"               Local time: {local} {label}\n"
            f"           Universal time: {utc} UTC\n"
            f"                 RTC time: {utc}\n"
            f"                Time zone: {tz} ({label}, {offset})\n"
            "System clock synchronized: yes\n"
            "              NTP service: active\n"
            "          RTC in local TZ: no\n"
        )

    return render


def _uptime(f: Facts) -> str:
    clock = time.strftime("%H:%M:%S", time.gmtime(f.now))
    return f" {clock} up 12 days,  3:41,  0 users,  load average: 0.00, 0.01, 0.05\n"


def _date(f: Facts) -> str:
    return time.strftime("%a %b %d %H:%M:%S UTC %Y\n", time.gmtime(f.now))


def _iso_date(f: Facts) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime(f.now))


_FREE = (
    "               total        used        free      shared  buff/cache   available\n"
    "Mem:             949         312         301           0         335         496\n"
    "Swap:              0           0           0\n"
)


_CHRONY_AWS = (
    "MS Name/IP address         Stratum Poll Reach LastRx Last sample\n"
    "===============================================================================\n"
    "^* 169.254.169.123               3   4   377     7    -12us[  -15us] +/-  472us\n"
    "^- ec2-13-231-39-27.ap-nort>     4   6   377    38   +421us[ +419us] +/-   18ms\n"
)
_CHRONY_TRACKING = (
    "Reference ID    : A9FEA97B (169.254.169.123)\n"
    "Stratum         : 4\n"
    "System time     : 0.000004532 seconds fast of NTP time\n"
    "Last offset     : +0.000003125 seconds\n"
    "RMS offset      : 0.000012473 seconds\n"
    "Frequency       : 6.412 ppm slow\n"
    "Leap status     : Normal\n"
)
_DF = (
    "Filesystem      Size  Used Avail Use% Mounted on\n"
    "devtmpfs        4.0M     0  4.0M   0% /dev\n"
    "tmpfs           475M     0  475M   0% /dev/shm\n"
    "tmpfs           190M  2.9M  188M   2% /run\n"
    "/dev/nvme0n1p1  8.0G  1.9G  6.1G  24% /\n"
    "tmpfs           475M     0  475M   0% /tmp\n"
)
_AL2023_RELEASE = (
    'NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nID_LIKE="fedora"\nVERSION_ID="2023"\n'
    'PLATFORM_ID="platform:al2023"\nPRETTY_NAME="Amazon Linux 2023.6.20241212"\nANSI_COLOR="0;33"\n'
    'CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2023"\nHOME_URL="https://aws.amazon.com/linux/amazon-linux-2023/"\n'
    'DOCUMENTATION_URL="https://docs.aws.amazon.com/linux/"\nSUPPORT_END="2029-06-30"\n'
)
_RHEL9_RELEASE = (
    'NAME="Red Hat Enterprise Linux"\nVERSION="9.4 (Plow)"\nID="rhel"\nID_LIKE="fedora"\nVERSION_ID="9.4"\n'
    'PLATFORM_ID="platform:el9"\nPRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"\nANSI_COLOR="0;31"\n'
    'CPE_NAME="cpe:/o:redhat:enterprise_linux:9::baseos"\nHOME_URL="https://www.redhat.com/"\n'
)
_UBUNTU_RELEASE = (
    'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\nVERSION="22.04.4 LTS (Jammy Jellyfish)"\n'
    'VERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\nHOME_URL="https://www.ubuntu.com/"\n'
    "UBUNTU_CODENAME=jammy\n"
)
_LOCALE_CUTF8 = "   System Locale: LANG=C.UTF-8\n       VC Keymap: (unset)\n      X11 Layout: (unset)\n"
_LOCALE_ENUS = "   System Locale: LANG=en_US.UTF-8\n       VC Keymap: us\n      X11 Layout: us\n"


def _dnf_metadata(f: Facts) -> str:
    stamp = time.strftime("%a %d %b %Y %I:%M:%S %p UTC", time.gmtime(f.now - 192))
    return f"Last metadata expiration check: 0:03:12 ago on {stamp}.\n"


_AL2023_UPDATES = (
    "\n"
    "amazon-ssm-agent.x86_64                    3.3.1142.0-1.amzn2023              amazonlinux\n"
    "curl-minimal.x86_64                        8.5.0-1.amzn2023.0.4               amazonlinux\n"
    "kernel.x86_64                              6.1.119-129.201.amzn2023           amazonlinux\n"
    "libcurl-minimal.x86_64                     8.5.0-1.amzn2023.0.4               amazonlinux\n"
    "openssh.x86_64                             8.7p1-8.amzn2023.0.13              amazonlinux\n"
    "openssh-clients.x86_64                     8.7p1-8.amzn2023.0.13              amazonlinux\n"
    "openssh-server.x86_64                      8.7p1-8.amzn2023.0.13              amazonlinux\n"
    "openssl.x86_64                             1:3.0.8-1.amzn2023.0.18            amazonlinux\n"
    "openssl-libs.x86_64                        1:3.0.8-1.amzn2023.0.18            amazonlinux\n"
    "python3.x86_64                             3.9.20-1.amzn2023.0.4              amazonlinux\n"
    "python3-libs.x86_64                        3.9.20-1.amzn2023.0.4              amazonlinux\n"
    "systemd.x86_64                             252.23-2.amzn2023                  amazonlinux\n"
    "tzdata.noarch                              2024b-1.amzn2023.0.1               amazonlinux\n"
)

_LINUX_COMMON = [
    _c(r"hostname", "${hostname}\n", delay=0.4),
    _c(r"hostname -s", "${short_hostname}\n", delay=0.4),
    _c(r"hostname -I", "${private_ip} \n", delay=0.4),
    _c(r"uptime", _uptime, delay=0.4),
    _c(r"date", _date, delay=0.4),
    _c(r"whoami", "root\n", delay=0.3),
    _c(r"id", "uid=0(root) gid=0(root) groups=0(root)\n", delay=0.3),
    _c(r"df -h", _DF, delay=0.5),
    _c(r"chronyc sources( -v)?", _CHRONY_AWS, delay=0.6),
    _c(r"chronyc tracking", _CHRONY_TRACKING, delay=0.6),
    _c(r"systemctl is-active (chronyd|amazon-ssm-agent|sshd)", "active\n", delay=0.4),
    _c(r"(sudo )?localectl( status)?", _LOCALE_CUTF8, delay=0.5),
    _c(r"(sudo )?timedatectl( status)?", _tz_linux("UTC", "+0000", "UTC"), delay=0.5),
    _c(r"uname( -s)?", "Linux\n", delay=0.2),
    _c(r"uname -m|arch", "x86_64\n", delay=0.2),
    _c(r"uname -n", "${hostname}\n", delay=0.2),
    _c(r"date -u", _date, delay=0.2),
    _c(r"date( -u)? \+%s", lambda f: f"{int(f.now)}\n", delay=0.2),
    _c(r"date( -u)? (\+%Y-%m-%dT%H:%M:%SZ|--iso-8601=seconds)", _iso_date, delay=0.2),
    _c(r"nproc", "2\n", delay=0.2),
    _c(r"free -m", _FREE, delay=0.3),
    _c(
        r"ls /",
        "bin\nboot\ndev\netc\nhome\nlib\nlib64\nlocal\nmedia\nmnt\nopt\nproc\nroot\nrun\nsbin\nsrv\nsys\ntmp\nusr\nvar\n",
    ),
    _c(r"systemctl is-active (amazon-ssm-agent|snap\.amazon-ssm-agent\.amazon-ssm-agent)", "active\n", delay=0.4),
]

_AL2023 = [
    # Amazon Linux 2023 ships /etc/localtime as a plain file, not a symlink into /usr/share/zoneinfo, so timedatectl
    # cannot name the zone: "Time zone: n/a (UTC, +0000)" (amazonlinux/amazon-linux-2023 issues #52, with the
    # verbatim output, and #526: "on a newly-launched AL2023 instance, /etc/localtime is just a plain file").
    _c(r"(sudo )?timedatectl( status)?", _tz_linux("n/a", "+0000", "UTC"), delay=0.5),
    _c(r"cat /etc/os-release", _AL2023_RELEASE, delay=0.3),
    _c(r"cat /etc/system-release", "Amazon Linux release 2023.6.20241212 (Amazon Linux)\n", delay=0.3),
    _c(r"uname -r", "6.1.115-126.197.amzn2023.x86_64\n", delay=0.3),
    _c(
        r"uname -a",
        "Linux ${hostname} 6.1.115-126.197.amzn2023.x86_64 #1 SMP PREEMPT_DYNAMIC x86_64 GNU/Linux\n",
        delay=0.3,
    ),
    _c(r"(sudo )?(yum|dnf) (-q )?check-update( -q)?", _dnf_metadata, exit_code=0, delay=2.5),
    _c(r"(sudo )?(yum|dnf) (-q )?updateinfo( list)?", "", delay=2.0),
]
_AL2023_UPDATES_CMDS = [
    _c(
        r"(sudo )?(yum|dnf) (-q )?check-update( -q)?",
        lambda f: _dnf_metadata(f) + _AL2023_UPDATES,
        exit_code=100,
        delay=3.0,
    ),
    _c(
        r"(sudo )?(yum|dnf) (-q )?updateinfo( list)?",
        "ALAS2023-2024-742 Important/Sec. openssl-libs-1:3.0.8-1.amzn2023.0.18.x86_64\n"
        "ALAS2023-2024-761 Important/Sec. kernel-6.1.119-129.201.amzn2023.x86_64\n",
        delay=2.0,
    ),
]
_RHEL9 = [
    _c(r"cat /etc/os-release", _RHEL9_RELEASE, delay=0.3),
    _c(r"cat /etc/redhat-release", "Red Hat Enterprise Linux release 9.4 (Plow)\n", delay=0.3),
    _c(r"uname -r", "5.14.0-427.13.1.el9_4.x86_64\n", delay=0.3),
    _c(
        r"(sudo )?(yum|dnf) (-q )?check-update( -q)?",
        lambda f: "Updating Subscription Management repositories.\n" + _dnf_metadata(f),
        exit_code=0,
        delay=3.0,
    ),
    _c(r"(sudo )?localectl( status)?", _LOCALE_ENUS, delay=0.5),
]
# ``apt list --upgradable`` run by the SSM Agent, whose stdout is a pipe, not a terminal.  apt then sets quiet=1
# (apt-private/private-output.cc InitOutput: "if (!isatty(STDOUT_FILENO) && quiet == -1) quiet = 1"), and with quiet
# its progress line is "Listing..." alone: the "... Done" suffix is only drawn on a terminal (apt-pkg/contrib/
# progress.cc, OpTextProgress::Done).  The script warning goes to stderr unless APT::Cmd::Disable-Script-Warning is
# set (apt-private/private-main.cc, CheckIfCalledByScript).  Exit status 0 with or without pending upgrades; 100 is
# apt's error status.  The list is the demo's deterministic pending updates on a 22.04.4 host (sorted by name, as
# apt prints it); the version numbers are illustrative.
_APT_UPGRADABLE = (
    "Listing...\n"
    "curl/jammy-updates,jammy-security 7.81.0-1ubuntu1.18 amd64 [upgradable from: 7.81.0-1ubuntu1.17]\n"
    "libcurl4/jammy-updates,jammy-security 7.81.0-1ubuntu1.18 amd64 [upgradable from: 7.81.0-1ubuntu1.17]\n"
    "libssl3/jammy-updates,jammy-security 3.0.2-0ubuntu1.18 amd64 [upgradable from: 3.0.2-0ubuntu1.17]\n"
    "openssl/jammy-updates,jammy-security 3.0.2-0ubuntu1.18 amd64 [upgradable from: 3.0.2-0ubuntu1.17]\n"
    "python3.10/jammy-updates,jammy-security 3.10.12-1~22.04.6 amd64 [upgradable from: 3.10.12-1~22.04.5]\n"
    "tzdata/jammy-updates,jammy-security 2024a-0ubuntu0.22.04.1 all [upgradable from: 2024a-0ubuntu0.22.04]\n"
)
_APT_SCRIPT_WARNING = "\nWARNING: apt does not have a stable CLI interface. Use with caution in scripts.\n\n"

_UBUNTU = [
    _c(r"hostname", "${short_hostname}\n", delay=0.4),
    _c(r"cat /etc/os-release", _UBUNTU_RELEASE, delay=0.3),
    _c(
        r"lsb_release -a",
        "Distributor ID:\tUbuntu\nDescription:\tUbuntu 22.04.4 LTS\nRelease:\t22.04\nCodename:\tjammy\n",
        delay=0.3,
    ),
    _c(r"uname -r", "6.5.0-1022-aws\n", delay=0.3),
    _c(
        r"(sudo )?apt -o (?i:APT::Cmd::Disable-Script-Warning)=(true|1|yes) list --upgradable",
        _APT_UPGRADABLE,
        delay=2.0,
    ),
    _c(r"(sudo )?apt list --upgradable", _APT_UPGRADABLE, _APT_SCRIPT_WARNING, delay=2.0),
    _c(
        r"(sudo )?apt(-get)? update",
        "Hit:1 http://ap-northeast-1.ec2.archive.ubuntu.com/ubuntu jammy InRelease\nReading package lists... Done\n",
        delay=3.0,
    ),
    _c(r"(sudo )?timedatectl( status)?", _tz_linux("Etc/UTC", "+0000", "UTC"), delay=0.5),
]

_WIN_TZ = (
    "\r\n\r\nId                         : Tokyo Standard Time\r\n"
    "DisplayName                : (UTC+09:00) 大阪、札幌、東京\r\n"
    "StandardName               : 東京 (標準時)\r\n"
    "DaylightName               : 東京 (夏時間)\r\n"
    "BaseUtcOffset              : 09:00:00\r\n"
    "SupportsDaylightSavingTime : False\r\n\r\n\r\n\r\n"
)
_WIN_LOCALE = "\r\nLCID             Name             DisplayName\r\n----             ----             -----------\r\n1041             ja-JP            日本語 (日本)\r\n\r\n\r\n"
_W32TM = (
    "閏インジケーター: 0 (警告なし)\r\n"
    "階層: 4 (二次参照 - (S)NTP で同期)\r\n"
    "精度: -23 (ティックごとに 119.209ns)\r\n"
    "ルート遅延: 0.0005203s\r\n"
    "ルート分散: 7.7849103s\r\n"
    "参照 ID: 0xA9FEA97B (ソース IP:  169.254.169.123)\r\n"
    "最終正常同期時刻: ${win_date_ja}\r\n"
    "ソース: 169.254.169.123,0x9\r\n"
    "ポーリング間隔: 10 (1024s)\r\n"
)
_WINDOWS = [
    _c(r"chcp 65001( > \$null| \| Out-Null)?", "Active code page: 65001\r\n", delay=0.2, effect="utf8"),
    _c(r"chcp", "現在のコード ページ: 932\r\n", delay=0.2),
    _c(r"hostname|\$env:COMPUTERNAME", "${hostname}\r\n", delay=0.5),
    _c(r"Get-TimeZone", _WIN_TZ, delay=0.8),
    _c(r"tzutil /g", "Tokyo Standard Time\r\n", delay=0.5),
    _c(r"Get-WinSystemLocale", _WIN_LOCALE, delay=0.8),
    _c(
        r"Get-Culture",
        "\r\nLCID             Name             DisplayName\r\n----             ----             -----------\r\n1041             ja-JP            日本語 (日本)\r\n\r\n\r\n",
        delay=0.8,
    ),
    _c(r"w32tm /query /status", _W32TM, delay=0.8),
    _c(r"w32tm /query /source", "169.254.169.123,0x9\r\n", delay=0.5),
    _c(
        r"Get-HotFix( \| Select-Object -Last \d+)?",
        "\r\nSource        Description      HotFixID      InstalledBy          InstalledOn\r\n"
        "------        -----------      --------      -----------          -----------\r\n"
        "${hostname}   Update           KB5044023     NT AUTHORITY\\SYSTEM  2024/11/12 0:00:00\r\n\r\n",
        delay=1.5,
    ),
    # The Windows Update Agent's search for pending updates (IUpdateSearcher.Search "IsInstalled=0", Microsoft
    # Learn: Searching, downloading and installing updates), as the check-os runbook runs it: the titles, then its
    # counts. Two illustrative pending updates, one in the Security Updates category.
    _c(
        r"\(New-Object -ComObject Microsoft\.Update\.Session\)\.CreateUpdateSearcher\(\)\.Search\( ?"
        r"'IsInstalled=0( and IsHidden=0)?'\)\.Updates \| .*",
        "2024-12 x64 ベース システム用 Microsoft server operating system バージョン 21H2 の累積更新プログラム (KB5048654)\r\n"
        "Windows Malicious Software Removal Tool x64 - v5.130 (KB890830)\r\n"
        "PendingUpdates: 2\r\nSecurityUpdates: 1\r\n",
        delay=8.0,
    ),
    _c(
        r"\(Get-CimInstance Win32_OperatingSystem\)\.Caption", "Microsoft Windows Server 2022 Datacenter\r\n", delay=0.8
    ),
    _c(r"whoami", "nt authority\\system\r\n", delay=0.3),
    _c(r"\$PSVersionTable\.PSVersion\.ToString\(\)", "5.1.20348.2849\r\n", delay=0.3),
    _c(r"\[Environment\]::OSVersion\.Version\.ToString\(\)", "10.0.20348.0\r\n", delay=0.3),
    _c(r"Test-Path C:\\Windows", "True\r\n", delay=0.2),
    _c(
        r"Get-Date( -Format o)?",
        lambda f: time.strftime("%Y-%m-%dT%H:%M:%S.0000000+09:00\r\n", time.gmtime(f.now + 32400)),
        delay=0.2,
    ),
]


# The programs each built-in profile has (absolute paths; usrmerge'd /usr/bin on all three distributions).  The
# utilities the shell implements itself (cat, grep, head...) are the shell's, not listed here.  Besides the ones the
# profiles answer, the common programs that AWS-owned runbooks' scripts call (counted over the aws:runCommand steps
# of the AWS-owned Automation runbooks mirrored in ceshihao/ssm-public-documents: sed, awk, curl, cp, timeout, mkdir,
# tr, rm, mount, rpm, tee, which, ...) are listed too: a script that calls one with a command line the profile has no
# answer for fails with "not supported by the sandbox" (the program exists on a real host, so "command not found"
# would be a false answer, and running on would risk a false Success).
_LINUX_PROGRAMS = tuple(
    "/usr/bin/" + name
    for name in (
        "hostname",
        "uptime",
        "date",
        "whoami",
        "id",
        "df",
        "chronyc",
        "systemctl",
        "localectl",
        "timedatectl",
        "uname",
        "sudo",
        "arch",
        "nproc",
        "free",
        "ls",
        "sed",
        "awk",
        "curl",
        "cp",
        "mv",
        "rm",
        "mkdir",
        "touch",
        "chmod",
        "chown",
        "tr",
        "tee",
        "timeout",
        "which",
        "find",
        "xargs",
        "basename",
        "dirname",
        "stat",
        "ps",
        "mount",
        "lsblk",
        "env",
        "python3",
        "openssl",
        "ping",
        "journalctl",
        "tar",
        "gzip",
    )
)
_DNF_PROGRAMS = ("/usr/bin/yum", "/usr/bin/dnf", "/usr/bin/rpm")  # AL2023 and RHEL 9: yum is dnf under its old name
_UBUNTU_PROGRAMS = ("/usr/bin/apt", "/usr/bin/apt-get", "/usr/bin/lsb_release", "/usr/bin/dpkg", "/usr/bin/snap")
_WINDOWS_PROGRAMS = (
    "C:\\Windows\\system32\\chcp.com",
    "C:\\Windows\\system32\\HOSTNAME.EXE",
    "C:\\Windows\\system32\\tzutil.exe",
    "C:\\Windows\\system32\\w32tm.exe",
    # common in AWS-owned runbooks' PowerShell (same count as above); answered only where _WINDOWS has a command
    "C:\\Windows\\system32\\ipconfig.exe",
    "C:\\Windows\\system32\\systeminfo.exe",
    "C:\\Windows\\system32\\whoami.exe",
    "C:\\Windows\\system32\\netsh.exe",
    "C:\\Windows\\system32\\sc.exe",
    "C:\\Windows\\system32\\reg.exe",
    "C:\\Windows\\system32\\net.exe",
    "C:\\Windows\\system32\\diskpart.exe",
    "C:\\Windows\\system32\\cmd.exe",
    "C:\\Windows\\system32\\certutil.exe",
    "C:\\Windows\\system32\\msiexec.exe",
    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
)


def _builtin() -> dict[str, Profile]:
    linux = Profile("linux-base", "Linux", "", "", list(_LINUX_COMMON), programs=_LINUX_PROGRAMS)
    al = Profile(
        "amazon-linux-2023", "Linux", "Amazon Linux", "2023", list(_AL2023), parent=linux, programs=_DNF_PROGRAMS
    )
    al_upd = Profile(
        "amazon-linux-2023-updates", "Linux", "Amazon Linux", "2023", list(_AL2023_UPDATES_CMDS), parent=al
    )
    rhel = Profile(
        "rhel-9", "Linux", "Red Hat Enterprise Linux", "9.4", list(_RHEL9), parent=linux, programs=_DNF_PROGRAMS
    )
    ubuntu = Profile("ubuntu-22.04", "Linux", "Ubuntu", "22.04", list(_UBUNTU), parent=linux, programs=_UBUNTU_PROGRAMS)
    windows = Profile(
        "windows-server-2022",
        "Windows",
        "Microsoft Windows Server 2022 Datacenter",
        "10.0.20348",
        list(_WINDOWS),
        native_codepage="cp932",
        programs=_WINDOWS_PROGRAMS,
    )
    local = Profile("local-shell", "Linux", "Local shell (sandbox host)", "", [], local=True)
    return {p.name: p for p in (al, al_upd, rhel, ubuntu, windows, local)}


BUILTIN = _builtin()


def build_profiles(world_profiles: dict[str, Any] | None) -> dict[str, Profile]:
    """Built-ins plus the world's own profiles (which may extend a built-in or each other)."""
    profiles = dict(BUILTIN)
    pending = dict(world_profiles or {})
    for _ in range(len(pending) + 1):
        progressed = False
        for name, raw in list(pending.items()):
            spec = raw or {}
            base_name = spec.get("extends")
            if base_name and base_name not in profiles:
                continue
            base = profiles.get(base_name) if base_name else None
            platform = spec.get("platform") or (base.platform if base else "Linux")
            commands = [
                CommandSpec(
                    re.compile(c["match"]),
                    c.get("stdout", ""),
                    c.get("stderr", ""),
                    int(c.get("exit_code", 0)),
                    float(c.get("delay", 0.5)),
                )
                for c in spec.get("commands", []) or []
            ]
            profiles[name] = Profile(
                name,
                platform,
                base.platform_name if base else name,
                base.platform_version if base else "",
                commands,
                parent=base,
                local=bool(base and base.local and not commands),
                native_codepage=base.native_codepage if base else None,
                programs=tuple(spec.get("programs", []) or []),
            )
            del pending[name]
            progressed = True
        if not progressed:
            break
    for name, raw in pending.items():  # unknown base (the world validator reports it too): the platform default
        spec = raw or {}
        platform = spec.get("platform", "Linux")
        base = BUILTIN["windows-server-2022" if platform == "Windows" else "amazon-linux-2023"]
        profiles[name] = Profile(
            name,
            platform,
            base.platform_name,
            base.platform_version,
            [],
            parent=base,
            programs=tuple(spec.get("programs", []) or []),
        )
    return profiles
