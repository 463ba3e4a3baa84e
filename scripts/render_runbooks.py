"""Render the runbooks the collection ships from their check lists, or check that they are up to date.

.venv/bin/python scripts/render_runbooks.py          # rewrite roles/check_os/files/check-os-improved.yml
.venv/bin/python scripts/render_runbooks.py --check  # exit 1 if it differs from its check list
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / ".build" / "collections"), str(REPO)]

from ansible_collections.orgops.ssm_automation.plugins.module_utils import runbook  # noqa: E402

# (check list, rendered runbook)
RENDERED = [
    (REPO / "roles/check_os/files/check-os-improved.checks.yml", REPO / "roles/check_os/files/check-os-improved.yml"),
]

HEADER = (
    "# Rendered from {source} by scripts/render_runbooks.py (orgops.ssm_automation runbook renderer). Do not edit:\n"
    "# change the check list and re-render. The seed's runbook is kept verbatim in check-os.yml.\n"
)


def render(source: Path) -> str:
    spec = yaml.safe_load(source.read_text())
    doc = runbook.render_checks(
        spec["name"],
        spec["checks"],
        cross_platform=spec.get("cross_platform", True),
        description=spec.get("description", ""),
        require_online=spec.get("require_online", True),
    )
    return HEADER.format(source=source.name) + runbook.to_yaml(doc)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check that the rendered files are up to date")
    args = parser.parse_args(argv)
    stale = []
    for source, target in RENDERED:
        text = render(source)
        if target.exists() and target.read_text() == text:
            continue
        if args.check:
            stale.append(target)
        else:
            target.write_text(text)
            print(f"rendered {target.relative_to(REPO)} from {source.relative_to(REPO)}")
    for target in stale:
        print(f"{target.relative_to(REPO)} is out of date: run scripts/render_runbooks.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
