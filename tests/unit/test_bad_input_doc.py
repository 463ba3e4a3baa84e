"""docs/bad-input.md is generated from the bad-input test table: this fails when the two disagree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "gen_bad_input_doc.py"


def test_bad_input_doc_is_up_to_date():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_doc_lists_every_case_of_the_table():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import gen_bad_input_doc
    finally:
        sys.path.remove(str(SCRIPT.parent))
    cases = gen_bad_input_doc.load_cases()
    text = (REPO / "docs" / "bad-input.md").read_text()
    assert len(cases) >= 30
    for case in cases:
        assert "| `%s` |" % case["id"] in text, case["id"]
