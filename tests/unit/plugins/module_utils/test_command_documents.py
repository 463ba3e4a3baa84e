"""The declared parameters of AWS-owned Command documents are data in plugins/module_utils, read by the linter and by
the sandbox; the sandbox's parameter checks use the collection's Java regex translator and never skip the length and
count checks."""

from __future__ import annotations

import pytest

from ansible_collections.orgops.ssm_automation.plugins.module_utils import command_documents

# The sandbox is not shipped: an ansible-test copy of the collection has no sandbox/ (the repository's pytest has).
sandbox_documents = pytest.importorskip("sandbox.documents")
sandbox_runbook = pytest.importorskip("sandbox.engine.runbook")
AwsError = pytest.importorskip("sandbox.server").AwsError


def test_the_most_called_documents_are_there_with_their_required_parameters():
    for name in ("AWS-RunShellScript", "AWS-RunPowerShellScript", "AWS-RunPatchBaseline", "AWS-ConfigureAWSPackage"):
        assert command_documents.declared_parameters(name), name
    patch = command_documents.declared_parameters("AWS-RunPatchBaseline")
    assert patch["Operation"] == {"type": "String", "required": True, "allowed_values": ["Scan", "Install"]}
    assert "PatchSeverity" not in patch
    assert command_documents.declared_parameters("AWS-RunRemoteScript")["sourceType"]["required"]
    assert command_documents.declared_parameters("Custom-Document") is None


def test_the_sandbox_serves_the_parameters_the_data_declares():
    for name, doc in sandbox_documents.AWS_DOCUMENTS.items():
        assert set(doc["content"]["parameters"]) == set(command_documents.declared_parameters(name)), name


@pytest.mark.parametrize(
    ("document", "parameters", "problem"),
    [
        ("AWS-RunShellScript", {"commands": ["uptime"]}, None),
        ("AWS-RunShellScript", {"commands": ["uptime"], "timeout": "5"}, 'Parameter "timeout" not defined'),
        ("AWS-RunShellScript", {}, 'Parameter "commands" is required.'),
        ("AWS-RunPatchBaseline", {"Operation": "Scan", "PatchSeverity": "Critical"}, '"PatchSeverity" not defined'),
        ("Custom-Document", {"anything": "1"}, None),
    ],
)
def test_sandbox_refuses_what_send_command_refuses(document, parameters, problem):
    got = sandbox_documents.check_command_parameters(document, parameters)
    assert got == problem if problem is None else problem in got


def _sandbox_runbook(**spec):
    return sandbox_runbook.parse(
        {
            "schemaVersion": "0.3",
            "parameters": {"P": dict({"type": "String"}, **spec)},
            "mainSteps": [{"name": "Nap", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}],
        }
    )


def _refused(doc, value):
    """True when the sandbox refuses the start (InvalidAutomationExecutionParametersException), naming P."""
    try:
        sandbox_runbook.resolve_parameters(doc, {"P": [value]})
    except AwsError as e:
        assert e.code == "InvalidAutomationExecutionParametersException" and '"P"' in e.message, e
        return True
    return False


def test_sandbox_reads_allowed_pattern_as_java():
    doc = _sandbox_runbook(allowedPattern=r"^[\w-\/]{1,20}$")
    assert not _refused(doc, "a-b/c")
    assert _refused(doc, "a;b")
    assert not _refused(_sandbox_runbook(allowedPattern=r"^\p{Alnum}+$"), "abc1")


def test_sandbox_never_skips_length_checks_when_a_pattern_cannot_be_checked():
    doc = _sandbox_runbook(allowedPattern=r"^\p{IsLatin}+$", maxChars=3)
    assert not _refused(doc, "abc")
    assert _refused(doc, "abcd")
