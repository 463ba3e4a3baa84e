"""Shared set-up of the _automation unit tests: the check-os runbook, regions, the caller, and start options."""

from pathlib import Path

from ansible_collections.orgops.ssm_automation.plugins.module_utils import runbook

REPO = Path(__file__).resolve().parents[2]
CHECK_OS = runbook.parse_content((REPO / "roles" / "check_os" / "files" / "check-os.yml").read_text())
REGIONS = frozenset(["eu-west-1", "ap-northeast-1", "us-east-1"])
MGMT = "111111111111"
CALLER_ARN = "arn:aws:iam::111111111111:user/admin"


def accounts(n, start=200000000000):
    return [str(start + i) for i in range(n)]


def options(**overrides):
    opts = {
        "document_name": "check-os",
        "parameters": {"CheckHostname": "check", "CheckNTP": "skip"},
        "targets": {"tags": {"ssm-automation": "true"}},
        "target_locations": [{"accounts": ["ou-o2pk-abcdefgh"], "regions": ["ap-northeast-1"]}],
    }
    opts.update(overrides)
    return opts
