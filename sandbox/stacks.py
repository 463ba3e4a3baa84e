"""CloudFormation DescribeStackResources by PhysicalResourceId, which moto ignores (it needs StackName).

What AWS does (CloudFormation API reference, DescribeStackResources): "If PhysicalResourceId is specified, the
associated resources of the stack that the resource belongs to are returned"; StackName or PhysicalResourceId must
be given, not both; resources of deleted stacks are returned for 90 days (their ResourceStatus is DELETE_COMPLETE).
A physical id that no stack of the account and region holds is answered with ValidationError "Stack for <id> does
not exist". A request with StackName goes to moto unchanged.
"""

from __future__ import annotations

from sandbox.server import AwsError, Call, PassThrough


def _resources(stack, deleted: bool) -> list[dict]:
    out = []
    for res in stack.stack_resources:
        physical = getattr(res, "physical_resource_id", None)
        out.append(
            {
                "StackName": stack.name,
                "StackId": stack.stack_id,
                "LogicalResourceId": getattr(res, "logical_resource_id", None),
                "PhysicalResourceId": physical,
                "ResourceType": getattr(res, "cf_resource_type", None) or getattr(res, "type", None),
                "Timestamp": stack.creation_time,
                "ResourceStatus": "DELETE_COMPLETE" if deleted else "CREATE_COMPLETE",
            }
        )
    return out


def install(sb) -> None:
    def describe_stack_resources(call: Call) -> dict:
        p = call.params
        physical = p.get("PhysicalResourceId")
        if not physical:
            raise PassThrough()
        if p.get("StackName"):
            raise AwsError("ValidationError", "Specify either StackName or PhysicalResourceId, but not both", 400)
        backend = sb.moto_backend("cloudformation", call.account_id, call.region)
        candidates = [(s, False) for s in backend.stacks.values()] + [
            (s, True) for s in backend.deleted_stacks.values()
        ]
        for stack, deleted in candidates:
            resources = _resources(stack, deleted or stack.status == "DELETE_COMPLETE")
            if any(r["PhysicalResourceId"] == physical for r in resources):
                logical = p.get("LogicalResourceId")
                if logical:
                    resources = [r for r in resources if r["LogicalResourceId"] == logical]
                return {"StackResources": resources}
        raise AwsError("ValidationError", f"Stack for {physical} does not exist", 400)

    sb.register("cloudformation", "DescribeStackResources", describe_stack_resources)
