# -*- coding: utf-8 -*-
# Copyright: orgops.ssm_automation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTML fleet view: the accounts x regions status matrix and a bar per expectation as inline SVG (no network, no
script needed), the counts per account and OU, the distribution of the facts' values, and the instances x checks
table with each parsed value coloured by its compliance."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import html

from ansible_collections.orgops.ssm_automation.plugins.module_utils import compliance
from ansible_collections.orgops.ssm_automation.plugins.module_utils._report import changes
from ansible_collections.orgops.ssm_automation.plugins.module_utils._report.fleet import (
    COMPLIANCE_COLOURS,
    columns,
    instance_rows,
)

CELL_W = 118
CELL_H = 30
LABEL_W = 150
BAR_W = 420
STYLE = """
.fleet svg text{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;font-size:12px}
td.cx-compliant{background:#d4edda}td.cx-noncompliant{background:#f8d7da;font-weight:bold}
td.cx-unknown{background:#e9ecef;color:#555}
.cx-badge{display:inline-block;padding:1px 6px;border-radius:3px;color:#fff;font-size:.85em}
"""


def _h(value):
    return html.escape("" if value is None else str(value), quote=True)


def _worst(counts):
    if counts.get(compliance.NONCOMPLIANT):
        return compliance.NONCOMPLIANT
    if counts.get(compliance.UNKNOWN):
        return compliance.UNKNOWN
    return compliance.COMPLIANT if counts.get(compliance.COMPLIANT) else None


def _location_cells(source, judged):
    """(account, region) -> (colour, label, title) for the matrix."""
    cells = {}
    for loc in source.locations():
        key = (str(loc.get("account")), str(loc.get("region")))
        instances = loc.get("instances") or []
        if judged:
            counts = dict.fromkeys(compliance.STATUSES, 0)
            for inst in instances:
                counts[(inst.get("compliance") or {}).get("status") or compliance.UNKNOWN] += 1
            worst = _worst(counts)
            total = sum(counts.values())
            if worst is None:
                colour, label = "#adb5bd", loc.get("status") or "no instance"
            else:
                colour = COMPLIANCE_COLOURS[worst]
                label = "%d/%d ok" % (counts[compliance.COMPLIANT], total)
            title = "%s %s: %s" % (key[0], key[1], ", ".join("%d %s" % (n, s) for s, n in counts.items() if n) or label)
        else:
            ok = sum(1 for inst in instances if inst.get("status") == "Success")
            bad = loc.get("status") not in ("Success", "CompletedWithSuccess") or ok < len(instances)
            colour = "#c82333" if bad else "#1e7e34"
            label = "%d/%d ok" % (ok, len(instances)) if instances else (loc.get("status") or "?")
            title = "%s %s: %s" % (key[0], key[1], loc.get("status"))
        cells[key] = (colour, label, title)
    return cells


