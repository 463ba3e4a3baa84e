"""Build a world through real API calls, so that the state is moto's own.

Every step is an AWS API call made in-process through the sandbox's own layer (``Sandbox.client``): organizations
CreateOrganization / CreateOrganizationalUnit / CreateAccount / MoveAccount, iam CreateUser / CreateRole, ec2
RunInstances / StopInstances, cloudformation CreateStack / CreateStackSet / CreateStackInstances. The one exception
is :func:`_adopt_world_ids`: moto draws organization, root, OU and account ids at random, and the world file fixes
them, so that function sets the world's ids on moto's objects right after each create call.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from sandbox.world import Instance

log = logging.getLogger("sandbox.build")

REPO = Path(__file__).resolve().parent.parent
ROLE_FILES = REPO / "roles" / "execution_roles" / "files"
ADMIN_ROLE_STACK = "AWS-SystemsManager-AutomationAdministrationRole"
EXECUTION_ROLE_NAME = "AWS-SystemsManager-AutomationExecutionRole"
EXECUTION_STACKSET = "AWS-SystemsManager-AutomationExecutionRole"
MANAGEMENT_EXECUTION_STACK = "AWS-SystemsManager-AutomationExecutionRole-org"
READER_STACKSET = "AWS-SystemsManager-AutomationResultsReaderRole"  # as roles/execution_roles names it
MANAGEMENT_READER_STACK = "AWS-SystemsManager-AutomationResultsReaderRole-org"
ORG_ACCESS_ROLE = "OrganizationAccountAccessRole"


class BuildError(RuntimeError):
    pass


def build_world(sb) -> None:
    from moto.moto_api._internal import mock_random

    world = sb.world
    mock_random.seed(world.seed)  # moto's own seeded randomness: instance ids etc. are the same on every build
    mgmt = world.management_account_id
    org = sb.client("organizations", mgmt, "us-east-1")

    # Organization, root
    org.create_organization(FeatureSet=world.feature_set)
    _adopt_world_ids(sb, "organization", None, world.organization_id, root_id=world.root_id)
    # The IAM user behind the management account's static credentials.
    sb.client("iam", mgmt, "us-east-1").create_user(UserName=world.management_user)

    # OUs, parents first (world.ous is in file order, which is depth-first from the root)
    for ou in world.ous.values():
        created = org.create_organizational_unit(ParentId=ou.parent_id, Name=ou.name)["OrganizationalUnit"]["Id"]
        _adopt_world_ids(sb, "ou", created, ou.id)

    # Accounts
    for acct in list(world.accounts.values()):
        if acct.id == mgmt:
            _adopt_world_ids(sb, "management", mgmt, mgmt, name=acct.name, email=acct.email)
            continue
        status = org.create_account(Email=acct.email, AccountName=acct.name)["CreateAccountStatus"]
        _adopt_world_ids(sb, "account", status["AccountId"], acct.id)
        # As AWS does for accounts created in the organization: OrganizationAccountAccessRole, trusting the
        # management account's root.
        sb.client("iam", acct.id, "us-east-1").create_role(
            RoleName=ORG_ACCESS_ROLE,
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:aws:iam::{mgmt}:root"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )
        if acct.parent_id != world.root_id:
            org.move_account(AccountId=acct.id, SourceParentId=world.root_id, DestinationParentId=acct.parent_id)

    # Instances
    world.instances = []
    for account_id, region in dict.fromkeys((s.account_id, s.region) for s in world.instance_specs):
        # Warm up before the seeding below: moto's EC2 app and backend for each place exist in both cases.
        sb.client("ec2", account_id, region).describe_instances(MaxResults=5)
    for n, spec in enumerate(world.instance_specs):
        ec2 = sb.client("ec2", spec.account_id, spec.region)
        # Re-seed moto's generator per instance group: the same world gets the same instance ids, on a first build
        # and after a reset alike (moto's own caches make the number of earlier draws differ between the two).
        mock_random.seed(world.seed * 100003 + n)
        tags = [{"Key": "Name", "Value": spec.name}] + [
            {"Key": k, "Value": v} for k, v in spec.tags.items() if k != "Name"
        ]
        resp = ec2.run_instances(
            ImageId=spec.ami,
            InstanceType=spec.instance_type,
            MinCount=spec.count,
            MaxCount=spec.count,
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )
        ids = [i["InstanceId"] for i in resp["Instances"]]
        if spec.state == "stopped":
            ec2.stop_instances(InstanceIds=ids)
        all_tags = {t["Key"]: t["Value"] for t in tags}
        for iid in ids:
            world.instances.append(
                Instance(
                    instance_id=iid,
                    account_id=spec.account_id,
                    region=spec.region,
                    name=spec.name,
                    tags=dict(all_tags),
                    platform=spec.platform,
                    state=spec.state,
                    managed=spec.managed,
                    agent_online=spec.agent_online,
                    os_profile=spec.os_profile,
                    ami=spec.ami,
                    instance_type=spec.instance_type,
                )
            )

    # The one-time prerequisite of service-managed StackSets (docs/permissions.md): trusted access for CloudFormation
    # StackSets, whose service principal is member.org.stacksets.cloudformation.amazonaws.com (AWS Organizations
    # User Guide, "AWS CloudFormation StackSets and AWS Organizations"). Every sandbox organization has it, as an
    # organization that ran the seed has.
    sb.client("organizations", world.management_account_id, "us-east-1").enable_aws_service_access(
        ServicePrincipal=STACKSETS_PRINCIPAL
    )
    deploy_automation_roles(sb)


STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"


def _adopt_world_ids(sb, kind: str, moto_id: str | None, world_id: str, **extra) -> None:
    """THE ONE PLACE that writes to moto's objects directly: give them the ids (and names) the world file fixes.

    moto draws these ids at random and has no API to choose them. Called once, right after the create call:
    - ``organization``: organization id and root id (the organization, its root OU, the management account and
      the default policies carry them);
    - ``ou``: the new OU's id;
    - ``account``: the new account's id; moto created OrganizationAccountAccessRole under the random id's IAM
      backend, which is dropped (the caller creates the role under the world id through the IAM API);
    - ``management``: the management account's name and email.
    """
    from moto.iam.models import iam_backends
    from moto.organizations.models import organizations_backends

    backend = sb.org_backend()
    o = backend.org
    if kind == "organization":
        root = next(ou for ou in backend.ou if ou.id == o.root_id)
        old_root_id = o.root_id
        o.id = world_id
        o.root_id = extra["root_id"]
        root.id = extra["root_id"]
        root.organization_id = world_id
        for acct in backend.accounts:
            acct.organization_id = world_id
            if acct.parent_id == old_root_id:  # the management account: ListAccountsForParent(root) lists it, as in AWS
                acct.parent_id = extra["root_id"]
        for pol in backend.policies:
            pol.organization_id = world_id
    elif kind == "ou":
        ou = backend.get_organizational_unit_by_id(moto_id)
        ou.id = world_id
    elif kind == "account":
        acct = backend.get_account_by_id(moto_id)
        acct.id = world_id
        organizations_backends.master_accounts[world_id] = organizations_backends.master_accounts.pop(moto_id)
        iam_backends.pop(moto_id, None)
    elif kind == "management":
        acct = backend.get_account_by_id(moto_id)
        acct.name = extra["name"]
        acct.email = extra["email"]
        o.master_account_email = extra["email"]
    else:  # pragma: no cover - programming error
        raise ValueError(kind)


# ---------------------------------------------------------------------------------------------------------------
# The automation roles (the seed's templates), deployed through CloudFormation as a user would
# ---------------------------------------------------------------------------------------------------------------
def deploy_automation_roles(sb) -> None:
    world = sb.world
    cfg = world.automation_roles or {}
    if not cfg:
        return
    if not hasattr(sb.stacksets, "create_stack_set"):
        log.warning("sandbox: StackSets are not available yet; automation_roles skipped")
        return
    mgmt = world.management_account_id
    regions = cfg.get("regions") or [world.regions[0]]
    home = regions[0]
    cfn = sb.client("cloudformation", mgmt, home)
    params = [
        {"ParameterKey": "AdminAccountId", "ParameterValue": mgmt},
        {"ParameterKey": "OrganizationID", "ParameterValue": world.organization_id},
    ]
    if cfg.get("admin", True):
        cfn.create_stack(
            StackName=ADMIN_ROLE_STACK,
            TemplateBody=(ROLE_FILES / "admin-role.yml").read_text(),
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
    targets = cfg.get("execution_stackset_targets")
    if targets:
        _stackset(
            sb, cfn, EXECUTION_STACKSET, (ROLE_FILES / "execution-role.yml").read_text(), params, targets, regions
        )
    if cfg.get("management_execution_stack"):
        cfn.create_stack(
            StackName=MANAGEMENT_EXECUTION_STACK,
            TemplateBody=(ROLE_FILES / "execution-role.yml").read_text(),
            Parameters=params,
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
    reader_name = None
    if cfg.get("reader_role"):
        reader = ROLE_FILES / "reader-role.yml"
        if not reader.exists():
            raise BuildError(
                f"automation_roles.reader_role: {reader} does not exist (the reader role template is not in the repo yet)"
            )
        body = reader.read_text()
        declared = _template_parameters(body)
        reader_name = (declared.get("RoleName") or {}).get("Default", "AWS-SystemsManager-AutomationResultsReaderRole")
        rparams = [p for p in params if p["ParameterKey"] in declared]
        _stackset(
            sb,
            cfn,
            READER_STACKSET,
            body,
            rparams,
            cfg.get("reader_role_targets") or targets or [world.root_id],
            regions,
        )
        if cfg.get("management_execution_stack"):
            cfn.create_stack(
                StackName=MANAGEMENT_READER_STACK,
                TemplateBody=body,
                Parameters=rparams,
                Capabilities=["CAPABILITY_NAMED_IAM"],
            )
    for acct in cfg.get("missing_execution_role", []) or []:
        _delete_role(sb, acct, EXECUTION_ROLE_NAME)
    for acct in cfg.get("missing_reader_role", []) or []:
        _delete_role(sb, acct, reader_name or "AWS-SystemsManager-AutomationResultsReaderRole")


def _template_parameters(body: str) -> dict:
    import yaml

    from sandbox.stacksets import _CfnLoader

    doc = yaml.load(body, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass that reads CloudFormation tags
    return (doc or {}).get("Parameters", {}) or {}


def _stackset(sb, cfn, name, body, params, targets, regions) -> None:
    cfn.create_stack_set(
        StackSetName=name,
        TemplateBody=body,
        Parameters=params,
        Capabilities=["CAPABILITY_NAMED_IAM"],
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
    )
    op = cfn.create_stack_instances(
        StackSetName=name,
        DeploymentTargets={"OrganizationalUnitIds": list(targets)},
        Regions=list(regions),
        OperationPreferences={"FailureTolerancePercentage": 100, "MaxConcurrentPercentage": 100},
    )["OperationId"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = cfn.describe_stack_set_operation(StackSetName=name, OperationId=op)["StackSetOperation"]["Status"]
        if status not in ("RUNNING", "QUEUED", "STOPPING"):
            return
        sb.stacksets.wait_idle(0.5)
    raise BuildError(f"StackSet {name}: operation {op} did not finish")


def _delete_role(sb, account: str, role_name: str) -> None:
    """Take a role away from an account (world option ``automation_roles.missing_*``), through the IAM API."""
    iam = sb.client("iam", account, "us-east-1")
    try:
        for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
            iam.delete_role_policy(RoleName=role_name, PolicyName=name)
        for pol in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=role_name, PolicyArn=pol["PolicyArn"])
        iam.delete_role(RoleName=role_name)
    except iam.exceptions.NoSuchEntityException:
        log.info("sandbox: %s has no role %s to remove", account, role_name)
