#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: automation_report
short_description: Write the results of a multi-account SSM Automation as JSON, CSV, Markdown, HTML and JUnit XML
version_added: 0.1.0
description:
  - Reads the harvest of M(orgops.ssm_automation.automation_execution_info), either its registered result
    (I(result)) or the JSON Lines file it wrote (I(src)), and writes reports into I(dest) on the Ansible controller
    or target host where the task runs (use C(delegate_to) or C(connection=local) for the controller).
  - C(json), everything; C(csv), one row per instance and step (cells that a spreadsheet would run as a formula are
    prefixed with a quote); C(markdown), the summary then a table; C(html), a self-contained page with a summary bar,
    a table per account and region, status colours, each instance's outputs collapsible and a status filter, with no
    external asset and everything escaped; C(junit), one test case per instance and step, failed and timed-out steps as
    failures, steps never reached as skipped, unreadable locations as errors.
  - Makes no AWS call; accepts the AWS connection options only so that C(module_defaults) for the collection's group apply.
  - Idempotent, a report whose content would not change is not rewritten. A I(dest) that cannot be written fails
    before anything is written.
author:
  - orgops maintainers (@orgops)
options:
  src:
    description:
      - The JSON Lines file written by M(orgops.ssm_automation.automation_execution_info) with C(dest), or a JSON file
        holding its result.
    type: path
  result:
    description:
      - The registered result of M(orgops.ssm_automation.automation_execution_info) (without C(dest)).
    type: dict
  dest:
    description:
      - Directory to write the reports into; created when missing.
    type: path
    required: true
  formats:
    description:
      - Which reports to write.
    type: list
    elements: str
    choices: [json, csv, markdown, html, junit]
    default: [json, csv, markdown, html, junit]
  basename:
    description:
      - File name without extension; the files are C(<basename>.json), C(.csv), C(.md), C(.html) and C(.xml), and
        with C(csv) also C(<basename>-fleet.csv), the fleet counts.
    type: str
    default: automation-report
  title:
    description:
      - Title of the HTML and Markdown reports and name of the JUnit test suites. Defaults to the execution id and runbook.
    type: str
  expect:
    description:
      - The OS standard each instance is judged against, from the facts parsed out of the check-os runbook's outputs.
      - Keys (all optional) C(timezone), C(locale), C(ntp_source) (strings compared as given, for example
        C(Asia/Tokyo); Windows reports its own names, C(Tokyo Standard Time), C(ja-JP)), C(ntp_synchronized)
        (boolean), C(max_pending_updates) (a whole number, 0 or more) and C(hostname_pattern) (a regular expression
        searched in the host name). C(timezone), C(locale) and C(ntp_source) may also be lists of accepted values
        (a mixed fleet, for example C([Asia/Tokyo, Tokyo Standard Time])).
      - Each instance of the JSON report gets C(facts) and C(compliance) (C(status) and C(checks), one per
        expectation, each with C(name), C(expected), C(actual), C(status) and C(reason)). A check whose step was
        skipped or did not run, or whose output could not be read, is C(unknown) with the reason. The HTML, Markdown
        and CSV reports show one column per expectation, JUnit one test case per instance and expectation.
      - Unknown keys and malformed values fail before anything is written, naming the key and the accepted form.
      - Without it the reports still carry the facts, with no verdict.
    type: dict
  compare_to:
    description:
      - An earlier report to compare with, which adds a "changed since" section (JSON C(changes), Markdown and HTML)
        with the instances added and gone, facts changed (the NTP offset excepted) and compliance changed, per instance.
      - A path to an earlier JSON report (or JSON Lines harvest), or C(previous) for the latest completed report
        (C(<basename>.json)) in the report directory, the parent of I(dest) (one directory per execution), other
        than this execution's. With C(previous) and no earlier report, the section says so.
    type: str
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
seealso:
  - module: orgops.ssm_automation.automation_execution_info
"""

EXAMPLES = r"""
- name: Harvest
  orgops.ssm_automation.automation_execution_info:
    automation_execution_id: "{{ run.automation_execution_id }}"
  register: results

- name: Every report
  orgops.ssm_automation.automation_report:
    result: "{{ results }}"
    dest: reports/

- name: From a streamed harvest, HTML and JUnit only
  orgops.ssm_automation.automation_report:
    src: reports/results.jsonl
    dest: reports/
    formats: [html, junit]
    title: check-os, production

