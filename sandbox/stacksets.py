"""CloudFormation StackSets (placeholder until the service-managed implementation lands)."""

from __future__ import annotations


class StackSets:
    def __init__(self, sb):
        self.sb = sb

    def reset(self) -> None:
        pass


def install(sb) -> StackSets:
    return StackSets(sb)
