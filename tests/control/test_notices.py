"""The services' sentences: each template reads back into its code and parameters, and every one has a
German translation naming only its own parameters (what the pages render)."""

from __future__ import annotations

import string

from mailark.control import notices
from mailark.dashboards.web.i18n import DE, translator
from mailark.dashboards.web.notices import say

SAMPLE = {"percent": 92, "used_gb": 46, "quota_gb": 50, "licensed_users": 5, "mailbox_quota": 10, "date": "2026-12-01",
          "org": "acme", "quota_bytes": 50_000_000_000, "done": 1200, "total": 3400, "export_id": "x1y2",
          # refusals (recognized from ControlError text on the pages)
          "quota": 30, "mailboxes_per_user": 3, "users": 12, "new_users": 8, "mailboxes": 40, "storage_gb": 26,
          "tiers": "10, 25, 50", "status": "paid", "login": "ann@acme", "group": "legal", "address": "info@acme",
          "domain": "acme.example", "name": "office", "doing": "adding a user", "roles": "Admin", "minutes": 15,
          "length": 12, "what": "the port", "value": "x1", "field": "security", "problem": "Input should be 'ldaps'",
          "detail": "users: not a number", "holder": "user ann@acme", "role": "Admin"}


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_every_sentence_reads_back_and_has_german() -> None:
    for code, template in notices.TEMPLATES.items():
        params = {k: SAMPLE[k] for k in _fields(template)}
        n = notices.notice(code, **params)
        back = notices.recognize(n.message)
        assert back is not None and back.code == code and back.params == params, code
        assert template in DE and _fields(DE[template]) <= _fields(template), code
    assert notices.recognize("something else entirely") is None and notices.recognize(None) is None


def test_pages_say_stored_sentences_in_german() -> None:
    de, en = translator("de"), translator("en")
    error = notices.notice("export_paused_quota", org="acme", quota_bytes=10_000_000, done=3, total=9, export_id="e1").message
    assert say(error, de, "de").startswith("Pausiert: Das Speicherkontingent von acme (10.000.000 Bytes) war nach 3 von 9")
    assert say(error, en, "en") == error
    w = {"code": "storage", "notice": "storage_high", "params": {"percent": 92, "used_gb": 46, "quota_gb": 50},
         "message": "storage is 92 % full (46 GB used of 50 GB licensed)"}
    assert say(w, de, "de").startswith("Speicher zu 92 % belegt (46 von 50 GB).")
    assert say({"message": "an older sentence"}, de, "de") == "an older sentence"  # unknown: shown as it is
    assert say("failed", de, "de") == "fehlgeschlagen"