- name: Judge every instance against the OS standard
  orgops.ssm_automation.automation_report:
    src: reports/results.jsonl
    dest: reports/
    expect:
      timezone: Asia/Tokyo
      locale: ja_JP.UTF-8
      ntp_synchronized: true
      ntp_source: 169.254.169.123
      max_pending_updates: 0
      hostname_pattern: '^(ip-|web-|db-)'
"""

RETURN = r"""
changes:
  description: The "changed since" counts (C(added_total), C(gone_total), C(facts_changed_total),
    C(compliance_changed_total)) and the report compared with (C(since)); null without I(compare_to).
  returned: always
  type: dict
files:
  description:
    - Format to the path of its report.
    - With C(csv), also C(csv_fleet), the fleet counts (compliant, noncompliant and unknown instances per
      expectation, account, OU and account and region, and the distribution of each fact's values), one row per
      count with the columns C(scope), C(name), C(value), C(compliant), C(noncompliant), C(unknown), C(instances).
  returned: always
  type: dict
  sample: {"csv": "reports/automation-report.csv", "csv_fleet": "reports/automation-report-fleet.csv",
           "html": "reports/automation-report.html"}
written:
  description: Formats whose file was written (or would be, in check mode) because its content changed (C(csv_fleet)
    for the fleet CSV).
  returned: always
  type: list
  elements: str
summary:
  description:
    - The totals the reports show, as in M(orgops.ssm_automation.automation_execution_info)'s C(summary).
    - Also C(fact_values), the distribution of each fact's values (C(timezone) C(UTC) 120...), and with I(expect)
      C(compliance), the counts of C(compliant), C(noncompliant) and C(unknown) instances overall, per expectation,
      per account, per OU and per account and region, and the noncompliant instances with their deviations.
  returned: always
  type: dict
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule  # noqa: E402

from ansible_collections.orgops.ssm_automation.plugins.module_utils import compliance, report  # noqa: E402
from ansible_collections.orgops.ssm_automation.plugins.module_utils._report import changes  # noqa: E402
from ansible_collections.orgops.ssm_automation.plugins.module_utils.validation import InvalidInput  # noqa: E402


def _changes(source, params, expect):
    wanted = params["compare_to"].strip()
    if wanted == "previous":
        earlier = changes.find_previous(
            params["dest"], params["basename"], source.execution.get("automation_execution_id")
        )
        if not earlier:
            return {"since": None, "note": "No earlier completed report in the report directory to compare with."}
        return changes.compare(source, earlier, expect)
    return changes.compare(source, wanted, expect)


def _counts(section):
    if section is None:
        return None
    return {k: v for k, v in section.items() if k.endswith("_total") or k in ("since", "since_execution", "note")}


def main():
    module = AnsibleAWSModule(
        argument_spec={
            "src": {"type": "path"},
            "result": {"type": "dict"},
            "dest": {"type": "path", "required": True},
            "formats": {
                "type": "list",
                "elements": "str",
                "choices": list(report.FORMATS),
                "default": list(report.FORMATS),
            },
            "basename": {"type": "str", "default": "automation-report"},
            "title": {"type": "str"},
            "expect": {"type": "dict"},
            "compare_to": {"type": "str"},
        },
        supports_check_mode=True,
        mutually_exclusive=[["src", "result"]],
        required_one_of=[["src", "result"]],
    )
    params = module.params
    try:
        expect = compliance.validate_expect(params["expect"], field_name="expect")
        report.plan_files(params["dest"], params["basename"], params["formats"])
        source = report.Source(data=params["result"], path=params["src"], expect=expect)
        if params["compare_to"]:
            source.changes = _changes(source, params, expect)
        outcome = report.write_reports(
            source,
            params["dest"],
            formats=params["formats"],
            basename=params["basename"],
            title=params["title"],
            check_mode=module.check_mode,
        )
    except InvalidInput as e:
        module.fail_json(msg=str(e), field=e.field)
    except (IOError, OSError) as e:
        module.fail_json(msg="dest: could not write the reports into %s: %s" % (params["dest"], e), field="dest")
    result = {
        "changed": bool(outcome["changed"]),
        "files": outcome["files"],
        "written": outcome["changed"],
        "summary": source.summary(),
        "changes": _counts(source.changes),
    }
    if module._diff:
        # File digests (sha256) before and after: the reports themselves are too big for a diff.
        result["diff"] = {"before": {"files": outcome["before"]}, "after": {"files": outcome["after"]}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
