"""SSM Automation and Run Command for the sandbox: executions across an organization, on simulated instances.

Neither moto nor LocalStack implements Automation executions.  The server layer calls :func:`install` at start-up;
the engine then serves these ``ssm`` actions (registered handlers win over moto):

    StartAutomationExecution, GetAutomationExecution, DescribeAutomationExecutions,
    DescribeAutomationStepExecutions, StopAutomationExecution,
    SendCommand, CancelCommand, ListCommands, ListCommandInvocations, GetCommandInvocation,
    DescribeInstanceInformation

See docs/sandbox-engine.md for the behaviour, the AWS sources it follows, and what is the sandbox's own choice.
"""

from __future__ import annotations

from .engine import Engine

__all__ = ["Engine", "install"]


def install(sandbox) -> Engine:
    engine = Engine(sandbox)
    for action, fn in engine.handlers().items():
        sandbox.register("ssm", action, engine.wrap(action, fn))
    sandbox.on_reset(engine.reset)
    sandbox.automation_engine = engine
    return engine
