"""The contenders, each run in its own process by ``harness.run_contender``: ``python contenders.py KIND SPEC.json``.

- ``ours``: the code path of ``orgops.ssm_automation.automation_execution_info`` (plugins/module_utils/_harvest/),
  called directly with the module's defaults, exactly as the module calls it (same factory, same writer).
- ``awsrun``: the same harvest with awsrun (PyPI ``awsrun``), the multi-account runner a user would pick instead of
  us, written as its documentation shows, with 64 workers (ours' concurrency).
- ``baseline``: what a user writes instead, the obvious way: a plain sequential boto3 loop. Get the parent (and its
  step executions, paginated when truncated); for each account assume the reader role once; for each of its regions
  list the member execution's children (DescribeAutomationExecutions filtered by ParentExecutionId, paginated) and
  GetAutomationExecution each. botocore's default retry configuration, untouched.

Credentials and the endpoint come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL),
as for any boto3 program. Each prints one JSON line: wall time of the harvest (imports and set-up excluded), the
retries the client saw, and its own VmHWM. Records go to ``spec["records"]`` as JSON Lines, one line per location.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
for _path in (str(REPO / ".build" / "collections"), str(REPO)):
    if _path not in sys.path:
        sys.path.insert(0, _path)


def vm_hwm_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds() -> float:
    """User + system CPU of this process and of its reaped children (the harvest's worker processes)."""
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _retry_attempts(response: dict) -> int:
    return ((response or {}).get("ResponseMetadata") or {}).get("RetryAttempts", 0) or 0


# ---------------------------------------------------------------------------------------------------------------
# ours
# ---------------------------------------------------------------------------------------------------------------


def ours(spec: dict) -> dict:
    from ansible_collections.orgops.ssm_automation.plugins.module_utils import report
    from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest import clients, expected, harvest

    connect = {
        "aws_access_key_id": os.environ["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": os.environ["AWS_SECRET_ACCESS_KEY"],
    }
    writer = report.JsonLinesWriter(spec["records"]) if spec["stream"] else None

    def on_header(header):
        writer.open()
        writer.header(header)

    cpu0 = cpu_seconds()
    t0 = time.monotonic()
    targets_file = spec.get("targets_file")
    kept = expected.read_file(targets_file) if targets_file else None  # as the module reads it (the role's path)
    factory = clients.factory_from_connection(
        spec["region"],
        os.environ["AWS_ENDPOINT_URL"],
        connect,
        role_name=spec["reader_role"],
        retry_mode=spec["retry_mode"],
        max_attempts=spec["max_attempts"],
    )
    result = harvest.gather(
        factory,
        spec["parent_id"],
        spec["region"],
        concurrency=spec["concurrency"],
        rate=spec["rate"],
        callback=writer.location if writer else None,
        keep=writer is None,
        on_header=on_header if writer else None,
        processes=spec.get("processes", 1),
        details=bool(spec.get("details")),
        expected=kept,
        on_expected=(lambda recomputed: expected.write_file(targets_file, recomputed)) if targets_file else None,
    )
    if writer:
        writer.summary(result["summary"])
        writer.close()
    wall = time.monotonic() - t0
    harvest_cpu = cpu_seconds() - cpu0
    hwm_harvest = vm_hwm_mb()
    if writer is None:  # the records, for the identity check (after the clock stopped)
        with open(spec["records"], "w", encoding="utf-8") as out:
            for location in result["locations"]:
                out.write(json.dumps(dict(location, type="location"), sort_keys=True, default=str) + "\n")
    summary = result["summary"]
    return {
        "wall_s": wall,
        "retries": summary["retries"],
        "api_calls_reported": summary["api_calls"],
        "assume_role_calls": factory.assume_calls,
        "instances": summary["instances"],
        "locations": summary["locations"],
        "read_errors": summary["read_errors"],
        "unreadable_locations": summary["unreadable_locations"],
        "vm_hwm_mb": hwm_harvest,
        "processes": summary.get("processes", 1),
        "harvest_cpu_s": harvest_cpu,
    }


# ---------------------------------------------------------------------------------------------------------------
# baseline
# ---------------------------------------------------------------------------------------------------------------


def _parent_locations(session, spec: dict) -> tuple[str, dict, int]:
    """The parent execution's location steps, as the obvious loop reads them: GetAutomationExecution, its step
    executions paginated when truncated. Returns the target parameter, ``{account: [(region, step), ...]}`` and the
    retries seen."""
    retries = 0
    ssm = session.client("ssm")
    response = ssm.get_automation_execution(AutomationExecutionId=spec["parent_id"])
    retries += _retry_attempts(response)
    parent = response["AutomationExecution"]
    steps = parent.get("StepExecutions") or []
    if parent.get("StepExecutionsTruncated"):
        steps = []
        pages = ssm.get_paginator("describe_automation_step_executions")
        for page in pages.paginate(AutomationExecutionId=spec["parent_id"]):
            retries += _retry_attempts(page)
            steps.extend(page["StepExecutions"])
    parameter = parent.get("TargetParameterName") or "InstanceId"

    by_account: dict[str, list] = {}
    for step in steps:
        target = step.get("TargetLocation") or {}
        for account in target.get("Accounts") or []:
            for region in target.get("Regions") or [spec["region"]]:
                by_account.setdefault(account, []).append((region, step))
    return parameter, by_account, retries


def _location_record(account: str, region: str, step: dict) -> tuple[dict, str | None]:
    member_id = ((step.get("Outputs") or {}).get("ExecutionId") or [None])[0]
    record = {
        "type": "location",
        "account": account,
        "region": region,
        "status": step.get("StepStatus"),
        "member_execution_id": member_id,
        "instances": [],
    }
    return record, member_id


def _instance_record(execution: dict, parameter: str) -> dict:
    return {
        "instance_id": ((execution.get("Parameters") or {}).get(parameter) or [None])[0],
        "execution_id": execution["AutomationExecutionId"],
        "status": execution.get("AutomationExecutionStatus"),
        "steps": [
            {
                "step_name": s.get("StepName"),
                "status": s.get("StepStatus"),
                "outputs": s.get("Outputs") or {},
                "failure_message": s.get("FailureMessage"),
            }
            for s in execution.get("StepExecutions") or []
        ],
    }


def baseline(spec: dict) -> dict:
    import boto3

    cpu0 = cpu_seconds()
    t0 = time.monotonic()
    session = boto3.session.Session(region_name=spec["region"])
    parameter, by_account, retries = _parent_locations(session, spec)

    sts = session.client("sts")
    locations = instances = errors = 0
    with open(spec["records"], "w", encoding="utf-8") as out:
        for account, account_locations in by_account.items():
            credentials = None
            error = None
            try:
                response = sts.assume_role(
                    RoleArn=f"arn:aws:iam::{account}:role/{spec['reader_role']}", RoleSessionName="baseline"
                )
                retries += _retry_attempts(response)
                credentials = response["Credentials"]
            except Exception as exc:  # noqa: BLE001 - recorded on each of the account's locations
                error = repr(exc)
            for region, step in account_locations:
                locations += 1
                record, member_id = _location_record(account, region, step)
                if error or not member_id:
                    record["read_error"] = error or "no member execution"
                    errors += 1
                    out.write(json.dumps(record, sort_keys=True, default=str) + "\n")
                    continue
                try:
                    member = session.client(
                        "ssm",
                        region_name=region,
                        aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretAccessKey"],
                        aws_session_token=credentials["SessionToken"],
                    )
                    pages = member.get_paginator("describe_automation_executions")
                    for page in pages.paginate(Filters=[{"Key": "ParentExecutionId", "Values": [member_id]}]):
                        retries += _retry_attempts(page)
                        for meta in page["AutomationExecutionMetadataList"]:
                            response = member.get_automation_execution(
                                AutomationExecutionId=meta["AutomationExecutionId"]
                            )
                            retries += _retry_attempts(response)
                            execution = response["AutomationExecution"]
                            record["instances"].append(_instance_record(execution, parameter))
                            instances += 1
                except Exception as exc:  # noqa: BLE001 - recorded on the location
                    record["read_error"] = repr(exc)
                    errors += 1
                out.write(json.dumps(record, sort_keys=True, default=str) + "\n")
    wall = time.monotonic() - t0
    return {
        "wall_s": wall,
        "retries": retries,
        "instances": instances,
        "locations": locations,
        "read_errors": errors,
        "vm_hwm_mb": vm_hwm_mb(),
        "harvest_cpu_s": cpu_seconds() - cpu0,
    }


# ---------------------------------------------------------------------------------------------------------------
# awsrun: the tool a user would pick instead of us (https://github.com/fmr-llc/awsrun), as its documentation shows
# ---------------------------------------------------------------------------------------------------------------


def awsrun(spec: dict) -> dict:
    """The same harvest written with awsrun's library, the way its documentation shows (``awsrun.runner`` and
    ``awsrun.session.aws`` module docs): a ``RegionalCommand`` whose ``regional_execute`` reads one account and
    region with the boto3 session awsrun hands it, results collected in ``regional_collect_results`` (awsrun calls it
    sequentially in the main thread), an ``AccountRunner`` over the accounts with ``max_workers`` set to ours'
    concurrency (64), and cross-account credentials through ``CredsViaCrossAccount`` hopping off the management
    account, whose own credentials come from ``CredsViaProfile`` (no profile named after the account: boto3's default
    chain, here the environment). The parent's location steps are read first, as the baseline reads them."""
    import threading

    import boto3
    from awsrun.runner import AccountRunner, RegionalCommand
    from awsrun.session.aws import CredsViaCrossAccount, CredsViaProfile

    cpu0 = cpu_seconds()
    t0 = time.monotonic()
    session = boto3.session.Session(region_name=spec["region"])
    parameter, by_account, parent_retries = _parent_locations(session, spec)
    steps = {(account, region): step for account, locs in by_account.items() for region, step in locs}
    regions = sorted({region for _account, region in steps})

    class HarvestCommand(RegionalCommand):
        def __init__(self, regions, out):
            super().__init__(regions)
            self.out = out
            self.locations = self.instances = self.errors = 0
            self.retries = 0
            self.lock = threading.Lock()  # only for the retry counter; collect_results runs in the main thread

        def regional_execute(self, session, acct, region):
            step = steps.get((acct, region))
            if step is None:  # an account not targeted in this region
                return None
            record, member_id = _location_record(acct, region, step)
            if not member_id:
                record["read_error"] = "no member execution"
                return record
            retries = 0
            ssm = session.client("ssm", region_name=region)
            pages = ssm.get_paginator("describe_automation_executions")
            for page in pages.paginate(Filters=[{"Key": "ParentExecutionId", "Values": [member_id]}]):
                retries += _retry_attempts(page)
                for meta in page["AutomationExecutionMetadataList"]:
                    response = ssm.get_automation_execution(AutomationExecutionId=meta["AutomationExecutionId"])
                    retries += _retry_attempts(response)
                    record["instances"].append(_instance_record(response["AutomationExecution"], parameter))
            with self.lock:
                self.retries += retries
            return record

        def regional_collect_results(self, acct, region, get_result):
            try:
                record = get_result()
            except Exception as exc:  # noqa: BLE001 - recorded on the location, as the baseline does
                step = steps.get((acct, region))
                if step is None:
                    return
                record, _member = _location_record(acct, region, step)
                record["read_error"] = repr(exc)
            if record is None:
                return
            self.locations += 1
            self.instances += len(record["instances"])
            self.errors += 1 if record.get("read_error") else 0
            self.out.write(json.dumps(record, sort_keys=True, default=str) + "\n")

    session_provider = CredsViaCrossAccount(
        base_auth=CredsViaProfile(), base_acct=spec["management_account"], role=spec["reader_role"]
    )
    runner = AccountRunner(session_provider, max_workers=spec["workers"])
    with open(spec["records"], "w", encoding="utf-8") as out:
        command = HarvestCommand(regions, out)
        runner.run(command, list(by_account))
    wall = time.monotonic() - t0
    return {
        "wall_s": wall,
        "retries": parent_retries + command.retries,
        "instances": command.instances,
        "locations": command.locations,
        "read_errors": command.errors,
        "vm_hwm_mb": vm_hwm_mb(),
        "harvest_cpu_s": cpu_seconds() - cpu0,
        "workers": spec["workers"],
    }


# ---------------------------------------------------------------------------------------------------------------
# probe: how many requests per second the sandbox serves under threads, and its CPU cost per request
# ---------------------------------------------------------------------------------------------------------------


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def probe(spec: dict) -> dict:
    """GetAutomationExecution on instance executions, from 1, 8 and 32 threads, for a fixed number of calls per
    level, no faults. Reports requests per second, and the sandbox's and this client's CPU milliseconds per request
    (the sandbox is one Python process: its requests share one GIL).

    Two clients per level: ``levels``, one plain boto3 client per thread (botocore's defaults), and
    ``member_levels``, the harvest's own member client (``clients.ClientFactory``: validation off, the cheaper
    timestamp parser, one client per region shared by the threads, each thread signing as its account), so that the
    CPU a bare call needs, alone and under concurrency, is measured in the same run as the contenders."""
    import resource
    import threading

    import boto3

    from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest import clients

    session = boto3.session.Session(region_name=spec["region"])
    sts = session.client("sts")
    creds = {}
    for target in spec["targets"]:
        if target["account"] not in creds:
            c = sts.assume_role(
                RoleArn=f"arn:aws:iam::{target['account']}:role/{spec['reader_role']}", RoleSessionName="probe"
            )["Credentials"]
            creds[target["account"]] = c
    factory = clients.factory_from_connection(
        spec["region"],
        os.environ["AWS_ENDPOINT_URL"],
        {
            "aws_access_key_id": os.environ["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": os.environ["AWS_SECRET_ACCESS_KEY"],
        },
        role_name=spec["reader_role"],
    )
    factory.pool_size = max(spec["levels"])

    def plain_client(target):
        c = creds[target["account"]]
        return session.client(
            "ssm",
            region_name=target["region"],
            aws_access_key_id=c["AccessKeyId"],
            aws_secret_access_key=c["SecretAccessKey"],
            aws_session_token=c["SessionToken"],
        )

    def member_client(target):
        return factory.client("ssm", target["region"], target["account"])

    def measure(make_client):
        levels = []
        for threads in spec["levels"]:
            clients_ = []
            for i in range(threads):
                target = spec["targets"][i % len(spec["targets"])]
                client = make_client(target)
                client.get_automation_execution(AutomationExecutionId=target["execution_id"])  # warm the connection
                clients_.append((client, target["execution_id"]))
            per_thread = max(1, spec["calls"] // threads)
            errors = []

            def work(client, execution_id, n=per_thread, errors=errors):
                for _ in range(n):
                    try:
                        client.get_automation_execution(AutomationExecutionId=execution_id)
                    except Exception as exc:  # noqa: BLE001 - counted
                        errors.append(repr(exc))

            pool = [threading.Thread(target=work, args=c) for c in clients_]
            server0, self0 = _cpu_of(spec["server_pid"]), resource.getrusage(resource.RUSAGE_SELF)
            t0 = time.monotonic()
            for t in pool:
                t.start()
            for t in pool:
                t.join()
            wall = time.monotonic() - t0
            server1, self1 = _cpu_of(spec["server_pid"]), resource.getrusage(resource.RUSAGE_SELF)
            calls = per_thread * threads
            client_cpu = (self1.ru_utime - self0.ru_utime) + (self1.ru_stime - self0.ru_stime)
            levels.append(
                {
                    "threads": threads,
                    "calls": calls,
                    "errors": len(errors),
                    "wall_s": wall,
                    "rps": calls / wall if wall else None,
                    "sandbox_cpu_ms_per_call": 1000 * (server1 - server0) / calls,
                    "client_cpu_ms_per_call": 1000 * client_cpu / calls,
                }
            )
        return levels

    levels = measure(plain_client)
    member_levels = measure(member_client)
    return {
        "wall_s": sum(level["wall_s"] for level in levels + member_levels),
        "levels": levels,
        "member_levels": member_levels,
        "vm_hwm_mb": vm_hwm_mb(),
    }


KINDS = {"ours": ours, "baseline": baseline, "awsrun": awsrun, "probe": probe}


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in KINDS:
        print(f"usage: {argv[0]} {{{','.join(KINDS)}}} SPEC.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[2]).read_text())
    result = KINDS[argv[1]](spec)
    print(json.dumps(result, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
