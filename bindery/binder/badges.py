"""The "launch binder" badge and the snippets people paste into their READMEs.

The badge is served by the deployment itself (no third-party badge service), so
a README keeps working on an air-gapped network.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from bindery.binder.weblinks import is_web_link

BADGE_PATH = "badge_logo.svg"

BADGE_SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="109" height="20" role="img" \
aria-label="launch: binder">
<title>launch: binder</title>
<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>\
<stop offset="1" stop-opacity=".1"/></linearGradient>
<clipPath id="r"><rect width="109" height="20" rx="3" fill="#fff"/></clipPath>
<g clip-path="url(#r)"><rect width="64" height="20" fill="#555"/>\
<rect x="64" width="45" height="20" fill="#579aca"/>\
<rect width="109" height="20" fill="url(#s)"/></g>
<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" \
font-size="110" text-rendering="geometricPrecision">
<circle cx="14" cy="10" r="5" fill="none" stroke="#f5a252" stroke-width="2"/>
<text x="395" y="140" transform="scale(.1)" textLength="310">launch</text>
<text x="855" y="140" transform="scale(.1)" textLength="350">binder</text></g>
</svg>
"""


@dataclass(frozen=True)
class BadgeSnippets:
    """Ready-to-copy snippets for one launch link."""

    markdown: str
    rst: str
    html: str


def snippets(launch_url: str, badge_url: str) -> BadgeSnippets:
    """Markdown, reStructuredText and HTML for a badge linking to ``launch_url``.

    Both URLs are this deployment's own (its public URL or the address it was reached
    at); a snippet pasted into a README must never carry a ``javascript:`` link.
    """
    for url in (launch_url, badge_url):
        if not is_web_link(url):
            raise ValueError(f"a badge only links http(s) URLs, not {url[:80]!r}")
    return BadgeSnippets(
        markdown=f"[![Binder]({badge_url})]({launch_url})",
        rst=f".. image:: {badge_url}\n :target: {launch_url}",
        html=f'<a href="{escape(launch_url)}"><img src="{escape(badge_url)}" alt="Binder"></a>',
    )
