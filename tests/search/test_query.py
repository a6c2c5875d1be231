"""The query parser: the syntax users expect, and clear errors for what it cannot read."""

from __future__ import annotations

import pytest

from mailark.catalog.search.query import QueryError, compile_query, parse, tokenize


def test_tokens_fields_phrases_and_operators() -> None:
    toks = tokenize('from:ann "quarterly report" -spam (a OR b) subject:"big deal" e-mail NOT x')
    kinds = [(t.kind, t.field, t.value) for t in toks]
    assert kinds[:3] == [("field", "from", "ann"), ("phrase", "", "quarterly report"), ("minus", "", "")]
    assert ("field", "subject", "big deal") in kinds
    assert ("word", "", "e-mail") in kinds and ("or", "", "") in kinds and ("not", "", "") in kinds


def test_precedence_or_binds_weaker_than_and() -> None:
    tree = parse("a b OR c")
    assert tree is not None and tree.op == "or"
    assert tree.children[0].op == "and" and tree.children[1].token.value == "c"  # type: ignore[index,union-attr]
    assert parse("") is None and parse("   ") is None


@pytest.mark.parametrize("text, says", [
    ('"open phrase', "quote is not closed"),
    ("(a OR b", "'(' is not closed"),
    ("a)", "')' without its '('"),
    ("OR a", "cannot start"),
    ("a OR", "both sides"),
    ("a AND", "both sides"),
    ("NOT", "needs a word"),
    ("()", "empty parentheses"),
    ("form:ann", "unknown search field 'form'"),
    ("before:2024-13-01", "YYYY-MM-DD"),
    ("after:yesterday", "YYYY-MM-DD"),
    ("has:pictures", "has:attachment"),
    ("from:", "needs a value"),
    ('subject:"x', "not closed"),
    ("!!! ???", "no searchable words"),
    ("x " * 600, "too long"),
    ("w " * 70, "too many terms"),
])
def test_malformed_queries_say_what_to_change(text: str, says: str) -> None:
    with pytest.raises(QueryError) as e:
        compile_query(text, {"mb1"})
    assert says in str(e.value)
    with pytest.raises(QueryError):  # also for someone who may read nothing
        compile_query(text, set())


def test_valid_queries_compile() -> None:
    for text in ['invoice', '"quarterly report"', 'from:ann@acme.example', 'to:bob cc:carol', 'subject:"big deal"',
                 'has:attachment filename:report.pdf', 'folder:Inbox/Projects mailbox:info@acme.example',
                 'after:2024-01-01 before:2024-02-01', 'a AND (b OR c) NOT d -e', 'Grüße', 'ÜBER  weird\u200bspace']:
        compile_query(text, {"mb1"})
