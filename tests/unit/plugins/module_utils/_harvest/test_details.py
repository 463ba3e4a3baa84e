"""_harvest/details.py: who is who in at most one call per 50 instances per location and service; failures recorded."""

from ansible_collections.orgops.ssm_automation.plugins.module_utils._harvest import details


class RecordingReader:
    """Stands in for the AWS APIs behind LocationReader.call: answers as SSM and EC2 do, and records each call."""

    def __init__(self, fail=None):
        self.calls = []
        self.fail = fail

    def call(self, service, operation, **kwargs):
        self.calls.append((service, operation, kwargs))
        if self.fail == service:
            raise RuntimeError("AccessDenied")
        if operation == "describe_instance_information":
            ids = kwargs["Filters"][0]["Values"]
            assert kwargs["MaxResults"] == 50 and len(ids) <= 50
            return {
                "InstanceInformationList": [
                    {
                        "InstanceId": i,
                        "PingStatus": "Online",
                        "PlatformName": "Amazon Linux",
                        "PlatformVersion": "2023",
                        "PlatformType": "Linux",
                    }
                    for i in ids
                    if not i.endswith("7")  # not a managed node
                ]
            }
        ids = kwargs["Filters"][0]["Values"]
        return {
            "Reservations": [
                {
                    "Instances": [
                        {
                            "InstanceId": i,
                            "Tags": [{"Key": "Name", "Value": "web-" + i[-3:]}],
                            "State": {"Name": "running"},
                        }
                        for i in ids
                    ]
                }
            ]
        }


def record(count):
    return {"account": "1", "region": "r", "instances": [{"instance_id": "i-%017d" % n} for n in range(count)]}


def test_one_call_per_50_instances_and_service():
    reader = RecordingReader()
    rec = details.add_instance_details(reader, record(120))
    assert [c[:2] for c in reader.calls].count(("ssm", "describe_instance_information")) == 3
    assert [c[:2] for c in reader.calls].count(("ec2", "describe_instances")) == 3
    first = rec["instances"][0]["details"]
    assert first == {
        "name": "web-000",
        "platform": "Amazon Linux",
        "platform_version": "2023",
        "platform_type": "Linux",
        "ping_status": "Online",
        "state": "running",
    }
    assert rec["instances"][7]["details"]["ping_status"] is None  # no instance information: not managed
    assert "details_error" not in rec


def test_a_failed_read_is_recorded_not_fatal():
    rec = details.add_instance_details(RecordingReader(fail="ec2"), record(3))
    assert rec["details_error"]["service"] == "ec2"
    assert rec["instances"][0]["details"]["ping_status"] == "Online" and rec["instances"][0]["details"]["name"] is None


def test_no_call_without_instances():
    reader = RecordingReader()
    details.add_instance_details(reader, {"account": "1", "region": "r", "instances": []})
    assert reader.calls == []
