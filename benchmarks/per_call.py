"""Where one call's client CPU goes: a warm botocore call against the sandbox, taken apart, and the same harvest at
growing concurrency. Prints figures; asserts nothing.

``python benchmarks/per_call.py [--calls N] [--rounds R]`` (``make bench-per-call``)

A small world (40 accounts x 2 regions x 10 instances) is started and its automation run once (not measured). Then,
in this process, CPU time (``getrusage``, user + system) per call of:

1. **bare calls**: one warm client reading one instance execution again and again (GetAutomationExecution), one
   thread, no fault: with botocore's defaults, and configured as the harvest's member clients are
   (``clients.ClientFactory``: client-side validation off, the cheaper timestamp parser, one loader);
2. **its parts, offline**: parsing that answer (botocore's JSON parser, default and member timestamp parser),
   signing the request (SigV4), and ``json.loads`` of the body alone;
3. **the HTTP exchange alone**: the same signed bytes sent again through urllib3 (botocore's HTTP library) and
   through ``http.client``, on a kept connection;
4. **the harvest in this process** (``harvest.gather``, one process): sequential with no latency, then at
   concurrency 8 and 64 with the bench's latency (20 ms) and pacing (10 calls/s per location), so that what
   concurrency itself costs per call shows.

Each figure is the smallest of ``--rounds`` rounds (the machine is shared; the smallest is the least disturbed).
What it answers: how far below a bare call the harvest's CPU per call can go, and where a call's CPU is spent.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parent.parent
for _path in (str(REPO / ".build" / "collections"), str(REPO)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from benchmarks import harness  # noqa: E402


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def per_call_ms(fn, calls: int, rounds: int) -> float:
    """The smallest, over ``rounds``, of the CPU milliseconds per call of ``fn`` run ``calls`` times (after a warm-up)."""
    for _ in range(min(50, calls)):
        fn()
    best = float("inf")
    for _ in range(rounds):
        t0 = cpu()
        for _ in range(calls):
            fn()
        best = min(best, 1000 * (cpu() - t0) / calls)
    return best


def offline_parts(answer: bytes, calls: int, rounds: int) -> dict:
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    import botocore.parsers
    import botocore.session

    from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest import clients

    shape = botocore.session.get_session().get_service_model("ssm").operation_model("GetAutomationExecution")
    response = {"status_code": 200, "headers": {"content-type": "application/x-amz-json-1.1"}, "body": answer}
    factory = botocore.parsers.ResponseParserFactory()
    default = factory.create_parser("json")
    factory.set_parser_defaults(timestamp_parser=clients.local_timestamp)
    member = factory.create_parser("json")
    signer = botocore.auth.SigV4Auth(
        botocore.credentials.Credentials("AKIDEXAMPLE", "secret", "token"), "ssm", "eu-west-1"
    )

    def sign():
        request = botocore.awsrequest.AWSRequest(
            method="POST",
            url="https://ssm.eu-west-1.amazonaws.com/",
            data=b'{"AutomationExecutionId": "00000000-0000-4000-8000-000000000000"}',
            headers={"X-Amz-Target": "AmazonSSM.GetAutomationExecution", "Content-Type": "application/x-amz-json-1.1"},
        )
        signer.add_auth(request)

    return {
        "parse_default_ms": per_call_ms(lambda: default.parse(dict(response), shape.output_shape), calls, rounds),
        "parse_member_ms": per_call_ms(lambda: member.parse(dict(response), shape.output_shape), calls, rounds),
        "json_loads_ms": per_call_ms(lambda: json.loads(answer), calls, rounds),
        "sign_ms": per_call_ms(sign, calls, rounds),
    }


def run(calls: int, rounds: int) -> dict:
    import http.client

    import boto3
    import urllib3

    from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest import clients, harvest

    p = harness.Params(accounts=40, regions=2, instances=10)
    world = harness.make_world(p)
    out: dict = {"machine": harness.machine(), "calls": calls, "rounds": rounds}
    with tempfile.TemporaryDirectory(prefix="bench-per-call-") as tmp:
        handle = harness.start_sandbox(world, Path(tmp) / "sandbox")
        try:
            parent = harness.start_automation(handle, world)
            region = world["regions"][0]
            connect = {
                "aws_access_key_id": handle.env["AWS_ACCESS_KEY_ID"],
                "aws_secret_access_key": handle.env["AWS_SECRET_ACCESS_KEY"],
            }
            factory = clients.factory_from_connection(region, handle.endpoint, connect, role_name=harness.READER_ROLE)
            steps = factory.client("ssm", region).get_automation_execution(
                AutomationExecutionId=parent["AutomationExecutionId"]
            )["AutomationExecution"]["StepExecutions"]
            account = steps[0]["TargetLocation"]["Accounts"][0]
            member_id = steps[0]["Outputs"]["ExecutionId"][0]
            member = factory.client("ssm", region, account)
            child = member.describe_automation_executions(
                Filters=[{"Key": "ParentExecutionId", "Values": [member_id]}]
            )["AutomationExecutionMetadataList"][0]["AutomationExecutionId"]
            creds = factory.credentials(account)["frozen"]
            plain = boto3.session.Session().client(
                "ssm",
                region_name=region,
                endpoint_url=handle.endpoint,
                aws_access_key_id=creds.access_key,
                aws_secret_access_key=creds.secret_key,
                aws_session_token=creds.token,
            )
            sent = {}

            def keep(request, **_kwargs):
                sent.update(url=request.url, body=request.body, headers=dict(request.headers))

            plain.meta.events.register("before-send", keep)
            answer = plain.get_automation_execution(AutomationExecutionId=child)
            plain.meta.events.unregister("before-send", keep)
            # the answer again as AWS's JSON protocol sends it (timestamps as epoch seconds), for the offline parts
            body = json.dumps(
                {"AutomationExecution": answer["AutomationExecution"]}, default=lambda value: value.timestamp()
            ).encode()
            out["answer_bytes"] = len(body)
            out["bare"] = {
                "botocore_defaults_ms": per_call_ms(
                    lambda: plain.get_automation_execution(AutomationExecutionId=child), calls, rounds
                ),
                "member_client_ms": per_call_ms(
                    lambda: member.get_automation_execution(AutomationExecutionId=child), calls, rounds
                ),
            }
            headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in sent["headers"].items()}
            pool = urllib3.PoolManager()
            url = urlparse(handle.endpoint)
            connection = http.client.HTTPConnection(url.hostname, url.port)

            def raw():
                connection.request("POST", "/", body=sent["body"], headers=headers)
                connection.getresponse().read()

            out["http"] = {
                "urllib3_ms": per_call_ms(
                    lambda: pool.request("POST", sent["url"], body=sent["body"], headers=headers).data, calls, rounds
                ),
                "http_client_ms": per_call_ms(raw, calls, rounds),
            }
            out["offline"] = offline_parts(body, calls, rounds)
            out["harvest"] = []
            for concurrency, rate, latency in ((1, 0.0, 0.0), (8, 10.0, 20.0), (64, 10.0, 20.0)):
                best = None
                for _ in range(rounds):
                    handle.set_faults(harness.fault_rules(latency, 0.0))
                    seq0 = handle.last_seq()
                    t0 = cpu()
                    fresh = clients.factory_from_connection(
                        region, handle.endpoint, connect, role_name=harness.READER_ROLE
                    )
                    harvest.gather(fresh, parent["AutomationExecutionId"], region, concurrency=concurrency, rate=rate)
                    spent = cpu() - t0
                    n = handle.last_seq() - seq0
                    handle.clear_faults()
                    ms = 1000 * spent / n
                    best = ms if best is None else min(best, ms)
                out["harvest"].append(
                    {"concurrency": concurrency, "rate": rate, "latency_ms": latency, "calls": n, "ms_per_call": best}
                )
        finally:
            handle.stop()
    return out


def render(r: dict) -> str:
    bare, http, off = r["bare"], r["http"], r["offline"]
    lines = [
        f"per-call CPU, one GetAutomationExecution of an instance execution ({r['answer_bytes']} bytes of JSON), "
        f"smallest of {r['rounds']} rounds of {r['calls']} calls; machine: {r['machine']['nproc']} CPUs, load "
        f"{r['machine']['loadavg_start']}",
        f"  bare warm call, botocore defaults        {bare['botocore_defaults_ms']:.3f} ms",
        f"  bare warm call, the harvest's member client {bare['member_client_ms']:.3f} ms",
        f"    of which the HTTP exchange (urllib3)   {http['urllib3_ms']:.3f} ms  (http.client alone {http['http_client_ms']:.3f} ms)",
        f"    parsing the answer                     {off['parse_member_ms']:.3f} ms  (default timestamp parser "
        f"{off['parse_default_ms']:.3f} ms; json.loads alone {off['json_loads_ms']:.3f} ms)",
        f"    signing (SigV4)                        {off['sign_ms']:.3f} ms",
        f"    the rest of botocore's call            "
        f"{bare['member_client_ms'] - http['urllib3_ms'] - off['parse_member_ms'] - off['sign_ms']:.3f} ms "
        "(serialization, endpoint, events, retry handler, request objects)",
        "  the harvest in one process (gather), every call counted (AssumeRole and Organizations included):",
    ]
    for h in r["harvest"]:
        lines.append(
            f"    concurrency {h['concurrency']:>2}, latency {h['latency_ms']:.0f} ms, rate {h['rate']:g}/s per "
            f"location: {h['ms_per_call']:.3f} ms per call ({h['calls']} calls)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--results", default=str(REPO / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    result = run(args.calls, args.rounds)
    print(render(result))
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    path = results / time.strftime("per-call-%Y%m%dT%H%M%S.json", time.gmtime())
    path.write_text(json.dumps(result, indent=2, default=str))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
