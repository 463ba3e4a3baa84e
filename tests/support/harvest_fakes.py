"""In-memory fakes of the SSM API for the harvest's unit tests (fakes of AWS, not of our code): one FakeSSM per
account and region answering like the API (pagination at 50, errors as ClientError), a factory that hands them
out, and ``build_world`` which lays out a parent execution, its locations and their instance executions."""

import datetime
import threading

from botocore.exceptions import ClientError

MGMT = "111111111111"
PARENT = "00000000-0000-4000-8000-000000000000"
T0 = datetime.datetime(2025, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)


def uid(*parts):
    n = abs(hash(parts)) % (16**12)
    return "%08x-0000-4000-8000-%012x" % (len(parts), n)


def client_error(code, message="", op="Op"):
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"RetryAttempts": 2}}, op)


def step(name, status, output=None, command_id=None, failure=None):
    s = {
        "StepName": name,
        "Action": "aws:runCommand",
        "StepStatus": status,
        "ExecutionStartTime": T0,
        "ExecutionEndTime": T0,
    }
    outputs = {}
    if output is not None:
        outputs["%s.Output" % name] = [output]
    if command_id:
        outputs["CommandId"] = [command_id]
    if outputs:
        s["Outputs"] = outputs
    if failure:
        s["FailureMessage"] = failure
    return s


class FakeSSM:
    """One account-region's SSM Automation data, answering like the API (pagination at 50, errors as ClientError)."""

    def __init__(self, account, region):
        self.account = account
        self.region = region
        self.executions = {}
        self.children = {}
        self.invocations = {}
        self.calls = []
        self.fail = {}  # operation -> list of exceptions to raise, in order
        self.barrier = None

    def _record(self, op):
        self.calls.append(op)
        if self.barrier is not None:
            barrier, self.barrier = self.barrier, None
            barrier.wait(timeout=10)
        queue = self.fail.get(op)
        if queue:
            exc = queue.pop(0)
            if exc is not None:
                raise exc

    def describe_automation_executions(self, Filters, MaxResults=50, NextToken=None):
        """Filters as the API documents them: ParentExecutionId, ExecutionId, DocumentNamePrefix, StartTimeAfter
        (exclusive)."""
        self._record("describe_automation_executions")
        filters = {f["Key"]: f["Values"] for f in Filters}
        if "ParentExecutionId" in filters and set(filters) == {"ParentExecutionId"}:
            kids = list(self.children.get(filters["ParentExecutionId"][0], []))
        else:
            kids = []
            for ex_id, ex in self.executions.items():
                if (
                    "ParentExecutionId" in filters
                    and ex.get("ParentAutomationExecutionId") not in filters["ParentExecutionId"]
                ):
                    continue
                if "ExecutionId" in filters and ex_id not in filters["ExecutionId"]:
                    continue
                if "DocumentNamePrefix" in filters and not str(ex.get("DocumentName", "")).startswith(
                    tuple(filters["DocumentNamePrefix"])
                ):
                    continue
                if "StartTimeAfter" in filters:
                    bound = datetime.datetime.fromisoformat(filters["StartTimeAfter"][0].replace("Z", "+00:00"))
                    if ex.get("ExecutionStartTime") is None or ex["ExecutionStartTime"] <= bound:
                        continue
                kids.append(ex_id)
        start = int(NextToken or 0)
        page = kids[start : start + MaxResults]
        out = {
            "AutomationExecutionMetadataList": [self._meta(self.executions[k]) for k in page],
            "ResponseMetadata": {"RetryAttempts": 0},
        }
        if start + MaxResults < len(kids):
            out["NextToken"] = str(start + MaxResults)
        return out

    def _meta(self, ex):
        keys = (
            "AutomationExecutionId",
            "AutomationExecutionStatus",
            "ExecutionStartTime",
            "ExecutionEndTime",
            "ParentAutomationExecutionId",
            "Target",
            "FailureMessage",
            "DocumentName",
            "AutomationType",  # in AutomationExecutionMetadata only (botocore's ssm model), not AutomationExecution
        )
        return {k: ex[k] for k in keys if k in ex}

    def get_automation_execution(self, AutomationExecutionId):
        self._record("get_automation_execution")
        if AutomationExecutionId not in self.executions:
            raise client_error("AutomationExecutionNotFoundException", "not found", "GetAutomationExecution")
        return {
            "AutomationExecution": dict(self.executions[AutomationExecutionId]),
            "ResponseMetadata": {"RetryAttempts": 0},
        }

    def describe_automation_step_executions(self, AutomationExecutionId, MaxResults=50, NextToken=None):
        self._record("describe_automation_step_executions")
        steps = self.executions[AutomationExecutionId]["_all_steps"]
        start = int(NextToken or 0)
        out = {"StepExecutions": steps[start : start + MaxResults]}
        if start + MaxResults < len(steps):
            out["NextToken"] = str(start + MaxResults)
        return out

    def get_command_invocation(self, CommandId, InstanceId):
        self._record("get_command_invocation")
        return self.invocations[(CommandId, InstanceId)]

    def get_paginator(self, name):
        raise AssertionError("the fake only pages by hand")


