"""Safe review-card HTML: passages are untrusted, so every character we did not write is escaped.

Escaping HTML alone is not enough for `st.markdown` (markdown, Streamlit directives such as
`:red[x]`, `$math$` and GFM autolinks would still render), so every ASCII punctuation character of
a text becomes a numeric entity; the only tags in the output are the ones built here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_WORD = re.compile(r"\w+", re.UNICODE)
_TOKEN = re.compile(r"\w+|\W+", re.UNICODE)
_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ")

# Short function words would light up every passage; highlight only content terms.
STOPWORDS = frozenset(
    """
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had
has have having he her here hers herself him himself his how i if in into is it its itself just
me more most my myself no nor not now of off on once only or other our ours ourselves out over
own same she should so some such than that the their theirs them themselves then there these
they this those through to too under until up very was we were what when where which while who
whom why will with would you your yours yourself yourselves also may might must shall within
without using used via
""".split()  # noqa: SIM905 - a word list reads best as text
)

HIGHLIGHT_STYLE = "background:#fde68a;color:inherit;padding:0 1px;border-radius:2px"


def escape_text(text: str) -> str:
    """Entity-encode every char that HTML, markdown or Streamlit could give meaning to."""
    out: list[str] = []
    for ch in text:
        if ch in _SAFE:
            out.append(ch)
        elif ch == "\n":
            out.append("<br>")
        elif ch in "\r\t":
            out.append(" ")
        elif ord(ch) < 32 or ord(ch) == 127:
            continue  # other control characters carry no meaning for a reader
        elif ord(ch) < 128:
            out.append(f"&#{ord(ch)};")
        else:
            out.append(ch)
    return "".join(out)


def plain(text: str) -> str:
    """Untrusted text for an element that renders markdown (st.error, st.success): shown literally.

    Messages quote file names and values from uploads; every ASCII punctuation char becomes a
    numeric entity (markdown decodes it as a plain character), control chars become spaces.
    """
    out: list[str] = []
    for ch in text:
        if ch in _SAFE or ord(ch) >= 128:
            out.append(ch)
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(" ")
        else:
            out.append(f"&#{ord(ch)};")
    return "".join(out)


def terms(text: str) -> set[str]:
    """Content terms of a text, lower-cased: the unit of the shared-term highlight."""
    return {w.lower() for w in _WORD.findall(text or "")
            if len(w) >= 3 and w.lower() not in STOPWORDS and not w.isdigit()}


def shared_terms(query: str, positives: Iterable[str], candidate: str) -> set[str]:
    """Terms the candidate shares with the query or with a labelled positive."""
    context = terms(query)
    for p in positives:
        context |= terms(p)
    return context & terms(candidate)


def highlight(text: str, marked: set[str]) -> str:
    """Escape `text` and wrap the words in `marked` in our own <mark> tag."""
    out: list[str] = []
    for tok in _TOKEN.findall(text or ""):
        if tok[0].isalnum() or tok[0] == "_":
            esc = escape_text(tok)
            out.append(f'<mark style="{HIGHLIGHT_STYLE}">{esc}</mark>'
                       if tok.lower() in marked else esc)
        else:
            out.append(escape_text(tok))
    return "".join(out)


@dataclass(frozen=True, slots=True)
class CardText:
    """One passage shown on the card."""

    doc_id: str
    title: str
    text: str


def _passage(label: str, p: CardText, marked: set[str], border: str) -> str:
    title = f"<b>{highlight(p.title, marked)}</b><br>" if p.title else ""
    return (
        f'<div class="na-passage" style="border-left:4px solid {border};padding:6px 10px;'
        f'margin:6px 0;background:rgba(127,127,127,0.06)">'
        f'<div style="font-size:0.8em;opacity:0.7">{escape_text(label)} '
        f'&#183; {escape_text(p.doc_id)}</div>{title}{highlight(p.text, marked)}</div>'
    )


def card_html(query: str, positives: Sequence[CardText], candidate: CardText,
              max_positives: int = 3) -> str:
    """The card body: query, labelled positive(s) and the candidate, shared terms highlighted.

    The result is one line (no blank line can end an HTML block and let markdown back in).
    """
    pos_texts = [f"{p.title} {p.text}" for p in positives]
    marked = shared_terms(query, pos_texts, f"{candidate.title} {candidate.text}")
    parts = [
        '<div class="na-card">',
        (f'<div class="na-query" style="font-size:1.15em;margin-bottom:6px"><b>Query</b>&#58; '
         f"{highlight(query, marked)}</div>"),
    ]
    if positives:
        for p in positives[:max_positives]:
            parts.append(_passage("labelled positive", p, marked, "#16a34a"))
        if len(positives) > max_positives:
            parts.append(f"<div>&#43; {len(positives) - max_positives} more positives</div>")
    else:
        parts.append("<div><i>no labelled positive</i></div>")
    parts.append(_passage("candidate (mined negative)", candidate, marked, "#d97706"))
    if marked:
        shown = ", ".join(escape_text(t) for t in sorted(marked)[:20])
        parts.append(f'<div style="font-size:0.8em;opacity:0.7">shared terms&#58; {shown}</div>')
    parts.append("</div>")
    return "".join(parts).replace("\n", " ")


def risk_html(fn_risk: float | None, reasons: str) -> str:
    """fn_risk as a percentage plus its reasons, escaped like everything else."""
    if fn_risk is None:
        head = "false-negative risk&#58; <b>not scored</b>"
    else:
        pct = 100.0 * float(fn_risk)
        color = "#dc2626" if pct >= 50 else "#d97706" if pct >= 20 else "#16a34a"
        head = (f'false-negative risk&#58; <b style="color:{color}">{pct:.0f}&#37;</b>')
    items = [r.strip() for r in re.split(r"[;\n]", reasons or "") if r.strip()]
    body = "".join(f"<li>{escape_text(r)}</li>" for r in items[:8])
    return f'<div class="na-risk">{head}' + (f"<ul>{body}</ul>" if body else "") + "</div>"


def miners_html(miners: Sequence[dict], signals: dict | None = None, max_signals: int = 8) -> str:
    """Which miners proposed the candidate (rank, score) and the numeric risk signals, escaped."""
    rows = "".join(
        f"<li>{escape_text(str(m.get('miner', '')))} &#183; rank {int(m.get('rank') or 0)}"
        + (f" &#183; score {float(m['score']):.3f}" if m.get("score") is not None else "")
        + "</li>"
        for m in miners)
    sig = ""
    nums = [(k, v) for k, v in (signals or {}).items() if isinstance(v, (int, float))]
    if nums:
        sig = "<div style=\"font-size:0.85em;opacity:0.8\">signals&#58;<ul>" + "".join(
            f"<li>{escape_text(str(k))} = {float(v):.3f}</li>" for k, v in nums[:max_signals]
        ) + "</ul></div>"
    return f'<div class="na-miners">mined by&#58;<ul>{rows}</ul>{sig}</div>'


def votes_html(votes: dict) -> str:
    """Each annotator's current label for a disputed item."""
    rows = "".join(f"<li>{escape_text(str(a))} &#8594; {escape_text(str(v))}</li>"
                   for a, v in sorted(votes.items()))
    return f'<div class="na-votes">votes&#58;<ul>{rows}</ul></div>'
