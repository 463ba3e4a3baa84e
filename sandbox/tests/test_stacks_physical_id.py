"""DescribeStackResources by PhysicalResourceId, as AWS answers it (moto ignores PhysicalResourceId).

CloudFormation API reference, DescribeStackResources: with PhysicalResourceId, the resources of the stack that holds
it; StackName or PhysicalResourceId, not both; deleted stacks' resources for 90 days (DELETE_COMPLETE); a physical id
no stack holds: ValidationError "Stack for <id> does not exist".
"""

from __future__ import annotations

import botocore.exceptions
import pytest

ADMIN = "AWS-SystemsManager-AutomationAdministrationRole"
ROLE_ONLY = """AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: sandbox-physical-id-test
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {Service: ssm.amazonaws.com}
            Action: sts:AssumeRole
"""


def _error(fn):
    with pytest.raises(botocore.exceptions.ClientError) as info:
        fn()
    return info.value.response["Error"]


def test_the_stack_that_holds_a_role_is_found_by_the_role_name(sandbox):
    cfn = sandbox.client("cloudformation", region="ap-northeast-1")
    resources = cfn.describe_stack_resources(PhysicalResourceId=ADMIN)["StackResources"]
    [role] = [r for r in resources if r["PhysicalResourceId"] == ADMIN]
    assert role["StackName"] == ADMIN and role["ResourceType"] == "AWS::IAM::Role"
    assert role["StackId"].startswith("arn:aws:cloudformation:ap-northeast-1:111122223333:stack/")
    assert role["ResourceStatus"] == "CREATE_COMPLETE"
    # by its name too (moto answers that one)
    assert cfn.describe_stack_resources(StackName=ADMIN)["StackResources"]


def test_another_region_or_an_unknown_id_is_a_validation_error(sandbox):
    for region, physical in (("eu-west-1", ADMIN), ("ap-northeast-1", "no-such-role")):
        err = _error(
            lambda r=region, p=physical: sandbox.client("cloudformation", region=r).describe_stack_resources(
                PhysicalResourceId=p
            )
        )
        assert err["Code"] == "ValidationError" and err["Message"] == f"Stack for {physical} does not exist"


def test_stack_name_and_physical_id_together_are_refused(sandbox):
    cfn = sandbox.client("cloudformation", region="ap-northeast-1")
    err = _error(lambda: cfn.describe_stack_resources(StackName=ADMIN, PhysicalResourceId=ADMIN))
    assert err["Code"] == "ValidationError"


def test_a_deleted_stack_answers_delete_complete(sandbox):
    cfn = sandbox.client("cloudformation", region="us-east-1")
    cfn.create_stack(StackName="physical-id-deleted", TemplateBody=ROLE_ONLY, Capabilities=["CAPABILITY_NAMED_IAM"])
    cfn.delete_stack(StackName="physical-id-deleted")
    resources = cfn.describe_stack_resources(PhysicalResourceId="sandbox-physical-id-test")["StackResources"]
    assert {r["ResourceStatus"] for r in resources} == {"DELETE_COMPLETE"}