class FakeFactory:
    """Stands in for ClientFactory: one FakeSSM per account and region; some accounts refuse the reader role."""

    def __init__(self):
        self.caller_account = MGMT
        self.clients = {}
        self.denied = {}
        self.invalidated = []
        self.lock = threading.Lock()

    def ssm(self, account, region):
        key = (account, region)
        if key not in self.clients:
            self.clients[key] = FakeSSM(account, region)
        return self.clients[key]

    def client(self, service, region, account=None):
        assert service == "ssm"
        account = account or MGMT
        if account in self.denied:
            raise self.denied[account]
        return self.ssm(account, region)

    def invalidate(self, account):
        with self.lock:
            self.invalidated.append(account)

    def calls(self, op=None):
        return sum(len([c for c in s.calls if op is None or c == op]) for s in self.clients.values())


def build_world(factory, layout, parent_region="eu-west-1", truncated=False):
    """layout: {(account, region): [instance spec]} where an instance spec is (instance_id, status, steps)."""
    parent_steps = []
    for (account, region), instances in sorted(layout.items()):
        member = uid(account, region)
        ssm = factory.ssm(account, region)
        step_out = {
            "StepName": "%s-%s" % (account, region),
            "Action": "aws:executeAutomation",
            "StepStatus": "Success",
            "TargetLocation": {
                "Accounts": [account],
                "Regions": [region],
                "ExecutionRoleName": "AWS-SystemsManager-AutomationExecutionRole",
            },
        }
        if instances is None:  # the location failed before starting anything
            step_out.update(
                StepStatus="Failed",
                FailureMessage="The provided role: arn:aws:iam::%s:role/AWS-SystemsManager-AutomationExecutionRole can't be assumed."
                % account,
            )
            parent_steps.append(step_out)
            continue
        step_out["Outputs"] = {"ExecutionId": [member]}
        ssm.executions[member] = {
            "AutomationExecutionId": member,
            "AutomationExecutionStatus": "Success",
            "Targets": [{"Key": "tag:a", "Values": ["b"]}],
        }
        kids = []
        for instance_id, status, steps in instances:
            ex_id = uid(account, region, instance_id)
            ssm.executions[ex_id] = {
                "AutomationExecutionId": ex_id,
                "AutomationExecutionStatus": status,
                "ParentAutomationExecutionId": member,
                "Target": instance_id,
                "ExecutionStartTime": T0,
                "ExecutionEndTime": T0 + datetime.timedelta(seconds=3),
                "StepExecutions": steps,
                "TargetParameterName": "InstanceId",
                "Parameters": {"InstanceId": [instance_id], "AutomationAssumeRole": ["arn:aws:iam::1:role/x"]},
            }
            kids.append(ex_id)
        ssm.children[member] = kids
        if any(status != "Success" for _iid, status, _steps in instances):
            step_out["StepStatus"] = ssm.executions[member]["AutomationExecutionStatus"] = "Failed"
        parent_steps.append(step_out)
    mgmt = factory.ssm(MGMT, parent_region)
    parent = {
        "AutomationExecutionId": PARENT,
        "AutomationExecutionStatus": "Failed",
        "DocumentName": "check-os",
        "DocumentVersion": "1",
        "AutomationType": "CrossAccount",
        "TargetParameterName": "InstanceId",
        "ProgressCounters": {"TotalSteps": len(parent_steps)},
    }
    if truncated:
        parent["StepExecutions"] = parent_steps[:1]
        parent["StepExecutionsTruncated"] = True
        parent["_all_steps"] = parent_steps
    else:
        parent["StepExecutions"] = parent_steps
    mgmt.executions[PARENT] = parent


OK_STEPS = [step("CheckHostname", "Success", "host-1"), step("CheckNTP", "Success", "^* 169.254.169.123")]
UPDATES_STEPS = [
    step("CheckHostname", "Success", "host-2"),
    step("CheckUpdate", "Failed", failure="Step fails when it is Poll action. exit code 100"),
    step("CheckNTP", "Pending"),
]


def demo_layout():
    return {
        (MGMT, "eu-west-1"): [("i-mgmt000000000001", "Success", OK_STEPS)],
        ("222222222222", "eu-west-1"): [
            ("i-aaaa000000000001", "Success", OK_STEPS),
            ("i-aaaa000000000002", "Failed", UPDATES_STEPS),
        ],
        ("222222222222", "ap-northeast-1"): [
            ("i-aaaa000000000003", "TimedOut", [step("CheckHostname", "TimedOut", failure="Step timed out")])
        ],
        ("333333333333", "ap-northeast-1"): None,
    }
