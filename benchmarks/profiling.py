"""Summaries of py-spy's raw (collapsed-stack) profiles: where the CPU samples go, inclusive and self.

``python benchmarks/profiling.py FILE [--only SUBSTRING] [--top N]``
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def _short(frame: str) -> str:
    """``func (path/to/file.py:123)`` -> ``func (file.py)``, with site-packages paths cut to the package."""
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m.group("file")
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{m.group('func')} ({path})"


def summarize(path: Path | str, only: str | None = None, top: int = 25) -> dict:
    """Inclusive and self sample counts per function, over the stacks that contain ``only`` (all when None)."""
    inclusive: Counter = Counter()
    own: Counter = Counter()
    total = 0
    for line in Path(path).read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        if only and only not in stack:
            continue
        n = int(count)
        total += n
        frames = [_short(f) for f in stack.split(";") if f]
        for frame in set(frames):
            inclusive[frame] += n
        if frames:
            own[frames[-1]] += n
    return {
        "samples": total,
        "filter": only,
        "inclusive": [(f, n, round(100.0 * n / total, 1)) for f, n in inclusive.most_common(top)] if total else [],
        "self": [(f, n, round(100.0 * n / total, 1)) for f, n in own.most_common(top)] if total else [],
    }


def render(summary: dict, title: str) -> str:
    lines = [
        f"{title}: {summary['samples']} samples"
        + (f" (stacks with {summary['filter']!r})" if summary["filter"] else "")
    ]
    for key in ("inclusive", "self"):
        lines.append(f"  top {key}:")
        for frame, n, pct in summary[key]:
            lines.append(f"    {pct:5.1f}%  {n:7d}  {frame}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file")
    parser.add_argument("--only", help="keep only the stacks containing this text (e.g. process_request_thread)")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    print(render(summarize(args.file, args.only, args.top), args.file))
    return 0


if __name__ == "__main__":
    sys.exit(main())
