"""Safe review-card HTML: passages are untrusted, so every character we did not write is escaped.

Escaping HTML alone is not enough for `st.markdown` (markdown, Streamlit directives such as
`:red[x]`, `$math$` and GFM autolinks would still render), so every ASCII punctuation character of
a text becomes a numeric entity; the only tags in the output are the ones built here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from core.highlight import (
    LIGHT,
    MAX_LIGHT_SHARE,
    NEAR_COPY_SHARE,
    STRONG,
    Highlight,
    highlight_terms,
    segments,
)

_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ")
_WORD_RUN = re.compile(r"\w+", re.UNICODE)

# Strong: a term the candidate shares with the query; light: one it shares only with a positive.
MARK_STYLE = {
    STRONG: "background:#fde68a;color:inherit;padding:0 1px;border-radius:2px",
    LIGHT: "background:rgba(253,230,138,0.30);color:inherit;border-bottom:1px dotted #d97706",
}
SHOW_WORDS = 120  # a longer passage shows this many words, the rest behind "show more"
MIN_HIDDEN = 40  # ...unless the rest is this short: a toggle for a sentence only gets in the way


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


@dataclass(frozen=True, slots=True)
class CardText:
    """One passage shown on the card."""

    doc_id: str
    title: str
    text: str


_FLAG = re.compile(r"(?:\b(pass) )?(--[a-z][a-z0-9-]*)")
_CODE_SPAN = re.compile(r"(`[^`]*`)")


def in_app_words(message: str, controls: dict[str, str], commands: dict[str, str] | None = None) -> str:
    """A core message in the words of the app page showing it: each CLI flag the page has a control
    for becomes that control's name ("pass --overwrite" -> 'choose "Overwrite ..."'), and a `command` the app
    has a button for becomes the button's place (`commands`: command prefix -> words, e.g. "negaudit mine" ->
    "Mine + score (Datasets page)"). Other flags inside `code` and other commands stay as they are."""
    def flag(m: re.Match) -> str:
        name = controls.get(m.group(2))
        if name is None:
            return m.group(0)
        return f"choose {name}" if m.group(1) else name

    def code(part: str) -> str:
        inner = part.strip("`")
        return next((words for prefix, words in (commands or {}).items() if inner.startswith(prefix)), part)

    return "".join(code(part) if part.startswith("`") else _FLAG.sub(flag, part)
                   for part in _CODE_SPAN.split(message))


def marked(text: str | None, hl: Highlight) -> str:
    """`text` escaped piece by piece; shared terms wrapped in our <mark> (strong or light)."""
    out: list[str] = []
    for piece, strength in segments(text, hl):
        esc = escape_text(piece)
        out.append(f'<mark class="na-hl-{strength}" style="{MARK_STYLE[strength]}">{esc}</mark>'
                   if strength else esc)
    return "".join(out)


def card_highlight(query: str, positives: Sequence[CardText], candidate: CardText,
                   common: frozenset[str] = frozenset()) -> Highlight:
    """The terms to mark on one card (`core.highlight`): titles count as part of the passage."""
    return highlight_terms(query, [f"{p.title} {p.text}" for p in positives],
                           f"{candidate.title} {candidate.text}", common)


def candidate_label(hl: Highlight) -> str:
    """The candidate's caption; past MAX_LIGHT_SHARE (its shared terms are not lit then) it says how much
    of it the labelled positive holds, and from NEAR_COPY_SHARE that it is a near copy. Two abstracts on
    one topic share half their terms: "near copy" at 51% misled annotators."""
    if hl.pos_share >= NEAR_COPY_SHARE:
        return f"candidate (mined negative) · near copy: {100 * hl.pos_share:.0f}% of its terms are in the positive"
    if hl.pos_share > MAX_LIGHT_SHARE:
        return f"candidate (mined negative) · {100 * hl.pos_share:.0f}% of its terms are in the positive"
    return "candidate (mined negative)"


def split_words(text: str | None, n: int) -> tuple[str, str]:
    """`text` cut after its n-th word and the characters up to the next space: (head, tail); tail is empty
    with <= n words. "0.8" and "p<0.05)." stay whole (a cut inside "0.8" showed "...at 0" / ".8 mg")."""
    text = text or ""
    for i, m in enumerate(_WORD_RUN.finditer(text)):
        if i == n - 1:
            end = m.end()
            while end < len(text) and not text[end].isspace():
                end += 1
            return text[:end], text[end:]
    return text, ""


def _shown_and_hidden(text: str | None, show_words: int = SHOW_WORDS) -> tuple[str, str, int]:
    """(shown, hidden, hidden word count): words past `show_words` go behind "show more", unless only
    MIN_HIDDEN or fewer would."""
    head, tail = split_words(text, show_words)
    n_more = len(_WORD_RUN.findall(tail))
    return (text or "", "", 0) if n_more <= MIN_HIDDEN else (head, tail, n_more)


def shown_text(title: str | None, text: str | None, show_words: int = SHOW_WORDS) -> str:
    """The title and the words the card shows before "show more": what an annotator can be expected to
    read before deciding (the reading floor, core.quality.pace, counts these, not the hidden rest)."""
    return f"{title or ''} {_shown_and_hidden(text, show_words)[0]}".strip()


def _body(p: CardText, hl: Highlight, show_words: int = SHOW_WORDS) -> str:
    """Title and text; words past `show_words` behind our own "show more" toggle."""
    title = f"<b>{marked(p.title, hl)}</b><br>" if p.title else ""
    head, tail, n_more = _shown_and_hidden(p.text, show_words)
    more = ""
    if tail.strip():
        more = (f'<details class="na-more" style="display:inline"><summary style="cursor:'
                f'pointer;color:#2563eb;display:inline">&#8230; show more &#40;{n_more} '
                f"words&#41;</summary>{marked(tail, hl)}</details>")
    return f"{title}{marked(head, hl)}{more}"


def _passage(label: str, p: CardText, hl: Highlight) -> str:
    """One passage under its caption; a long one says its length there, in view before its box scrolls."""
    n = len(_WORD_RUN.findall(p.text or ""))
    size = f" &#183; {n:,} words".replace(",", "&#44;") if n > SHOW_WORDS + MIN_HIDDEN else ""
    return (f'<div class="na-passage" style="margin-bottom:8px"><div style="font-size:0.8em;'
            f'opacity:0.7">{escape_text(label)} &#183; {escape_text(p.doc_id)}{size}</div>'
            f"{_body(p, hl)}</div>")


def box_html(kind: str, label: str, passages: Sequence[CardText], hl: Highlight, height: str,
             border: str, more: int = 0) -> str:
    """A fixed-height box that scrolls inside itself (`na-box na-<kind>`), one per column.

    `height` is our own CSS length (never user text); `more` counts passages not shown.
    """
    inner = "".join(_passage(label, p, hl) for p in passages) or "<i>no labelled positive</i>"
    if more:
        inner += f"<div>&#43; {int(more)} more</div>"
    return (f'<div class="na-box na-{kind}" style="height:{height};overflow-y:auto;'
            f"border-left:4px solid {border};padding:6px 10px;background:rgba(127,127,127,0.06);"
            f'border-radius:4px;margin-bottom:1rem">{inner}</div>').replace("\n", " ")


def query_html(query: str, hl: Highlight) -> str:
    return (f'<div class="na-query" style="font-size:1.1em;line-height:1.35;margin-bottom:1rem">'
            f"<b>Query</b>&#58; {marked(query, hl)}</div>").replace("\n", " ")


def card_html(query: str, positives: Sequence[CardText], candidate: CardText,
              max_positives: int = 3, common: frozenset[str] = frozenset()) -> str:
    """Query, labelled positive(s) and candidate in one block (adjudication), terms marked.

    One line: no blank line can end an HTML block and let markdown back in.
    """
    hl = card_highlight(query, positives, candidate, common)
    parts = ['<div class="na-card">', query_html(query, hl)]
    parts += [_passage("labelled positive", p, hl) for p in positives[:max_positives]]
    if len(positives) > max_positives:
        parts.append(f"<div>&#43; {len(positives) - max_positives} more positives</div>")
    if not positives:
        parts.append("<div><i>no labelled positive</i></div>")
    parts += [_passage(candidate_label(hl), candidate, hl), "</div>"]
    return "".join(parts).replace("\n", " ")


def plain_reason(reason: str) -> str:
    """A reason without its closing "(numbers)" (core/risk/signals.py writes "plain words (the numbers)"): what
    an annotator reads; the numbers stay in the hover text and the exports. "" for a reason of numbers alone (its
    value does not support words); a reason without a closing "(...)" is returned whole."""
    text = reason.strip()
    if not text.endswith(")"):
        return text
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(text[i], 0)
        if depth == 0:
            return text[:i].rstrip()
    return text


def risk_html(fn_risk: float | None, reasons: str, max_reasons: int = 3) -> str:
    """fn_risk and its first reasons in plain words on one compact line (the card must fit one screen); hovering
    the line shows every reason with its numbers."""
    if fn_risk is None:
        head = "false-negative risk&#58; <b>not scored</b>"
    else:
        pct = 100.0 * float(fn_risk)
        color = "#dc2626" if pct >= 50 else "#d97706" if pct >= 20 else "#16a34a"
        head = f'false-negative risk&#58; <b style="color:{color}">{pct:.0f}&#37;</b>'
    every = [r.strip() for r in re.split(r"[;\n]", reasons or "") if r.strip()]
    words = [w for w in (plain_reason(r) for r in every) if w][:max_reasons]  # numbers alone: hover text only
    why = " &#183; ".join(escape_text(w) for w in words)
    title = f' title="{escape_text(" · ".join(every))}"' if every else ""
    return (f'<div class="na-risk"{title} style="max-height:3.2em;overflow-y:auto;font-size:0.9em;'
            f'margin-bottom:1rem">{head}{" &#8212; " + why if why else ""}</div>')


def blind_html() -> str:
    """What a blind-audit card shows where its risk would be."""
    return ('<div class="na-blind" style="font-size:0.9em;opacity:0.8;margin-bottom:1rem">'
            "Blind audit card&#58; no score shown &#8212; judge from the text alone.</div>")


@dataclass(frozen=True, slots=True)
class ListRow:
    """One candidate of the per-query list; `risk` None = not shown (blind card or unscored)."""

    candidate: CardText
    risk: float | None
    label: str | None
    blind: bool = False


def list_html(rows: Sequence[ListRow], focus: int, hls: Sequence[Highlight], height: str,
              window: int = 5, preview_words: int = 20, focus_words: int = 80) -> str:
    """A window of rows from just above the focused one, which shows its text in full (long
    texts behind "show more"); the others show a short preview. The focused row is always
    the first or second, so it is in view without scrolling the list."""
    lo = max(0, focus - 1)
    parts = []
    for i in range(lo, min(len(rows), lo + window)):
        r, hl, on = rows[i], hls[i], i == focus
        risk = ("blind" if r.blind else "not scored" if r.risk is None
                else f"risk {100 * r.risk:.0f}&#37;")
        lab = (f'<b class="na-row-label">{escape_text(r.label)}</b>' if r.label
               else '<span style="opacity:0.6">unlabelled</span>')
        if on:
            body = _body(r.candidate, hl, focus_words)
        else:
            head, tail = split_words(f"{r.candidate.title} {r.candidate.text}".strip(),
                                     preview_words)
            body = marked(head, hl) + ("&#8230;" if tail.strip() else "")
        style = ("border:2px solid #2563eb;background:rgba(37,99,235,0.06)" if on else
                 "border:1px solid rgba(127,127,127,0.3)")
        parts.append(
            f'<div class="na-row{" na-focus" if on else ""}" style="{style};border-radius:4px;'
            f'padding:4px 8px;margin-bottom:4px"><div style="font-size:0.8em;opacity:0.85">'
            f"&#35;{i + 1} &#183; {escape_text(r.candidate.doc_id)} &#183; {risk} &#183; {lab}"
            f"</div>{body}</div>")
    shown = f"{lo + 1}&#8211;{min(len(rows), lo + window)} of {len(rows)}"
    return (f'<div class="na-list" style="height:{height};overflow-y:auto;margin-bottom:1rem">'
            f'<div style="font-size:0.8em;opacity:0.7">candidates {shown} &#183; J&#47;K move'
            f'</div>{"".join(parts)}</div>').replace("\n", " ")


def miners_html(miners: Sequence[dict], signals: dict | None = None) -> str:
    """Which miners proposed the candidate (rank, score) and every numeric risk signal, escaped.

    All of them, in two columns: the learned ones (graph, neighbour labels, late interaction) come last in
    the registry, and a cut at the first few hid exactly the signals the combiner leans on.
    """
    rows = "".join(
        f"<li>{escape_text(str(m.get('miner', '')))} &#183; rank {int(m.get('rank') or 0)}"
        + (f" &#183; score {float(m['score']):.3f}" if m.get("score") is not None else "")
        + "</li>"
        for m in miners)
    sig = ""
    nums = [(k, v) for k, v in (signals or {}).items() if isinstance(v, (int, float))]
    if nums:
        sig = ("<div style=\"font-size:0.85em;opacity:0.8\">signals&#58;<ul style=\"columns:2\">" + "".join(
            f"<li>{escape_text(str(k))} = {float(v):.3f}</li>" for k, v in nums) + "</ul></div>")
    return f'<div class="na-miners">mined by&#58;<ul>{rows}</ul>{sig}</div>'


def votes_html(votes: dict) -> str:
    """Each annotator's current label for a disputed item."""
    rows = " &#183; ".join(f"<b>{escape_text(str(a))}</b> &#8594; {escape_text(str(v))}"
                           for a, v in sorted(votes.items()))
    return f'<div class="na-votes">votes&#58; {rows}</div>'
