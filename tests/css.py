"""A small subset of CSS selectors for lxml, as XPath: tag, .class, #id, [attr],
[attr="v"], [attr^=v], the descendant combinator and ",". (lxml's own cssselect
needs the cssselect package.)"""

from __future__ import annotations

import re

import lxml.html

_SIMPLE = re.compile(r'([a-z0-9*]+)|\.([\w-]+)|#([\w-]+)|\[([\w:-]+)(?:(\^?=)"?([^"\]]*)"?)?\]')


def _xpath(selector: str) -> str:
    paths = []
    for alternative in selector.split(","):
        steps = []
        for compound in re.findall(r"(?:[^\s\[]|\[[^\]]*\])+", alternative):
            tag, tests = "*", []
            for name, klass, ident, attr, op, value in _SIMPLE.findall(compound):
                if name:
                    tag = name
                elif klass:
                    spaced = "concat(' ', normalize-space(@class), ' ')"
                    tests.append(f"contains({spaced}, ' {klass} ')")
                elif ident:
                    tests.append(f"@id='{ident}'")
                elif op == "=":
                    tests.append(f"@{attr}='{value}'")
                elif op == "^=":
                    tests.append(f"starts-with(@{attr}, '{value}')")
                else:
                    tests.append(f"@{attr}")
            steps.append(tag + "".join(f"[{test}]" for test in tests))
        paths.append("descendant-or-self::" + "//".join(steps))
    return " | ".join(paths)


def css(element: lxml.html.HtmlElement, selector: str) -> list[lxml.html.HtmlElement]:
    """Return the elements under ``element`` matching a simple CSS selector."""
    return list(element.xpath(_xpath(selector)))
