"""A reset to a world with another time_scale keeps the engine's virtual time going forward.

Found by tests/integration/test_faults.py (scenarios reset one sandbox with worlds of different time scales): after
a reset from time_scale 0.02 to 0.5 every new execution stayed InProgress, because the dispatcher's event time
came from the old, fast clock while the new clock restarted at the wall clock.
"""

from __future__ import annotations

import json
import time

WORLD = {
    "name": "reset-time-scale",
    "version": 1,
    "seed": 3,
    "time_scale": 0.02,
    "regions": ["eu-west-1"],
    "organization": {"id": "o-resetscale1", "root_id": "r-rsts"},
    "management_account": {"id": "111111111111", "name": "management", "email": "m@example.com"},
}
NAP = {"schemaVersion": "0.3", "mainSteps": [{"name": "Nap", "action": "aws:sleep", "inputs": {"Duration": "PT2S"}}]}


def run_nap(box) -> str:
    ssm = box.client("ssm", region="eu-west-1")
    ssm.create_document(Name="nap", Content=json.dumps(NAP), DocumentType="Automation", DocumentFormat="JSON")
    execution_id = ssm.start_automation_execution(DocumentName="nap")["AutomationExecutionId"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # a bounded poll on the status
        status = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"][
            "AutomationExecutionStatus"
        ]
        if status not in ("Pending", "InProgress"):
            return status
        time.sleep(0.2)
    return status


def test_executions_finish_after_a_reset_to_another_time_scale(sandbox_factory):
    box = sandbox_factory(WORLD, name="reset-time-scale")
    assert run_nap(box) == "Success"  # at 0.02 the virtual clock runs 50 times faster than the wall clock
    box.reset(dict(WORLD, time_scale=0.5))
    assert run_nap(box) == "Success"  # 2 virtual seconds = 1 s of wall time; it hung before the fix
    box.reset(dict(WORLD, time_scale=0.02))
    assert run_nap(box) == "Success"
