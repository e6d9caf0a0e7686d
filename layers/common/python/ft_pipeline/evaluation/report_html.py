"""The evaluation report as one self-contained HTML page: `render_report_html(report) -> str`.

The page is built from the dict that report.json holds (a tuned model evaluated against its base model) and is
meant to be looked at rather than read: a PASSED/FAILED badge, a comparison table with the confidence interval of
the accuracy difference, confusion-matrix heatmaps, per-class bars, the training loss curves, latency, the gate's
rules, the timeline, the cost so far, a few misclassified examples and links to the raw files.

It needs nothing from the network: CSS is inline, charts are inline SVG, there are no scripts, fonts or images,
so the page can be stored next to report.json and opened anywhere. Every string from the report is user data and
is escaped with `html.escape`. Any key may be missing or None; its section then says so or is left out.
Standard library only (it runs in AWS Lambda).
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

TUNED_COLOUR = "#0072B2"  # Okabe-Ito blue
BASE_COLOUR = "#E69F00"  # Okabe-Ito orange: distinguishable from the blue with any common colour-vision deficiency
TRAINING_COLOUR = "#0072B2"
VALIDATION_COLOUR = "#D55E00"  # Okabe-Ito vermillion, also drawn dashed
BLUES = ("#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b")
GREYS = ("#f7f7f7", "#e0e0e0", "#bdbdbd", "#969696", "#737373", "#525252")
DASH = "—"
CLASSIFICATION_METRICS = (("accuracy", "Accuracy"), ("macro_f1", "Macro F1"), ("weighted_f1", "Weighted F1"))
FREEFORM_METRICS = (("exact_match", "Exact match"), ("token_f1", "Token F1"), ("rouge_l", "ROUGE-L"))
SAFE_LINK_SCHEMES = ("http", "https", "s3", "file", "")
# loss chart geometry: viewBox width, height, plot left, right, top, bottom, number of step ticks
WIDE_CHART = (640, 340, 72, 624, 26, 284, 6)
NARROW_CHART = (360, 290, 50, 348, 24, 238, 4)

CSS = """
:root{--tuned:#0072B2;--base:#E69F00;--ink:#1f2328;--muted:#57606a;--line:#d0d7de;--bg:#f3f5f8;--pass:#1a7f37;
--fail:#cf222e}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:var(--ink);background:var(--bg)}
main{max-width:1120px;margin:0 auto;padding:20px 16px 32px}
.card{background:#fff;border:1px solid var(--line);border-radius:12px;padding:18px 22px;margin:0 0 16px;min-width:0}
h1{font-size:1.55rem;line-height:1.25;margin:0}
h2{font-size:1.15rem;margin:0 0 12px}
h3{font-size:1rem;margin:0 0 8px}
p{margin:0 0 10px}
a{color:#0550ae}
.eyebrow{color:var(--muted);font-size:.8rem;text-transform:uppercase;letter-spacing:.08em;margin:0 0 2px}
.muted{color:var(--muted)}
.small{font-size:.85rem}
.wrap{overflow-wrap:break-word}
.head-top{display:flex;flex-wrap:wrap;gap:12px 24px;justify-content:space-between;align-items:flex-start}
.head-top>div{min-width:0}
.verdict{display:flex;flex-direction:column;align-items:flex-end;gap:6px;max-width:420px}
.verdict p{margin:0;text-align:right}
.badge{display:inline-block;font-weight:800;font-size:1.2rem;padding:6px 18px;border-radius:999px;color:#fff;
letter-spacing:.06em;white-space:nowrap}
.badge.pass{background:var(--pass)}.badge.fail{background:var(--fail)}.badge.none{background:#6e7781}
.notice{border:2px solid #9a6700;background:#fff8c5;border-radius:10px;padding:10px 14px;margin:14px 0 0}
.notice strong{display:block;margin-bottom:2px}
.meta{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:3px 14px;margin:14px 0 0;font-size:.92rem}
.meta dt{color:var(--muted)}.meta dd{margin:0;overflow-wrap:anywhere;word-break:break-word}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,200px),1fr));gap:12px;margin:0 0 16px}
.tile{border:1px solid var(--line);border-radius:10px;padding:10px 14px;border-top:5px solid #8c959f}
.tile.tuned{border-top-color:var(--tuned)}.tile.base{border-top-color:var(--base)}
.tile .v{font-size:1.9rem;font-weight:750;line-height:1.15;font-variant-numeric:tabular-nums}
.tile .k{color:var(--muted);font-size:.85rem}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;max-width:100%;
background:linear-gradient(90deg,#fff 30%,rgba(255,255,255,0)),
linear-gradient(90deg,rgba(255,255,255,0),#fff 70%) 100% 0,
radial-gradient(farthest-side at 0 50%,rgba(0,0,0,.16),rgba(0,0,0,0)),
radial-gradient(farthest-side at 100% 50%,rgba(0,0,0,.16),rgba(0,0,0,0)) 100% 0;
background-repeat:no-repeat;background-size:40px 100%,40px 100%,12px 100%,12px 100%;
background-attachment:local,local,scroll,scroll}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{padding:6px 10px;text-align:left;border-bottom:1px solid var(--line);vertical-align:top}
thead th{font-size:.8rem;color:var(--muted);font-weight:600;border-bottom:2px solid var(--line)}
thead th.num{white-space:normal}.ci{white-space:normal}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.pos{color:#116329;font-weight:650}.neg{color:#a40e26;font-weight:650}
.compact td,.compact th{padding:4px 8px;font-size:.85rem}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,440px),1fr));gap:16px}
.panels{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,235px),1fr));gap:12px}
.panel{border:1px solid var(--line);border-radius:10px;padding:8px 10px;min-width:0;max-width:380px}
svg{display:block;width:100%;height:auto;overflow:visible}
svg text{font-family:inherit;fill:#1f2328}
.chart{max-width:760px}
.chart.narrow{max-width:560px}
.only-narrow{display:none}
.legend{display:flex;flex-wrap:wrap;gap:6px 18px;font-size:.88rem;color:var(--muted);margin:0 0 10px}
.sw{display:inline-block;width:14px;height:14px;border-radius:3px;vertical-align:-2px;margin-right:6px}
.sw.line{height:0;border-top:3px solid;border-radius:0;width:22px;vertical-align:4px}
.sw.dashed{border-top-style:dashed}
.sw.inv{background:repeating-linear-gradient(135deg,#e0e0e0 0 3px,#bdbdbd 3px 6px)}
table.cm{width:auto;border-collapse:separate;border-spacing:2px;font-size:.82rem}
table.cm th,table.cm td{border:0;padding:3px 4px}
table.cm thead th{text-align:center;color:var(--muted);vertical-align:bottom}
table.cm th.axis{color:var(--ink);font-weight:700;font-size:.78rem;text-transform:uppercase;letter-spacing:.06em}
table.cm th.vert{writing-mode:vertical-rl;transform:rotate(180deg);text-align:center;vertical-align:middle;
padding:4px 2px}
table.cm th.row{text-align:right;color:var(--muted);font-weight:600;white-space:nowrap}
table.cm td.cell{text-align:center;min-width:50px;height:44px;border-radius:6px;font-weight:700;
font-variant-numeric:tabular-nums;line-height:1.1}
table.cm td.cell small{display:block;font-weight:400;font-size:.72rem;opacity:.85}
table.cm td.diag{box-shadow:inset 0 0 0 2px #1f2328}
table.cm td.inv{background-image:repeating-linear-gradient(135deg,rgba(255,255,255,.35) 0 3px,transparent 3px 6px);
outline:2px dashed #6e7781;outline-offset:-2px}
table.cm th.inv{font-style:italic;color:#6e7781}
table.cm td.sep,table.cm th.sep{border-left:3px solid #8c959f}
.pill{display:inline-block;padding:1px 9px;border-radius:999px;font-size:.8rem;font-weight:700;color:#fff;
white-space:nowrap}
.pill.pass{background:var(--pass)}.pill.fail{background:var(--fail)}.pill.none{background:#6e7781}
.examples{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,320px),1fr));gap:12px}
.example{border:1px solid var(--line);border-radius:10px;padding:10px 12px;min-width:0}
.example blockquote{margin:4px 0 8px;padding:6px 10px;background:#f6f8fa;border-left:4px solid #8c959f;
border-radius:4px;overflow-wrap:anywhere;word-break:break-word;max-height:9.5em;overflow-y:auto}
.example dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:2px 10px;margin:0;font-size:.9rem}
.example dt{color:var(--muted)}.example dd{margin:0;overflow-wrap:anywhere}
.ok{color:#116329;font-weight:650}.bad{color:#a40e26;font-weight:650}
ul.plain{margin:6px 0 0;padding-left:20px}
footer{color:var(--muted);font-size:.82rem;text-align:center;margin-top:8px}
@media (max-width:600px){
main{padding:10px 8px 24px}.card{padding:14px 12px;border-radius:10px}
h1{font-size:1.3rem}.verdict{align-items:flex-start;max-width:none}.verdict p{text-align:left}
.tiles{grid-template-columns:repeat(auto-fit,minmax(min(100%,140px),1fr));gap:8px}
.tile{padding:8px 10px}.tile .v{font-size:1.45rem}
.only-wide{display:none}.only-narrow{display:block}
th,td{padding:6px 5px}
table.cm thead tr:last-child th{writing-mode:vertical-rl;transform:rotate(180deg);text-align:left;
vertical-align:middle;padding:4px 0;white-space:nowrap}
table.cm{border-spacing:1px}table.cm thead th.sep{border-left:0;border-right:3px solid #8c959f}
table.cm td.cell{min-width:36px;height:42px}table.cm th.row{font-size:.75rem}
table.stack thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
table.stack tr{display:block;padding:6px 0;border-bottom:1px solid var(--line)}
table.stack td{display:inline-block;border:0;padding:0 8px 0 0}
table.stack td:first-child,table.stack td:last-child{display:block}
table.stack td:first-child{color:var(--muted);font-size:.8rem}
}
"""


# ----------------------------------------------------------------------------------------------- small helpers


def _e(value: Any) -> str:
    """Escape anything for HTML text or a quoted attribute; None is the empty string."""
    return "" if value is None else html.escape(str(value), quote=True)


def _dict(value: Any) -> Mapping[str, Any]:
    """The value if it is a mapping, else an empty one (so missing sections read as empty)."""
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    """The value if it is a list or tuple, else an empty list."""
    return list(value) if isinstance(value, list | tuple) else []


def _num(value: Any) -> float | None:
    """A finite number as float, or None (booleans and strings are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _pct(value: Any) -> str:
    """A share 0..1 as a percentage: 0.882 -> '88.2%'."""
    number = _num(value)
    return DASH if number is None else f"{number * 100:.1f}%"


def _points(value: Any, unit: str = " pts") -> str:
    """A difference of shares in signed percentage points: 0.331 -> '+33.1 pts'."""
    number = _num(value)
    return DASH if number is None else f"{number * 100:+.1f}{unit}"


def _count(value: Any) -> str:
    """An integer with thousands separators."""
    number = _num(value)
    return DASH if number is None else f"{round(number):,}"


def _usd(value: Any) -> str:
    """Dollars: cents from a dollar up, four decimals below (evaluation costs are small)."""
    number = _num(value)
    if number is None:
        return DASH
    return f"${number:,.4f}" if 0 < abs(number) < 1 else f"${number:,.2f}"


def _ms(value: Any) -> str:
    """Milliseconds, rounded for reading."""
    number = _num(value)
    return DASH if number is None else f"{number:,.0f} ms"


def _plain(value: Any) -> str:
    """A number of unknown unit, to four significant digits."""
    number = _num(value)
    return DASH if number is None else f"{number:.4g}"


def _when(value: Any) -> str:
    """An ISO timestamp as 'YYYY-MM-DD HH:MM:SS UTC'; anything unparsable is shown as given."""
    if not isinstance(value, str) or not value:
        return DASH
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    offset = moment.utcoffset()
    zone = "" if offset is None else (" UTC" if not offset else moment.strftime(" %z"))
    return moment.strftime("%Y-%m-%d %H:%M:%S") + zone


def _safe_href(url: Any) -> str | None:
    """The URL if it is safe to put in an href (no javascript: or data:), else None."""
    if not isinstance(url, str) or not url.strip():
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in SAFE_LINK_SCHEMES else None


def _signed_class(value: Any) -> str:
    """'pos' / 'neg' for a difference, so the sign is also shown by colour (the text keeps the sign too)."""
    number = _num(value)
    if number is None or number == 0:
        return ""
    return "pos" if number > 0 else "neg"


def _same_answer(answer: Any, expected: Any) -> bool:
    """Whether a model's answer equals the expected one, ignoring case and surrounding space."""
    if answer is None or expected is None:
        return False
    return str(answer).strip().casefold() == str(expected).strip().casefold()


def _section(title: str, body: str, section_id: str) -> str:
    """One card of the page with a heading."""
    return f'<section class="card" id="{_e(section_id)}" aria-labelledby="{_e(section_id)}-h">' \
           f'<h2 id="{_e(section_id)}-h">{_e(title)}</h2>{body}</section>'


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool] = (), cls: str = "") -> str:
    """A table inside a horizontally scrolling box. Head cells are plain text; row cells are ready HTML."""
    def cell_class(index: int) -> str:
        return ' class="num"' if index < len(numeric) and numeric[index] else ""

    header = "".join(f'<th scope="col"{cell_class(i)}>{_e(text)}</th>' for i, text in enumerate(head))
    body = "".join("<tr>" + "".join(f"<td{cell_class(i)}>{cell}</td>" for i, cell in enumerate(row)) + "</tr>"
                   for row in rows)
    return f'<div class="scroll"><table class="{_e(cls)}"><thead><tr>{header}</tr></thead>' \
           f"<tbody>{body}</tbody></table></div>"


def _legend(items: Sequence[tuple[str, str]]) -> str:
    """A legend row: (swatch HTML class/style, label) pairs."""
    return '<div class="legend">' + "".join(f"<span>{swatch}{_e(label)}</span>" for swatch, label in items) + "</div>"


def _swatch(colour: str, kind: str = "") -> str:
    """A small coloured square (or line) for a legend."""
    style = f"border-color:{colour}" if "line" in kind else f"background:{colour}"
    return f'<span class="sw {_e(kind)}" style="{style}" aria-hidden="true"></span>'


def _model_legend(has_base: bool) -> str:
    """The legend for tuned vs base colours."""
    items = [(_swatch(TUNED_COLOUR), "tuned model")]
    if has_base:
        items.append((_swatch(BASE_COLOUR), "base model"))
    return _legend(items)


def _models(report: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The evaluated models present in the report, tuned first: [('tuned', M), ('base', M)]."""
    models = _dict(report.get("models"))
    return [(name, _dict(models.get(name))) for name in ("tuned", "base") if isinstance(models.get(name), Mapping)]


def _is_freeform(report: Mapping[str, Any]) -> bool:
    """Whether the task is free-form generation rather than classification."""
    return str(report.get("task") or "classification").strip().lower() == "freeform"


def _headline_metrics(report: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The headline metric keys and names for the report's task."""
    return FREEFORM_METRICS if _is_freeform(report) else CLASSIFICATION_METRICS


# ------------------------------------------------------------------------------------------------------ colour


def _hex_to_rgb(colour: str) -> tuple[int, int, int]:
    """'#08306b' -> (8, 48, 107)."""
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _scale(stops: Sequence[str], share: float) -> str:
    """Interpolate a colour along `stops` for a share 0..1."""
    share = min(1.0, max(0.0, share))
    position = share * (len(stops) - 1)
    low = min(int(position), len(stops) - 2)
    frac = position - low
    start, end = _hex_to_rgb(stops[low]), _hex_to_rgb(stops[low + 1])
    red, green, blue = (round(a + (b - a) * frac) for a, b in zip(start, end, strict=True))
    return f"#{red:02x}{green:02x}{blue:02x}"


# ------------------------------------------------------------------------------------------------------ header


def _gate_badge(gate: Mapping[str, Any]) -> str:
    """The gate's verdict as a badge that says it in words (not only colour)."""
    passed = gate.get("passed") if gate else None
    if passed is True:
        return '<span class="badge pass" role="status">&#10003; PASSED</span>'
    if passed is False:
        return '<span class="badge fail" role="status">&#10007; FAILED</span>'
    return '<span class="badge none" role="status">NOT GATED</span>'


def _stand_in_notice(report: Mapping[str, Any]) -> str:
    """The plain warning that a locally emulated run's figures are not Bedrock's."""
    if not report.get("stand_in"):
        return ""
    if _dict(report.get("model_import")):
        return ('<div class="notice" role="note"><strong>&#9888; Local stand-in run: these figures are not '
                "Bedrock&#8217;s.</strong>The tuned model is the imported folder itself, run locally by the local "
                "emulation; the base model is a local few-shot stand-in. No Amazon Bedrock model answered these "
                "prompts.</div>")
    return ('<div class="notice" role="note"><strong>&#9888; Local stand-in run: these figures are not '
            "Bedrock&#8217;s.</strong>Both models are local stand-ins produced by the local emulation: the tuned "
            "model is a TF-IDF classifier and the base model is a few-shot one. No Amazon Bedrock model answered "
            "these prompts.</div>")


def _sample_text(sample: Mapping[str, Any]) -> str:
    """'200 examples of 1,000 test records, stratified (max 200)'."""
    if not sample:
        return DASH
    parts = [f"{_count(sample.get('examples'))} examples"]
    if _num(sample.get("test_records")) is not None:
        parts.append(f"of {_count(sample.get('test_records'))} test records")
    text = " ".join(parts)
    if sample.get("stratified") is not None:
        text += ", stratified" if sample.get("stratified") else ", not stratified"
    if _num(sample.get("max_examples")) is not None:
        text += f" (max {_count(sample.get('max_examples'))})"
    return text


def _meta_list(report: Mapping[str, Any]) -> str:
    """The run's identifying facts as a definition list."""
    tuned = dict(_models(report)).get("tuned", {})
    labels = [str(label) for label in _list(report.get("labels"))]
    facts = [
        ("Source", report.get("source_uri")),
        ("Base model", report.get("base_model")),
        ("Imported model" if _dict(report.get("model_import")) else "Tuned model",
         report.get("custom_model_arn") or tuned.get("model_id")),
        ("Generated", _when(report.get("generated_at"))),
        ("Task", report.get("task") or "classification"),
        ("Labels", ", ".join(labels) if labels else None),
        ("Sample", _sample_text(_dict(report.get("sample")))),
    ]
    rows = "".join(f"<dt>{_e(name)}</dt><dd>{_e(value) if value not in (None, '') else DASH}</dd>"
                   for name, value in facts if not (name == "Labels" and value is None))
    return f'<dl class="meta">{rows}</dl>'


def _header(report: Mapping[str, Any]) -> str:
    """The page header: run id, verdict badge and summary, the stand-in notice, the run's facts."""
    gate = _dict(report.get("gate"))
    summary = f'<p class="small wrap">{_e(gate.get("summary"))}</p>' if gate.get("summary") else ""
    if not gate:
        summary = '<p class="small muted">No quality gate was applied.</p>'
    return (f'<header class="card"><div class="head-top"><div><p class="eyebrow">Fine-tuning evaluation</p>'
            f'<h1 class="wrap">{_e(report.get("run_id") or "unnamed run")}</h1></div>'
            f'<div class="verdict"><span class="eyebrow">Quality gate</span>{_gate_badge(gate)}{summary}</div></div>'
            f"{_stand_in_notice(report)}{_meta_list(report)}</header>")


# -------------------------------------------------------------------------------------------------- comparison


def _tile(value: str, caption: str, kind: str = "") -> str:
    """One big-number tile."""
    return f'<div class="tile {_e(kind)}"><div class="v">{value}</div><div class="k">{_e(caption)}</div></div>'


def _comparison_of(report: Mapping[str, Any], metric: str) -> Mapping[str, Any]:
    """The report's confidence interval block if it is about `metric`."""
    comparison = _dict(report.get("comparison"))
    return comparison if comparison and str(comparison.get("metric") or "accuracy") == metric else {}


def _confidence_label(comparison: Mapping[str, Any]) -> str:
    """'95%' from 0.95."""
    confidence = _num(comparison.get("confidence"))
    return f"{confidence * 100:g}%" if confidence is not None else "95%"


def _headline_tiles(report: Mapping[str, Any]) -> str:
    """Tiles: the first headline metric for each model and its difference (every headline metric without a base)."""
    key, name = _headline_metrics(report)[0]
    models = dict(_models(report))
    if "base" not in models:
        tuned = models.get("tuned", {})
        return '<div class="tiles">' + "".join(_tile(_e(_pct(tuned.get(metric))), f"{label}, tuned model", "tuned")
                                               for metric, label in _headline_metrics(report)) + "</div>"
    tiles = [_tile(_e(_pct(models.get("tuned", {}).get(key))), f"{name}, tuned model", "tuned")]
    if "base" in models:
        tiles.append(_tile(_e(_pct(models["base"].get(key))), f"{name}, base model", "base"))
        difference = _difference(models["tuned"].get(key), models["base"].get(key))
        comparison = _comparison_of(report, key)
        if _num(comparison.get("difference")) is not None:
            difference = _num(comparison.get("difference"))
        caption = "difference, tuned − base"
        if _num(comparison.get("low")) is not None and _num(comparison.get("high")) is not None:
            caption += f" ({_confidence_label(comparison)} CI {_points(comparison['low'])} to " \
                       f"{_points(comparison['high'])})"
        tiles.append(_tile(f'<span class="{_signed_class(difference)}">{_e(_points(difference))}</span>', caption))
    return f'<div class="tiles">{"".join(tiles)}</div>'


def _difference(tuned: Any, base: Any) -> float | None:
    """tuned − base where both are numbers."""
    first, second = _num(tuned), _num(base)
    return None if first is None or second is None else first - second


def _interval_text(comparison: Mapping[str, Any], unit: str = " pts") -> str:
    """'+25.1 to +41.0 pts' from a comparison block."""
    low, high = _num(comparison.get("low")), _num(comparison.get("high"))
    if low is None or high is None:
        return DASH
    return f"{low * 100:+.1f} to {high * 100:+.1f}{unit}"


def _has_interval(report: Mapping[str, Any]) -> bool:
    """Whether the report's confidence interval is about one of the task's headline metrics."""
    return any(_comparison_of(report, key) for key, _name in _headline_metrics(report))


def _metric_rows(report: Mapping[str, Any], with_interval: bool) -> list[list[str]]:
    """Comparison-table rows for the task's headline metrics."""
    models = dict(_models(report))
    tuned, base = models.get("tuned", {}), models.get("base")
    rows = []
    for key, name in _headline_metrics(report):
        difference = _difference(tuned.get(key), base.get(key)) if base is not None else None
        comparison = _comparison_of(report, key)
        row = [f"<strong>{_e(name)}</strong>", _e(_pct(tuned.get(key)))]
        if base is not None:
            row += [_e(_pct(base.get(key))),
                    f'<span class="{_signed_class(difference)}">{_e(_points(difference, ""))}</span>']
            if with_interval:
                row.append(f'<span class="ci">{_e(_interval_text(comparison, ""))}</span>' if comparison else DASH)
        rows.append(row)
    return rows


def _count_rows(report: Mapping[str, Any], with_interval: bool) -> list[list[str]]:
    """Comparison-table rows for answered / invalid / errors counts."""
    models = dict(_models(report))
    rows = []
    for key, name in (("answered", "Answered"), ("invalid", "Invalid answers"), ("errors", "Errors")):
        row = [_e(name), _e(_count(models.get("tuned", {}).get(key)))]
        if "base" in models:
            row += [_e(_count(models["base"].get(key))), ""] + ([""] if with_interval else [])
        rows.append(row)
    return rows


def _interval_plot(comparison: Mapping[str, Any]) -> str:
    """A forest-plot style SVG: the difference, its confidence interval, and zero."""
    difference, low, high = (_num(comparison.get(key)) for key in ("difference", "low", "high"))
    if difference is None or low is None or high is None:
        return ""
    ticks = _ticks(min(low, 0.0, difference), max(high, 0.0, difference), 4)
    lo, hi = ticks[0], ticks[-1]
    left, right, width = 30.0, 400.0, 420

    def x_of(value: float) -> float:
        return left + (value - lo) / (hi - lo) * (right - left)

    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    tick_marks = "".join(
        f'<line x1="{x_of(t):.1f}" y1="58" x2="{x_of(t):.1f}" y2="63" stroke="#8c959f"/>'
        f'<text x="{x_of(t):.1f}" y="80" text-anchor="middle" font-size="13">'
        f"{_e(_tick_label(t * 100, step * 100))}</text>" for t in ticks)
    colour = "#116329" if low > 0 else ("#a40e26" if high < 0 else "#57606a")
    label = f"{_confidence_label(comparison)} CI {_interval_text(comparison)}"
    return (f'<div class="chart narrow"><svg viewBox="0 0 {width} 104" role="img" '
            f'aria-label="{_e("Difference " + _points(difference) + ", " + label)}">'
            f'<line x1="{left}" y1="58" x2="{right}" y2="58" stroke="#8c959f"/>{tick_marks}'
            f'<line x1="{x_of(0):.1f}" y1="8" x2="{x_of(0):.1f}" y2="58" stroke="#57606a" stroke-dasharray="4 3"/>'
            f'<text x="{x_of(0) + 4:.1f}" y="12" font-size="13" fill="#57606a">0 = no difference'
            f"</text>"
            f'<line x1="{x_of(low):.1f}" y1="36" x2="{x_of(high):.1f}" y2="36" stroke="{colour}" stroke-width="4"/>'
            f'<line x1="{x_of(low):.1f}" y1="28" x2="{x_of(low):.1f}" y2="44" stroke="{colour}" stroke-width="3"/>'
            f'<line x1="{x_of(high):.1f}" y1="28" x2="{x_of(high):.1f}" y2="44" stroke="{colour}" stroke-width="3"/>'
            f'<circle cx="{x_of(difference):.1f}" cy="36" r="7" fill="{colour}" stroke="#fff" stroke-width="2"/>'
            f'<text x="{(left + right) / 2:.1f}" y="101" text-anchor="middle" font-size="12" fill="#57606a">'
            "difference in percentage points</text></svg></div>")


def _interval_sentence(comparison: Mapping[str, Any]) -> str:
    """One sentence that reads the confidence interval for the reader."""
    low, high = _num(comparison.get("low")), _num(comparison.get("high"))
    if low is None or high is None:
        return ""
    metric = _e(comparison.get("metric") or "accuracy")
    if low > 0:
        verdict = "The whole interval is above zero: the tuned model is better, beyond sampling noise."
    elif high < 0:
        verdict = "The whole interval is below zero: the tuned model is worse, beyond sampling noise."
    else:
        verdict = "The interval includes zero: this sample does not show a clear difference."
    details = [f"n = {_count(comparison.get('n'))}"] if _num(comparison.get("n")) is not None else []
    if comparison.get("method"):
        details.append(str(comparison.get("method")))
    extra = f" ({_e(', '.join(details))})" if details else ""
    return (f'<p class="small">{metric.capitalize()} difference, tuned − base: '
            f"<strong>{_e(_points(comparison.get('difference')))}</strong>, "
            f"{_e(_confidence_label(comparison))} confidence interval <strong>{_e(_interval_text(comparison))}"
            f"</strong>{extra}. {verdict}</p>")


def _comparison_section(report: Mapping[str, Any]) -> str:
    """Headline tiles, the metric table, and the confidence interval of the difference."""
    models = dict(_models(report))
    if "tuned" not in models:
        return _section("Tuned vs base", '<p class="muted">No model results in this report.</p>', "comparison")
    comparison = _dict(report.get("comparison"))
    with_interval = "base" in models and _has_interval(report)
    head = ["Metric", "Tuned"] + (["Base", "Tuned − base"] if "base" in models else [])
    head += [f"{_confidence_label(comparison)} CI"] if with_interval else []
    table = _table(head, _metric_rows(report, with_interval) + _count_rows(report, with_interval),
                   [False] + [True] * (len(head) - 1))
    note = '<p class="muted small">The base model was not evaluated in this run.</p>'
    if "base" in models:
        ci_note = f" {_e(_confidence_label(comparison))} CI: the confidence interval of that difference, for the " \
                  "metric the comparison tested." if with_interval else ""
        note = f'<p class="muted small" style="margin-top:6px">Tuned − base: the difference in percentage points.' \
               f"{ci_note}</p>"
    interval = ""
    if with_interval:
        interval = (f'<h3 style="margin-top:16px">Confidence interval of the '
                    f'{_e(comparison.get("metric") or "accuracy")} difference</h3>'
                    f"{_interval_sentence(comparison)}{_interval_plot(comparison)}")
    title = "Tuned vs base" if "base" in models else "Tuned model"
    return _section(title, _headline_tiles(report) + table + note + interval, "comparison")


# ---------------------------------------------------------------------------------------------- confusion matrix


def _matrix_cell(count: Any, row_total: float, expected: str, predicted: str, diagonal: bool, invalid: bool) -> str:
    """One heatmap cell: its colour is the count's share of the row; the count and the share are written in it."""
    number = _num(count) or 0.0
    share = number / row_total if row_total else 0.0
    background = _scale(GREYS if invalid else BLUES, share)
    text = "#ffffff" if share > (0.55 if invalid else 0.5) else "#1f2328"
    classes = "cell" + (" diag" if diagonal else "") + (" inv sep" if invalid else "")
    title = f"expected {expected}, predicted {predicted}: {_count(count)} ({share * 100:.0f}% of the row)"
    return (f'<td class="{classes}" style="background-color:{background};color:{text}" title="{_e(title)}">'
            f"{_e(_count(count))}<small>{share * 100:.0f}%</small></td>")


def _matrix_table(matrix: Mapping[str, Any], row_labels: Sequence[str]) -> str:
    """A confusion matrix as an HTML heatmap table: rows expected, columns predicted, `invalid` last and marked."""
    columns = [str(label) for label in _list(matrix.get("labels"))]
    rows = [_list(row) for row in _list(matrix.get("rows"))]
    if not columns or not rows:
        return '<p class="muted">No confusion matrix.</p>'
    names = list(row_labels) or columns
    invalid_at = len(columns) - 1 if columns[-1].strip().lower() == "invalid" else -1
    head = "".join(f'<th scope="col" class="{"inv sep" if i == invalid_at else ""}">{_e(label)}</th>'
                   for i, label in enumerate(columns))
    body = []
    for index, row in enumerate(rows):
        expected = names[index] if index < len(names) else f"row {index + 1}"
        total = sum(_num(value) or 0.0 for value in row)
        cells = "".join(
            _matrix_cell(row[i] if i < len(row) else 0, total, expected, label, label == expected, i == invalid_at)
            for i, label in enumerate(columns))
        axis = f'<th rowspan="{len(rows)}" class="axis vert" scope="rowgroup">expected</th>' if index == 0 else ""
        body.append(f'<tr>{axis}<th scope="row" class="row">{_e(expected)}</th>{cells}</tr>')
    return (f'<div class="scroll"><table class="cm"><thead>'
            f'<tr><th colspan="2"></th><th colspan="{len(columns)}" class="axis">predicted &#8594;</th></tr>'
            f'<tr><th colspan="2"></th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def _confusion_section(report: Mapping[str, Any]) -> str:
    """Both models' confusion matrices side by side (stacked on a phone)."""
    labels = [str(label) for label in _list(report.get("labels"))]
    panels = []
    for name, model in _models(report):
        matrix = _dict(model.get("confusion_matrix"))
        colour = TUNED_COLOUR if name == "tuned" else BASE_COLOUR
        panels.append(f'<div style="min-width:0"><h3><span class="sw" style="background:{colour}" aria-hidden="true">'
                      f"</span>{_e(name.capitalize())} model</h3>{_matrix_table(matrix, labels)}</div>")
    if not panels:
        return ""
    legend = _legend([(_swatch(BLUES[2]), "light → dark blue: share of the expected row"),
                      ('<span class="sw inv" aria-hidden="true"></span>', "invalid: answer was not a label"),
                      ('<span class="sw" style="box-shadow:inset 0 0 0 2px #1f2328" aria-hidden="true"></span>',
                       "outlined: correct")])
    intro = '<p class="small muted">Each row is an expected label; each cell gives the count and its share of ' \
            "the row.</p>"
    return _section("Confusion matrices", intro + legend + f'<div class="grid2">{"".join(panels)}</div>', "confusion")


# ------------------------------------------------------------------------------------------------------- bars


def _bar_panel(title: str, subtitle: str, rows: Sequence[tuple[str, float | None, float | None]], has_base: bool,
               scale_max: float = 1.0, fmt: Callable[[float], str] = lambda v: f"{v:.2f}") -> str:
    """A small SVG of horizontal bars: for each row the tuned bar and (below it) the base bar, with values."""
    longest = max((len(name) for name, _tuned, _base in rows), default=4)
    width, bar, gap, top = 250, 13, 12, 32
    label_w = min(110, max(50, round(longest * 6.8) + 10))
    bar_w = width - label_w - 52
    per_row = bar * (2 if has_base else 1) + 2 + gap
    height = top + per_row * len(rows)
    parts = [f'<text x="0" y="15" font-size="14" font-weight="700">{_e(title)}</text>',
             f'<text x="{width}" y="15" font-size="11" text-anchor="end" fill="#57606a">{_e(subtitle)}</text>']
    for index, (name, tuned, base) in enumerate(rows):
        y = top + index * per_row
        parts.append(f'<text x="{label_w - 6}" y="{y + (per_row - gap) / 2 + 4:.1f}" font-size="12" '
                     f'text-anchor="end">{_e(name)}</text>')
        series = [(tuned, TUNED_COLOUR, "tuned")] + ([(base, BASE_COLOUR, "base")] if has_base else [])
        for offset, (value, colour, who) in enumerate(series):
            parts.append(_bar(label_w, y + offset * (bar + 2), bar_w, bar, value, scale_max, colour, who, fmt))
    parts.append(f'<line x1="{label_w}" y1="{top - 6}" x2="{label_w}" y2="{height - gap + 4}" stroke="#8c959f"/>')
    return (f'<div class="panel"><svg viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}">'
            f'{"".join(parts)}</svg></div>')


def _bar(x: float, y: float, full: float, height: float, value: float | None, scale_max: float, colour: str,
         who: str, fmt: Callable[[float], str]) -> str:
    """One bar with its value written after it (or 'n/a' where the value is missing)."""
    if value is None:
        return f'<text x="{x + 4}" y="{y + height - 2}" font-size="12" fill="#57606a">{_e(who)}: n/a</text>'
    length = max(0.0, min(1.0, value / scale_max if scale_max else 0.0)) * full
    return (f'<rect x="{x}" y="{y}" width="{length:.1f}" height="{height}" rx="2" fill="{colour}">'
            f"<title>{_e(who)}: {_e(fmt(value))}</title></rect>"
            f'<text x="{x + length + 4:.1f}" y="{y + height - 1.5}" font-size="12">{_e(fmt(value))}</text>')


def _per_class_section(report: Mapping[str, Any]) -> str:
    """Per-class precision / recall / F1 as small multiples, tuned vs base."""
    models = dict(_models(report))
    tuned_classes = _dict(models.get("tuned", {}).get("per_class"))
    base_classes = _dict(models.get("base", {}).get("per_class")) if "base" in models else {}
    labels = [str(label) for label in _list(report.get("labels"))] or list(tuned_classes) or list(base_classes)
    if not labels or not (tuned_classes or base_classes):
        return ""
    panels = []
    for label in labels:
        tuned, base = _dict(tuned_classes.get(label)), _dict(base_classes.get(label))
        rows = [(name, _num(tuned.get(key)), _num(base.get(key)))
                for key, name in (("precision", "precision"), ("recall", "recall"), ("f1", "F1"))]
        support = tuned.get("support") if tuned.get("support") is not None else base.get("support")
        subtitle = f"support {_count(support)}" if _num(support) is not None else ""
        panels.append(_bar_panel(label, subtitle, rows, "base" in models))
    return _section("Per-class precision, recall and F1",
                    _model_legend("base" in models) + f'<div class="panels">{"".join(panels)}</div>', "per-class")


def _freeform_section(report: Mapping[str, Any]) -> str:
    """Free-form tasks: exact match, token F1 and ROUGE-L as bars, tuned vs base."""
    models = dict(_models(report))
    if "tuned" not in models:
        return ""
    tuned, base = models["tuned"], models.get("base", {})
    rows = [(name, _num(tuned.get(key)), _num(base.get(key))) for key, name in FREEFORM_METRICS]
    panel = _bar_panel("Answer quality", "0 – 1, higher is better", rows, "base" in models)
    return _section("Free-form answer quality",
                    _model_legend("base" in models) + f'<div class="panels">{panel}</div>', "freeform")


# ---------------------------------------------------------------------------------------------- training curves


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (steps of 1, 2, 2.5 or 5 times a power of ten)."""
    if not high > low:
        low, high = low - 0.5, high + 0.5
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if raw <= m * magnitude * (1 + 1e-9))
    start, end = math.floor(low / step + 1e-9) * step, math.ceil(high / step - 1e-9) * step
    return [start + i * step for i in range(round((end - start) / step) + 1)]


def _tick_label(value: float, step: float) -> str:
    """A tick value with as many decimals as its step needs."""
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    if step > 0 and abs(step * 10**decimals - round(step * 10**decimals)) > 1e-6:
        decimals += 1
    text = f"{value:,.{decimals}f}"
    return "0" if text.strip("-0.,") == "" else text


def _curve_points(curve: Any) -> list[tuple[float, float, float | None]]:
    """[(step, loss, epoch)] from [[step, epoch, loss], ...], skipping malformed points."""
    points = []
    for item in _list(curve):
        entry = _list(item)
        if len(entry) >= 3 and _num(entry[0]) is not None and _num(entry[2]) is not None:
            points.append((_num(entry[0]) or 0.0, _num(entry[2]) or 0.0, _num(entry[1])))
    return sorted(points)


def _epoch_starts(points: Sequence[tuple[float, float, float | None]]) -> list[tuple[float, int]]:
    """The steps where a new epoch begins, with its number (epochs given as numbers or as fractional progress)."""
    epochs = [epoch for _step, _loss, epoch in points if epoch is not None]
    numbered = all(float(epoch).is_integer() for epoch in epochs)
    starts, previous = [], None
    for step, _loss, epoch in points:
        if epoch is None:
            continue
        whole = math.floor(epoch + 1e-9)
        if previous is not None and whole > previous:
            starts.append((step, whole if numbered else whole + 1))
        previous = whole
    return starts


def _loss_chart(training: Sequence[tuple[float, float, float | None]],
                validation: Sequence[tuple[float, float, float | None]]) -> str:
    """The loss chart twice: drawn for a wide screen and for a phone; CSS shows the one that fits."""
    if len(training) + len(validation) < 2:
        return ""
    return (f'<div class="chart only-wide">{_loss_svg(training, validation, WIDE_CHART)}</div>'
            f'<div class="chart only-narrow">{_loss_svg(training, validation, NARROW_CHART)}</div>')


def _loss_svg(training: Sequence[tuple[float, float, float | None]],
              validation: Sequence[tuple[float, float, float | None]], geometry: tuple[int, ...]) -> str:
    """An SVG line chart of training (solid) and validation (dashed, with points) loss over steps."""
    points = list(training) + list(validation)
    width, height, left, right, top, bottom, x_count = geometry
    x_ticks = _ticks(min(p[0] for p in points), max(p[0] for p in points), x_count)
    y_ticks = _ticks(min(0.0, min(p[1] for p in points)), max(p[1] for p in points), 5)

    def x_of(step: float) -> float:
        return left + (step - x_ticks[0]) / (x_ticks[-1] - x_ticks[0]) * (right - left)

    def y_of(loss: float) -> float:
        return bottom - (loss - y_ticks[0]) / (y_ticks[-1] - y_ticks[0]) * (bottom - top)

    parts = [_axes(x_ticks, y_ticks, x_of, y_of, (left, right, top, bottom))]
    parts += _epoch_marks(_epoch_starts(training), x_of, top, bottom)
    for series, colour, dash in ((training, TRAINING_COLOUR, ""), (validation, VALIDATION_COLOUR, "7 5")):
        parts.append(_polyline(series, x_of, y_of, colour, dash))
    if len(validation) <= 60:
        parts += [f'<circle cx="{x_of(s):.1f}" cy="{y_of(v):.1f}" r="3.5" fill="#fff" stroke="{VALIDATION_COLOUR}" '
                  f'stroke-width="2"/>' for s, v, _epoch in validation]
    parts.append(f'<text x="{(left + right) / 2:.0f}" y="{height - 4}" text-anchor="middle" font-size="13" '
                 f'font-weight="600">step</text>')
    parts.append(f'<text transform="translate(14 {(top + bottom) / 2:.0f}) rotate(-90)" text-anchor="middle" '
                 f'font-size="13" font-weight="600">loss</text>')
    return (f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="Training and validation loss over steps">'
            f'{"".join(parts)}</svg>')


def _axes(x_ticks: Sequence[float], y_ticks: Sequence[float], x_of: Callable[[float], float],
          y_of: Callable[[float], float], box: tuple[float, float, float, float]) -> str:
    """Grid lines, tick labels and axis lines of the loss chart."""
    left, right, top, bottom = box
    x_step = x_ticks[1] - x_ticks[0] if len(x_ticks) > 1 else 1.0
    y_step = y_ticks[1] - y_ticks[0] if len(y_ticks) > 1 else 1.0
    parts = [f'<line x1="{left}" y1="{y_of(t):.1f}" x2="{right}" y2="{y_of(t):.1f}" stroke="#eaeef2"/>'
             f'<text x="{left - 8}" y="{y_of(t) + 4:.1f}" text-anchor="end" font-size="12">'
             f"{_e(_tick_label(t, y_step))}</text>" for t in y_ticks]
    parts += [f'<line x1="{x_of(t):.1f}" y1="{bottom}" x2="{x_of(t):.1f}" y2="{bottom + 5}" stroke="#57606a"/>'
              f'<text x="{x_of(t):.1f}" y="{bottom + 22}" text-anchor="middle" font-size="12">'
              f"{_e(_tick_label(t, x_step))}</text>" for t in x_ticks]
    parts.append(f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#57606a"/>'
                 f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#57606a"/>')
    return "".join(parts)


def _epoch_marks(starts: Sequence[tuple[float, int]], x_of: Callable[[float], float], top: float,
                 bottom: float) -> list[str]:
    """Faint vertical lines where epochs begin, labelled while there is room."""
    labelled = len(starts) <= 6
    marks = []
    for step, epoch in starts:
        x = x_of(step)
        marks.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="#8c959f" '
                     f'stroke-dasharray="2 4"/>')
        if labelled:
            marks.append(f'<text x="{x + 4:.1f}" y="{top + 12}" font-size="11" fill="#57606a">epoch {epoch}</text>')
    return marks


def _polyline(series: Sequence[tuple[float, float, float | None]], x_of: Callable[[float], float],
              y_of: Callable[[float], float], colour: str, dash: str) -> str:
    """One loss curve."""
    if not series:
        return ""
    coordinates = " ".join(f"{x_of(step):.1f},{y_of(loss):.1f}" for step, loss, _epoch in series)
    dashing = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<polyline points="{coordinates}" fill="none" stroke="{colour}" stroke-width="2.5" '
            f'stroke-linejoin="round" stroke-linecap="round"{dashing}/>')


def _imported_section(imported: Mapping[str, Any]) -> str:
    """An imported model was trained elsewhere: where it came from and what the import checks found."""
    size = _num(imported.get("weights_bytes"))
    facts = [("Folder", imported.get("folder")), ("Architecture", imported.get("architecture")),
             ("Family", imported.get("family")), ("Weights", f"{size / 1e6:,.1f} MB" if size is not None else None),
             ("Import job", imported.get("job_name")), ("Imported model", imported.get("imported_model_arn"))]
    rows = "".join(f"<dt>{_e(name)}</dt><dd>{_e(value) if value not in (None, '') else DASH}</dd>"
                   for name, value in facts)
    note = ('<p class="small muted">Trained outside this pipeline and brought in with Custom Model Import; it is '
            "invoked on demand (no provisioned throughput).</p>")
    return _section("Imported model", f'{note}<dl class="meta">{rows}</dl>', "training")


def _training_section(report: Mapping[str, Any]) -> str:
    """Final losses as tiles and the loss curves as a chart."""
    imported = _dict(report.get("model_import"))
    if imported:
        return _imported_section(imported)
    training = _dict(report.get("training"))
    if not training:
        return _section("Training", '<p class="muted">No training metrics in this report.</p>', "training")
    curves = _dict(training.get("curves"))
    train_points = _curve_points(curves.get("training_loss"))
    validation_points = _curve_points(curves.get("validation_loss"))
    tiles = (f'<div class="tiles">{_tile(_e(_plain(training.get("training_loss"))), "final training loss")}'
             f'{_tile(_e(_plain(training.get("validation_loss"))), "final validation loss")}'
             f'{_tile(_e(_count(training.get("steps"))), "steps")}{_tile(_e(_count(training.get("epochs"))), "epochs")}'
             f"</div>")
    chart = _loss_chart(train_points, validation_points)
    legend = _legend([(_swatch(TRAINING_COLOUR, "line"), "training loss (solid)"),
                      (_swatch(VALIDATION_COLOUR, "line dashed"), "validation loss (dashed)")])
    body = tiles + (legend + chart if chart else '<p class="muted">No loss curves were recorded.</p>')
    return _section("Training", body, "training")


# ------------------------------------------------------------------------------------------ latency and tokens


def _runtime_rows(models: Sequence[tuple[str, Mapping[str, Any]]]) -> list[list[str]]:
    """Rows of the latency / tokens / cost table: one per measure, one column per model."""
    def latency(model: Mapping[str, Any], key: str) -> Any:
        return _dict(model.get("latency_ms")).get(key)

    measures: list[tuple[str, Callable[[Mapping[str, Any]], str]]] = [
        ("Latency p50", lambda m: _ms(latency(m, "p50"))),
        ("Latency p95", lambda m: _ms(latency(m, "p95"))),
        ("Latency mean", lambda m: _ms(latency(m, "mean"))),
        ("Timed calls", lambda m: _count(latency(m, "n"))),
        ("Input tokens", lambda m: _count(_dict(m.get("tokens")).get("input"))),
        ("Output tokens", lambda m: _count(_dict(m.get("tokens")).get("output"))),
        ("Evaluation cost", lambda m: _usd(m.get("cost_usd"))),
    ]
    return [[_e(name)] + [_e(read(model)) for _who, model in models]
            for name, read in measures]


def _latency_panel(models: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """Bars of p50 and p95 latency, tuned vs base, on one scale."""
    named = dict(models)
    values = {who: _dict(named.get(who, {}).get("latency_ms")) for who in ("tuned", "base")}
    rows = [(label, _num(values["tuned"].get(key)), _num(values["base"].get(key)))
            for key, label in (("p50", "p50"), ("p95", "p95"))]
    known = [v for row in rows for v in row[1:] if v is not None]
    if not known:
        return ""
    return _bar_panel("Latency", "milliseconds, lower is better", rows, "base" in named, max(known) * 1.3,
                      lambda v: f"{v:,.0f} ms")


def _runtime_section(report: Mapping[str, Any]) -> str:
    """Latency percentiles, token counts and evaluation cost per model."""
    models = _models(report)
    if not models:
        return ""
    numeric = [False] + [True] * len(models)
    table = _table(["Measure"] + [f"{who.capitalize()} model" for who, _m in models], _runtime_rows(models), numeric)
    panel = _latency_panel(models)
    chart = f'<div>{_model_legend(len(models) > 1)}{panel}</div>' if panel else ""
    return _section("Latency and tokens", f'<div class="grid2"><div>{table}</div>{chart}</div>', "runtime")


# --------------------------------------------------------------------------------------------- gate, timeline


def _pill(passed: Any) -> str:
    """PASS / FAIL in words and colour."""
    if passed is True:
        return '<span class="pill pass">&#10003; pass</span>'
    if passed is False:
        return '<span class="pill fail">&#10007; fail</span>'
    return '<span class="pill none">n/a</span>'


def _gate_section(report: Mapping[str, Any]) -> str:
    """The quality gate's rules with value, threshold and result."""
    gate = _dict(report.get("gate"))
    if not gate:
        return _section("Quality gate", '<p class="muted">No quality gate was applied to this run.</p>', "gate")
    rows = [[f'<span class="wrap">{_e(rule.get("rule"))}</span>', _e(_plain(rule.get("value"))),
             _e(_plain(rule.get("threshold"))), _pill(rule.get("passed"))]
            for rule in map(_dict, _list(gate.get("rules")))]
    summary = f'<p>{_gate_badge(gate)} <span class="wrap">{_e(gate.get("summary"))}</span></p>'
    table = _table(["Rule", "Value", "Threshold", "Result"], rows, [False, True, True, False]) if rows else \
        '<p class="muted">The gate reported no rules.</p>'
    return _section("Quality gate", summary + table, "gate")


def _timeline_section(report: Mapping[str, Any]) -> str:
    """The run's status history as a compact table."""
    events = [_dict(event) for event in _list(report.get("timeline"))]
    if not events:
        return ""
    rows = [[f'<span style="white-space:nowrap">{_e(_when(event.get("at")))}</span>',
             f"<strong>{_e(event.get('status'))}</strong>", _e(event.get("transition")),
             f'<span class="wrap">{_e(event.get("note"))}</span>'] for event in events]
    return _section("Timeline", _table(["When", "Status", "Transition", "Note"], rows, cls="compact stack"), "timeline")


# ------------------------------------------------------------------------------------------------------- cost


def _cost_section(report: Mapping[str, Any]) -> str:
    """The cost so far, saying which prices are unconfirmed."""
    cost = _dict(report.get("cost"))
    if not cost:
        return _section("Cost so far", '<p class="muted">No cost estimate in this report.</p>', "cost")
    unconfirmed = [str(item) for item in _list(cost.get("unconfirmed"))]
    hours = _num(cost.get("serving_hours"))
    serving = "Serving" + (f" ({hours:,.2f} h)" if hours is not None else "")
    items = [("Training (estimated)", cost.get("estimated_training_usd")), (serving, cost.get("serving_usd")),
             ("Evaluation", cost.get("evaluation_usd")), ("Total so far", cost.get("total_usd"))]
    rows = []
    for name, value in items:
        shown = _usd(value) if _num(value) is not None else "not known"
        label = f"<strong>{_e(name)}</strong>" if name.startswith("Total") else _e(name)
        flag = "" if _num(value) is not None else ' <span class="muted small">(price unconfirmed)</span>' \
            if unconfirmed else ""
        rows.append([label, f"{_e(shown)}{flag}"])
    table = _table(["Item", "USD"], rows, [False, True])
    note = ""
    if unconfirmed:
        note = ('<p class="small" style="margin-top:10px"><strong>Unconfirmed:</strong> these prices are not '
                "stated by AWS or were not configured, so the figures above leave them out:</p>"
                '<ul class="plain small">' + "".join(f'<li class="wrap">{_e(item)}</li>' for item in unconfirmed)
                + "</ul>")
    else:
        note = '<p class="small muted" style="margin-top:10px">All prices used are confirmed.</p>'
    return _section("Cost so far", table + note, "cost")


# --------------------------------------------------------------------------------------------------- examples


def _answer(value: Any, expected: Any) -> str:
    """A model's answer marked right or wrong in words as well as colour."""
    if value is None:
        return '<span class="muted">no answer</span>'
    if _same_answer(value, expected):
        return f'<span class="ok">&#10003; {_e(value)}</span>'
    return f'<span class="bad">&#10007; {_e(value)}</span>'


def _example_card(example: Mapping[str, Any], has_base: bool) -> str:
    """One misclassified example: the input and each model's answer next to the expected one."""
    expected = example.get("expected")
    fields = [("expected", f"<strong>{_e(expected) if expected is not None else DASH}</strong>"),
              ("tuned", _answer(example.get("tuned"), expected))]
    if has_base or example.get("base") is not None:
        fields.append(("base", _answer(example.get("base"), expected)))
    listing = "".join(f"<dt>{_e(name)}</dt><dd>{value}</dd>" for name, value in fields)
    index = f"#{_count(example.get('index'))}" if _num(example.get("index")) is not None else "example"
    return (f'<article class="example"><div class="small muted">{_e(index)}</div>'
            f"<blockquote>{_e(example.get('input'))}</blockquote><dl>{listing}</dl></article>")


def _examples_section(report: Mapping[str, Any]) -> str:
    """A few examples the models got wrong."""
    examples = [_dict(example) for example in _list(report.get("examples_preview"))]
    if not examples:
        return ""
    has_base = "base" in dict(_models(report))
    cards = "".join(_example_card(example, has_base) for example in examples)
    return _section("Examples the models got wrong", f'<div class="examples">{cards}</div>', "examples")


# ------------------------------------------------------------------------------------------------------ links


def _link(url: Any, name: str) -> str:
    """A link to a report file; an unsafe or missing URL is shown as text, not linked."""
    href = _safe_href(url)
    if href is None:
        return f"<li>{_e(name)}: <span class=\"muted\">{_e(url) if url else 'not available'}</span></li>"
    return f'<li><a href="{_e(href)}">{_e(name)}</a> <span class="muted small wrap">{_e(href)}</span></li>'


def _links_section(report: Mapping[str, Any]) -> str:
    """Links to predictions.jsonl and report.json."""
    links = _dict(report.get("links"))
    items = _link(links.get("predictions"), "predictions.jsonl") + _link(links.get("report_json"), "report.json")
    return _section("Files", f'<ul class="plain">{items}</ul>', "files")


# ------------------------------------------------------------------------------------------------------- page


def _body_sections(report: Mapping[str, Any]) -> list[str]:
    """The page's sections in reading order, task-specific visuals in the middle."""
    if _is_freeform(report):
        visuals = [_freeform_section(report)]
    else:
        visuals = [_confusion_section(report), _per_class_section(report)]
    return [_comparison_section(report), *visuals, _training_section(report), _runtime_section(report),
            _gate_section(report), _cost_section(report), _examples_section(report), _timeline_section(report),
            _links_section(report)]


def render_report_html(report: dict) -> str:
    """The evaluation report as one self-contained HTML page (inline CSS and SVG, no scripts, no network)."""
    report = _dict(report)
    title = f"Evaluation report — {report.get('run_id') or 'unnamed run'}"
    sections = "".join(section for section in _body_sections(report) if section)
    return ("<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{CSS}</style></head>"
            f"<body><main>{_header(report)}{sections}"
            "<footer>Self-contained page: no scripts, fonts or images are loaded from anywhere.</footer>"
            "</main></body></html>\n")
