"""Chinese punctuation in templates goes through translation, so the English pages are punctuated in English.

A full-width colon or bracket written straight into a template ("{% translate "工作组" %}：") shows as-is in English
("Working group："). Inside a translated string it is part of the message; between tags it must be its own message
(`{% translate "：" %}`, English ": ").
"""

from __future__ import annotations

import re
from pathlib import Path

from django.utils import translation

ROOT = Path(__file__).resolve().parents[2]
PUNCTUATION = "：、，；（）"
# Tags, variables, comments and whole blocktranslate blocks: what is left is the template's literal text.
NOT_LITERAL = re.compile(r"{%\s*blocktranslate.*?{%\s*endblocktranslate\s*%}|{%.*?%}|{{.*?}}|{#.*?#}", re.S)


def test_no_literal_chinese_punctuation_in_templates():
    found = []
    for path in sorted([*ROOT.glob("templates/**/*.html"), *ROOT.glob("*/templates/**/*.html")]):
        literal = NOT_LITERAL.sub("", path.read_text(encoding="utf-8"))
        for mark in sorted(set(literal) & set(PUNCTUATION)):
            found.append(f"{path.relative_to(ROOT)}: {mark}")
    assert not found, "use {% translate \"：\" %} etc.:\n" + "\n".join(found)


def test_punctuation_messages_are_translated():
    with translation.override("en"):
        assert [translation.gettext(mark) for mark in PUNCTUATION] == [": ", ", ", ", ", "; ", " (", ")"]
    with translation.override("zh-hans"):
        assert [translation.gettext(mark) for mark in PUNCTUATION] == list(PUNCTUATION)
