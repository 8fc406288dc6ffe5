"""Markdown from authors becomes HTML that cannot run code in a participant's browser."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from fokus.programs.markdown import render_markdown


def test_longread_markup_survives() -> None:
    html = render_markdown(
        "# Title\n\nText with **bold**, *italic*, `code` and ~~old~~.\n\n"
        "- one\n- two\n\n1. first\n\n> quote\n\n"
        "| Day | Topic |\n|---|---|\n| 1 | Greeting |\n\n---\n"
    )
    for fragment in (
        "<h1>Title</h1>", "<strong>bold</strong>", "<em>italic</em>", "<code>code</code>",
        "<s>old</s>", "<li>one</li>", "<ol>", "<blockquote>", "<table>", "<th>Day</th>",
        "<td>Greeting</td>", "<hr>",
    ):
        assert fragment in html


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<iframe src='https://evil.example'></iframe>",
        '<a href="javascript:alert(1)">x</a>',
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![x](javascript:alert(1))",
    ],
)
def test_nothing_executable_gets_through(source: str) -> None:
    elements = _elements(render_markdown(source))
    assert not [tag for tag, _ in elements if tag in {"script", "iframe", "object", "embed"}]
    for tag, attrs in elements:
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        for name in ("href", "src"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("javascript:", "vbscript:", "data:")), (tag, attrs)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))


def _elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    collector = _Collector()
    collector.feed(html)
    return collector.elements


def test_raw_html_is_shown_as_text_not_markup() -> None:
    html = render_markdown("<b onclick='x()'>hi</b>")
    assert "&lt;b onclick=" in html and not _elements(html)[1:]


def test_links_do_not_leak_the_opener_or_referrer() -> None:
    html = render_markdown("[guide](https://example.com/a) and <https://example.com/b>")
    assert html.count('rel="noopener noreferrer"') == 2
    assert 'href="https://example.com/a"' in html


def test_empty_text_is_empty_html() -> None:
    assert render_markdown("") == ""
