"""The Traditional Chinese book: every page's messages translated, none fuzzy, none missing.

The catalogs are ``locales/zh_TW/LC_MESSAGES/<page>.po``; the messages come from the English
notebooks (the single source) through Sphinx's gettext builder, extracted once per test session.
One test per page, so a run shows which chapters are complete. To see what a page still needs:
``trtlab book --check-translations --only 08``; after editing a notebook's prose:
``trtlab book --update-translations``, then translate the new and fuzzy entries.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from trtlab import book, render

PAGES = [p.stem for p in book.notebooks(None)] + ["index", "status", "sphinx"]
LANG = "zh_TW"


@pytest.fixture(scope="module")
def pot(tmp_path_factory) -> Path:
    return render.extract_messages(tmp_path_factory.mktemp("gettext"))


@pytest.fixture(scope="module")
def report(pot) -> dict:
    return render.check_catalogs(LANG, pot_dir=pot)


def test_every_page_has_a_message_template(pot):
    assert {p.stem for p in pot.glob("*.pot")} >= set(PAGES)


@pytest.mark.parametrize("page", PAGES)
def test_page_is_fully_translated(page, report):
    row = report.get(page)
    assert row is not None, f"no catalog locales/{LANG}/LC_MESSAGES/{page}.po: run trtlab book --update-translations"
    assert row["messages"] > 0
    todo = [f"{why}: {' '.join(msgid.split())[:80]}" for why, msgid in row["todo"]]
    assert not todo, f"{page}: {len(todo)} messages to translate, e.g. {todo[:3]}"


def test_the_check_sees_untranslated_fuzzy_and_missing(tmp_path, monkeypatch, capsys):
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    folder = tmp_path / LANG / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po = Catalog(locale=LANG)
    po.add("Engine", "引擎")
    po.add("Batch", "")
    po.add("Precision", "精度", flags=["fuzzy"])
    with open(folder / "08_x.po", "wb") as f:
        write_po(f, po)
    pot = Catalog()
    for msg in ("Engine", "Batch", "Precision", "Inference"):
        pot.add(msg)
    (tmp_path / "pot").mkdir()
    with open(tmp_path / "pot" / "08_x.pot", "wb") as f:
        write_po(f, pot)
    monkeypatch.setattr(render, "LOCALES", tmp_path)
    rep = render.check_catalogs(LANG, pot_dir=tmp_path / "pot")
    row = rep["08_x"]
    assert (row["messages"], row["untranslated"], row["fuzzy"], row["missing"]) == (3, 1, 1, 1)
    assert render.print_check(rep, LANG, only="08") == 1
    out = capsys.readouterr().out
    assert "1/3 translated" in out and "untranslated: Batch" in out and "not in the catalog: Inference" in out


def test_glossary_terms_are_used_where_their_english_is(pot):
    """The translators' glossary (locales/GLOSSARY.md) holds; a translated message that has
    'engine' in English has 引擎 in Chinese (the guide's own word), and so on."""
    from babel.messages.pofile import read_po

    glossary = (render.LOCALES / "GLOSSARY.md").read_text(encoding="utf-8")
    pairs = {"engine": "引擎", "inference": "推論", "precision": "精度", "batch": "批次"}
    for en, zh in pairs.items():
        assert f"| {en} | {zh} |" in glossary
    wrong = []
    for po_path in sorted((render.LOCALES / LANG / "LC_MESSAGES").glob("*.po")):
        with po_path.open("rb") as f:
            for m in read_po(f):
                if not m.id or not m.string or m.fuzzy:
                    continue
                low = m.id.lower()
                for en, zh in pairs.items():
                    quoted = en in m.string.lower()  # an English quotation kept as it is (a message, a title)
                    if f" {en}" in f" {low}" and zh not in m.string and "`" not in m.id and not quoted:
                        wrong.append((po_path.stem, en, m.string[:40]))
    assert not wrong, wrong


def test_trtlab_book_check_translations_command(capsys):
    """`trtlab book --check-translations --only sphinx,status`: one line per page, the exit status says."""
    from trtlab import cli

    code = cli.main(["book", "--check-translations", "--only", "sphinx,status"])
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["zh_TW sphinx", "zh_TW status"]
    assert code == (0 if all(line.endswith("— ok") for line in out) else 1)
    import re

    assert re.match(r"zh_TW sphinx: (\d+)/\1 translated, 0 untranslated, 0 fuzzy", out[0]), out[0]  # the UI: complete
