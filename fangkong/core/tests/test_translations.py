"""The English catalogue is complete: a message marked for translation and left out shows Chinese to an English
reader without anyone noticing. `make makemessages` refreshes the catalogues; this fails until every entry is filled.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from django.conf import settings
from django.utils.translation.template import templatize

ROOT = Path(settings.BASE_DIR)
KEYWORDS = {"_": None, "gettext": None, "gettext_lazy": None, "gettext_noop": None, "pgettext": ((1, "c"), 2),
            "pgettext_lazy": ((1, "c"), 2), "ngettext": (1, 2), "ngettext_lazy": (1, 2)}
# Django turns a template into pseudo-Python gettext calls for makemessages (templatize); read the same calls.
_LITERAL = r"u?'(?:[^'\\]|\\.)*'"
TEMPLATE_CALL = re.compile(rf"\b(n?p?gettext)\(({_LITERAL})(?:\s*,\s*({_LITERAL}))?")
PLACEHOLDER = re.compile(r"%\(\w+\)[sdfr]|%[sdf]")


def _catalogue(language: str):
    with open(ROOT / "locale" / language / "LC_MESSAGES" / "django.po", "rb") as fh:
        return read_po(fh)


def _template_messages(template: Path) -> list[str]:
    """The msgids of a template's {% translate %} and {% blocktranslate %} tags, as makemessages extracts them."""
    out = []
    for function, first, second in TEMPLATE_CALL.findall(templatize(template.read_text(encoding="utf-8"))):
        literal = second if function.startswith(("pgettext", "npgettext")) else first
        out.append(ast.literal_eval(literal.removeprefix("u")))
    return out


def test_every_english_entry_is_translated_and_keeps_its_placeholders():
    problems = []
    for message in _catalogue("en"):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            problems.append(f"untranslated or fuzzy: {ids[0]!r}")
            continue
        if sorted(PLACEHOLDER.findall(ids[0])) != sorted(PLACEHOLDER.findall(strings[0])):
            problems.append(f"placeholders differ: {ids[0]!r} → {strings[0]!r}")
    assert not problems, "\n".join(problems[:30])


def test_every_message_marked_in_python_is_in_the_english_catalogue():
    known = {m.id if isinstance(m.id, str) else m.id[0] for m in _catalogue("en") if m.id}
    missing = set()
    for filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT / "fangkong"), method_map=[("**/tests/**", "ignore"), ("**.py", "python")], keywords=KEYWORDS,
    ):
        msgid = message if isinstance(message, str) else message[0]
        if msgid and re.search(r"[\u4e00-\u9fff]", msgid) and msgid not in known:
            missing.add(f"{filename}: {msgid!r}")
    for template in (ROOT / "fangkong").rglob("*.html"):
        for msgid in _template_messages(template):
            if re.search(r"[\u4e00-\u9fff]", msgid) and msgid not in known:
                missing.add(f"{template.relative_to(ROOT)}: {msgid!r}")
    assert not missing, "run `make makemessages` and translate:\n" + "\n".join(sorted(missing)[:30])
