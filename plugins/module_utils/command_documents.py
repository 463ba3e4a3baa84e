# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The declared parameters of the AWS-owned Command documents that Automation runbooks call most.

Data, not logic: the linter (rule ``schema.command-parameter``) and the sandbox read it. Source: AWS's own
documents as GetDocument returns them to any account (``aws ssm get-document --name <name>``, Owner Amazon),
taken from the public mirror https://github.com/ceshihao/ssm-public-documents (MIT licence), commit
85e10c9d94ca1df21d2ce4af6950d0c2b225d4e1 (synchronised 2026-08-16), files ``documents/<name>.json``.
Each parameter is ``(type, required, allowed_values)``: required means it has no ``default``; allowed_values is
None when the document lists none. AWS may add parameters to its documents over time; refresh from the mirror.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# fmt: off
COMMAND_DOCUMENTS = {
    "AWS-ApplyAnsiblePlaybooks": {
        "SourceType": ("String", True, ["GitHub", "S3"]),
        "SourceInfo": ("StringMap", False, None),
        "InstallDependencies": ("String", False, ["True", "False"]),
        "PlaybookFile": ("String", False, None),
        "ExtraVariables": ("String", False, None),
        "Check": ("String", False, ["True", "False"]),
        "Verbose": ("String", False, ["-v", "-vv", "-vvv", "-vvvv"]),
        "TimeoutSeconds": ("String", False, None),
    },
    "AWS-ApplyChefRecipes": {
        "SourceType": ("String", False, ["Git", "GitHub", "HTTP", "S3"]),
        "SourceInfo": ("StringMap", False, None),
        "RunList": ("String", False, None),
        "JsonAttributesSources": ("String", False, None),
        "JsonAttributesContent": ("String", False, None),
        "ChefClientVersion": ("String", False, ["None", "11", "12", "13", "14", "15", "16", "17", "18"]),
        "ChefClientArguments": ("String", False, None),
        "WhyRun": ("String", False, ["True", "False"]),
        "ComplianceSeverity": ("String", False, ["None", "Critical", "High", "Medium", "Low", "Informational", "Unspecified"]),
        "ComplianceType": ("String", False, None),
        "ComplianceReportBucket": ("String", False, None),
        "ChefExecutionTimeout": ("String", False, None),
        "ChefLicenseId": ("String", False, None),
    },
    "AWS-ApplyDSCMofs": {
        "MofsToApply": ("String", False, None),
        "ServicePath": ("String", False, None),
        "MofOperationMode": ("String", False, ["Apply", "ReportOnly"]),
        "ReportBucketName": ("String", False, None),
        "StatusBucketName": ("String", False, None),
        "ModuleSourceBucketName": ("String", False, None),
        "AllowPSGalleryModuleSource": ("String", False, ["True", "False"]),
        "ProxyUri": ("String", False, None),
        "RebootBehavior": ("String", False, ["AfterMof", "Immediately", "Never"]),
        "UseComputerNameForReporting": ("String", False, ["True", "False"]),
        "EnableVerboseLogging": ("String", False, ["True", "False"]),
        "EnableDebugLogging": ("String", False, ["True", "False"]),
        "ComplianceType": ("String", False, None),
        "PreRebootScript": ("String", False, None),
    },
    "AWS-ApplyPatchBaseline": {
        "Operation": ("String", True, ["Scan", "Install"]),
        "SnapshotId": ("String", False, None),
    },
    "AWS-ConfigureAWSPackage": {
        "action": ("String", True, ["Install", "Uninstall"]),
        "installationType": ("String", False, ["Uninstall and reinstall", "In-place update"]),
        "name": ("String", True, None),
        "version": ("String", False, None),
        "additionalArguments": ("StringMap", False, None),
    },
    "AWS-ConfigureDocker": {
        "action": ("String", True, ["Install", "Uninstall"]),
    },
    "AWS-ConfigureWindowsUpdate": {
        "scheduledInstallDay": ("String", False, ["Daily", "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]),
        "scheduledInstallTime": ("String", False, [
            "00:00",
            "01:00",
            "02:00",
            "03:00",
            "04:00",
            "05:00",
            "06:00",
            "07:00",
            "08:00",
            "09:00",
            "10:00",
            "11:00",
            "12:00",
            "13:00",
            "14:00",
            "15:00",
            "16:00",
            "17:00",
            "18:00",
            "19:00",
            "20:00",
            "21:00",
            "22:00",
            "23:00",
        ]),
        "updateLevel": ("String", True, ["InstallUpdatesAutomatically", "NeverCheckForUpdates"]),
    },
    "AWS-FindWindowsUpdates": {
        "UpdateLevel": ("String", False, ["None", "All", "Important", "Optional"]),
        "KbArticleIds": ("String", False, None),
    },
    "AWS-InstallApplication": {
        "action": ("String", False, ["Install", "Repair", "Uninstall"]),
        "parameters": ("String", False, None),
        "source": ("String", True, None),
        "sourceHash": ("String", False, None),
    },
    "AWS-InstallMissingWindowsUpdates": {
        "UpdateLevel": ("String", False, ["None", "All", "Important", "Optional"]),
        "ExcludeKbArticleIds": ("String", False, None),
    },
    "AWS-InstallWindowsUpdates": {
        "Action": ("String", False, ["Install", "Scan"]),
        "AllowReboot": ("String", False, ["True", "False"]),
        "IncludeKbs": ("String", False, None),
        "ExcludeKbs": ("String", False, None),
        "Categories": ("String", False, None),
        "SeverityLevels": ("String", False, None),
        "PublishedDaysOld": ("String", False, None),
        "PublishedDateAfter": ("String", False, None),
        "PublishedDateBefore": ("String", False, None),
    },
    "AWS-JoinDirectoryServiceDomain": {
        "directoryId": ("String", True, None),
        "directoryName": ("String", True, None),
        "directoryOU": ("String", False, None),
        "dnsIpAddresses": ("StringList", False, None),
    },
    "AWS-RefreshAssociation": {
        "associationIds": ("StringList", False, None),
    },
    "AWS-RunAnsiblePlaybook": {
        "playbook": ("String", False, None),
        "playbookurl": ("String", False, None),
        "extravars": ("String", False, None),
        "check": ("String", False, ["True", "False"]),
        "timeoutSeconds": ("String", False, None),
    },
    "AWS-RunDocument": {
        "sourceType": ("String", True, ["GitHub", "S3", "SSMDocument"]),
        "sourceInfo": ("StringMap", False, None),
        "documentParameters": ("StringMap", False, None),
    },
    "AWS-RunInspecChecks": {
        "sourceType": ("String", True, ["GitHub", "S3"]),
        "sourceInfo": ("StringMap", False, None),
    },
    "AWS-RunPatchBaseline": {
        "AssociationId": ("String", False, None),
        "BaselineOverride": ("String", False, None),
        "InstallOverrideList": ("String", False, None),
        "Operation": ("String", True, ["Scan", "Install"]),
        "RebootOption": ("String", False, ["RebootIfNeeded", "NoReboot"]),
        "SnapshotId": ("String", False, None),
        "StepTimeoutSeconds": ("String", False, None),
    },
    "AWS-RunPowerShellScript": {
        "commands": ("StringList", True, None),
        "workingDirectory": ("String", False, None),
        "executionTimeout": ("String", False, None),
    },
    "AWS-RunRemoteScript": {
        "sourceType": ("String", True, ["GitHub", "S3"]),
        "sourceInfo": ("StringMap", False, None),
        "commandLine": ("String", False, None),
        "workingDirectory": ("String", False, None),
        "executionTimeout": ("String", False, None),
    },
    "AWS-RunSaltState": {
        "state": ("String", False, None),
        "stateurl": ("String", False, None),
        "pillars": ("String", False, None),
        "test": ("String", False, ["True", "False"]),
    },
    "AWS-RunShellScript": {
        "commands": ("StringList", True, None),
        "workingDirectory": ("String", False, None),
        "executionTimeout": ("String", False, None),
    },
    "AWS-UpdateEC2Config": {
        "version": ("String", False, None),
        "allowDowngrade": ("String", False, ["true", "false"]),
    },
    "AWS-UpdateSSMAgent": {
        "version": ("String", False, None),
        "allowDowngrade": ("String", False, ["true", "false"]),
    },
    "AWSEC2-PrepareVssRestore": {
        "MetadataPath": ("String", False, None),
        "SnapshotSetId": ("String", False, None),
        "RestorePointOfTime": ("String", False, None),
        "SourceDatabaseName": ("String", True, None),
        "executionTimeout": ("String", False, None),
    },
    "AWSEC2-RunSysprep": {
        "Id": ("String", False, None),
        "SysprepTimeout": ("String", False, None),
    },
    "AWSEC2-RunVssRestoreForSqlDatabase": {
        "SourceDatabase": ("String", True, None),
        "TargetDatabase": ("String", False, None),
        "SnapshotSetId": ("String", False, None),
        "RestoreWithNorecovery": ("String", False, ["True", "False"]),
        "MetadataPath": ("String", False, None),
        "VolumeIdDeviceNamePairs": ("String", True, None),
        "ExecutionTimeout": ("String", False, None),
    },
    "AWSFIS-Run-CPU-Stress": {
        "DurationSeconds": ("String", True, None),
        "CPU": ("String", False, None),
        "LoadPercent": ("String", False, None),
        "InstallDependencies": ("String", False, ["True", "False"]),
    },
    "AWSFIS-Run-Kill-Process": {
        "ProcessName": ("String", True, None),
        "Signal": ("String", False, ["SIGTERM", "SIGKILL"]),
        "InstallDependencies": ("String", False, ["True", "False"]),
    },
    "AWSFIS-Run-Memory-Stress": {
        "DurationSeconds": ("String", True, None),
        "Workers": ("String", False, None),
        "Percent": ("String", False, None),
        "InstallDependencies": ("String", False, ["True", "False"]),
    },
    "AWSResilienceHub-KillStressCommand_2020-07-28": {
    },
    "AWSResilienceHub-NetworkUnavailableCommand_2020-07-23": {
        "DurationInMinutes": ("String", True, None),
    },
    "AmazonCloudWatch-ManageAgent": {
        "action": ("String", False, ["configure", "configure (append)", "configure (remove)", "start", "status", "status-with-workloads", "stop"]),
        "mode": ("String", False, ["ec2", "onPremise", "auto"]),
        "optionalConfigurationSource": ("String", False, ["ssm", "default", "all"]),
        "optionalConfigurationLocation": ("String", False, None),
        "optionalRestart": ("String", False, ["yes", "no"]),
    },
}
# fmt: on


def declared_parameters(document_name):
    """{name: {"type", "required", "allowed_values"}} of an AWS-owned Command document, or None when unknown here."""
    params = COMMAND_DOCUMENTS.get(document_name)
    if params is None:
        return None
    return {
        name: {"type": ptype, "required": required, "allowed_values": allowed}
        for name, (ptype, required, allowed) in params.items()
    }