def render_matrix(source, out, judged):
    cells = _location_cells(source, judged)
    accounts = sorted({a for a, _region in cells})
    regions = sorted({r for _account, r in cells})
    if not cells:
        return
    width = LABEL_W + CELL_W * len(regions) + 4
    height = CELL_H * (len(accounts) + 1) + 4
    out.write(
        '<svg id="fleet-matrix" role="img" aria-label="Accounts by regions" width="%d" height="%d" '
        'viewBox="0 0 %d %d">' % (width, height, width, height)
    )
    out.write(
        "<title>%s</title>" % _h("Compliance by account and region" if judged else "Status by account and region")
    )
    for j, region in enumerate(regions):
        out.write(
            '<text x="%d" y="%d" text-anchor="middle">%s</text>'
            % (LABEL_W + CELL_W * j + CELL_W // 2, CELL_H - 10, _h(region))
        )
    for i, account in enumerate(accounts):
        y = CELL_H * (i + 1)
        out.write('<text x="4" y="%d">%s</text>' % (y + CELL_H // 2 + 4, _h(account)))
        for j, region in enumerate(regions):
            x = LABEL_W + CELL_W * j
            cell = cells.get((account, region))
            if not cell:
                continue
            colour, label, title = cell
            out.write(
                '<g class="matrix-cell" data-account="%s" data-region="%s"><title>%s</title>'
                '<rect x="%d" y="%d" width="%d" height="%d" rx="3" fill="%s"></rect>'
                '<text x="%d" y="%d" text-anchor="middle" fill="#fff">%s</text></g>'
                % (
                    _h(account),
                    _h(region),
                    _h(title),
                    x + 2,
                    y + 2,
                    CELL_W - 4,
                    CELL_H - 4,
                    colour,
                    x + CELL_W // 2,
                    y + CELL_H // 2 + 4,
                    _h(label),
                )
            )
    out.write("</svg>\n")


def render_bars(comp, out):
    checks = comp.get("by_check") or {}
    if not checks:
        return
    height = 26 * len(checks) + 6
    width = LABEL_W + BAR_W + 260
    out.write(
        '<svg id="fleet-bars" role="img" aria-label="Compliance per expectation" width="%d" height="%d" '
        'viewBox="0 0 %d %d"><title>Compliance per expectation</title>' % (width, height, width, height)
    )
    for i, key in enumerate(k for k in compliance.ORDER if k in checks):
        counts = checks[key]
        total = max(1, sum(counts.values()))
        y = 26 * i + 4
        out.write('<g class="expectation-bar" data-expectation="%s">' % _h(key))
        out.write('<text x="4" y="%d">%s</text>' % (y + 15, _h(key)))
        x = LABEL_W
        for status in compliance.STATUSES:
            w = BAR_W * counts.get(status, 0) / float(total)
            if w > 0:
                out.write(
                    '<rect class="bar-%s" x="%.1f" y="%d" width="%.1f" height="20" fill="%s"><title>%s</title></rect>'
                    % (status, x, y, w, COMPLIANCE_COLOURS[status], _h("%d %s" % (counts[status], status)))
                )
            x += w
        out.write(
            '<text x="%d" y="%d">%s</text></g>'
            % (
                LABEL_W + BAR_W + 8,
                y + 15,
                _h(", ".join("%d %s" % (counts.get(s, 0), s) for s in compliance.STATUSES)),
            )
        )
    out.write("</svg>\n")


def _count_table(out, table_id, title, table):
    if not table:
        return
    out.write('<h3>%s</h3>\n<table id="%s"><tr><th></th>' % (_h(title), _h(table_id)))
    out.write("".join("<th>%s</th>" % s for s in compliance.STATUSES) + "</tr>\n")
    for key in sorted(table):
        out.write("<tr><td>%s</td>" % _h(key))
        out.write("".join("<td>%d</td>" % table[key].get(s, 0) for s in compliance.STATUSES) + "</tr>\n")
    out.write("</table>\n")


def render_fleet(source, out):
    s = source.summary()
    comp = s.get("compliance")
    out.write('<section class="fleet" id="fleet">\n<h2>Fleet</h2>\n')
    if comp:
        counts = comp["instances"]
        out.write(
            '<div class="legend" id="compliance-summary"><span><b>%d</b> compliant</span><span><b>%d</b> noncompliant'
            "</span><span><b>%d</b> unknown</span></div>\n"
            % (counts["compliant"], counts["noncompliant"], counts["unknown"])
        )
        out.write(
            '<div class="meta">Standard: %s</div>\n'
            % _h(", ".join("%s = %s" % (k, compliance.display(v)) for k, v in comp["expect"].items()))
        )
    render_matrix(source, out, bool(comp))
    if comp:
        render_bars(comp, out)
        _count_table(out, "compliance-by-account", "Per account", comp.get("by_account"))
        _count_table(out, "compliance-by-ou", "Per OU", comp.get("by_ou"))
        if comp.get("noncompliant"):
            out.write('<h3>Noncompliant instances</h3>\n<ul id="noncompliant">\n')
            for item in comp["noncompliant"]:
                out.write(
                    "<li>%s %s <code>%s</code> %s: %s</li>\n"
                    % (
                        _h(item["account"]),
                        _h(item["region"]),
                        _h(item["instance_id"]),
                        _h(item.get("name") or ""),
                        _h("; ".join(item["deviations"])),
                    )
                )
            out.write("</ul>\n")
    values = s.get("fact_values") or {}
    if values:
        out.write('<h3>Values</h3>\n<table id="fact-values"><tr><th>Fact</th><th>Values (instances)</th></tr>\n')
        for name in sorted(values):
            dist = sorted(values[name].items(), key=lambda p: (-p[1], p[0]))
            out.write("<tr><td>%s</td><td>%s</td></tr>\n" % (_h(name), _h(", ".join("%s %d" % p for p in dist))))
        out.write("</table>\n")
    out.write("</section>\n")


def render_changes(source, out):
    if source.changes is None:
        return
    heading, items = changes.lines(source.changes)
    out.write('<section id="changes"><h2>%s</h2>\n<div class="meta">%s</div>\n' % (_h(heading), _h(items[0])))
    if items[1:]:
        out.write("<ul>%s</ul>\n" % "".join("<li>%s</li>" % _h(item) for item in items[1:]))
    out.write("</section>\n")


def render_instances(source, out):
    expect = source.expect
    cols = columns(expect)
    out.write('<h2>Instances</h2>\n<table id="instances-checks"><tr><th>Account</th><th>Region</th><th>Instance</th>')
    out.write("<th>Name</th><th>Status</th><th>End</th>")
    if expect:
        out.write("<th>Compliance</th>")
    out.write("".join("<th>%s</th>" % _h(name) for name, _fact in cols) + "</tr>\n")
    for row in instance_rows(source, expect):
        out.write(
            '<tr class="instance-checks" data-instance="%s" data-compliance="%s">'
            % (_h(row["instance_id"]), _h(row["compliance"]))
        )
        out.write(
            "<td>%s</td><td>%s</td><td><code>%s</code></td><td>%s</td><td>%s</td><td>%s</td>"
            % tuple(_h(row[k]) for k in ("account", "region", "instance_id", "name", "status", "end_time"))
        )
        if expect:
            colour = COMPLIANCE_COLOURS.get(row["compliance"], "#6c757d")
            out.write(
                '<td><span class="cx-badge" style="background:%s">%s</span></td>' % (colour, _h(row["compliance"]))
            )
        for index, cell in enumerate(row["cells"]):
            name = cols[index][0]
            out.write(
                '<td class="cx-%s" data-check="%s" title="%s">%s</td>'
                % (_h(cell["status"]), _h(name), _h(cell["reason"]), _h(cell["value"] or "?"))
            )
        out.write("</tr>\n")
    out.write("</table>\n")
