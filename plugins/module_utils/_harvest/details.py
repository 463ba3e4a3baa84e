# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who is who: what a person knows an instance by, next to its id.

Per location, through the reader role (the same paced, retried calls as the rest of the harvest), at most one call
per 50 instances and service:

- ``ssm:DescribeInstanceInformation`` (filter ``InstanceIds``, ``MaxResults`` 50): platform name, version and type,
  and the SSM Agent's ping status (an instance without instance information is not a managed node: ``None``);
- ``ec2:DescribeInstances`` (filter ``instance-id``, which, unlike ``InstanceIds``, does not fail the whole call when
  one instance is gone): the ``Name`` tag and the instance state.

Once per harvest, in the caller's (management) account: the organization's tree (``organization.list_tree``), for
each location's account name and OU path. A read that fails is recorded (``details_error`` on the location,
``organization_error`` on the header's ``details``), never fatal: the results are read all the same.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest.common import error_info
from ansible_collections.orgops.ssm_automation.plugins.module_utils.organization import list_tree, ou_path

CHUNK = 50  # DescribeInstanceInformation's MaxResults is 5..50 (botocore model); one page per 50 instances


def _chunks(items, size=CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def organization_names(client):
    """``{account_id: {"account_name", "ou_path"}}`` for every account of the organization."""
    tree = list_tree(client)
    out = {}
    for account_id, account in tree["accounts"].items():
        parent = account.get("parent_id")
        out[account_id] = {
            "account_name": account.get("name"),
            "ou_path": ou_path(tree, parent) if parent != tree["root_id"] else "Root",
        }
    return out


def organization_details(factory, region):
    """Account names and OU paths, read once in the caller's account; ``{}`` (and nothing fatal) when it cannot."""
    try:
        return organization_names(factory.client("organizations", region))
    except Exception:  # pylint: disable=broad-except
        return {}


def add_instance_details(reader, record):
    """Add ``details`` to each instance of a location record, in place; ``details_error`` when a read failed."""
    instances = [i for i in record.get("instances") or [] if (i.get("instance_id") or "").startswith(("i-", "mi-"))]
    if not instances:
        return record
    found = {
        i["instance_id"]: {"name": None, "platform": None, "platform_version": None, "ping_status": None}
        for i in instances
    }
    ids = sorted(found)
    errors = []
    for chunk in _chunks(ids):
        try:
            response = reader.call(
                "ssm",
                "describe_instance_information",
                Filters=[{"Key": "InstanceIds", "Values": chunk}],
                MaxResults=CHUNK,
            )
            for info in response.get("InstanceInformationList") or []:
                entry = found.get(info.get("InstanceId"))
                if entry is not None:
                    entry.update(
                        {
                            "platform": info.get("PlatformName"),
                            "platform_version": info.get("PlatformVersion"),
                            "platform_type": info.get("PlatformType"),
                            "ping_status": info.get("PingStatus"),
                        }
                    )
        except Exception as e:  # pylint: disable=broad-except
            errors.append(dict(error_info(e), service="ssm"))
        try:
            response = reader.call("ec2", "describe_instances", Filters=[{"Name": "instance-id", "Values": chunk}])
            for reservation in response.get("Reservations") or []:
                for inst in reservation.get("Instances") or []:
                    entry = found.get(inst.get("InstanceId"))
                    if entry is None:
                        continue
                    tags = {t.get("Key"): t.get("Value") for t in inst.get("Tags") or []}
                    entry["name"] = tags.get("Name")
                    entry["state"] = (inst.get("State") or {}).get("Name")
        except Exception as e:  # pylint: disable=broad-except
            errors.append(dict(error_info(e), service="ec2"))
    for inst in instances:
        inst["details"] = found[inst["instance_id"]]
    if errors:
        record["details_error"] = errors[0]
    return record
