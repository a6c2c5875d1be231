"""Deterministic generator of realistic organization mail for benchmarks.

Why it exists: the archive's dedup and compression only pay off on mail shaped like a real
organization's, where one message lives in the sender's Sent folder and in every internal
recipient's Inbox (each Inbox copy with its own transport headers), where attachments are
forwarded and re-sent (and re-wrapped by other mail clients), and where bodies are natural text
while attachments are mostly incompressible. This module produces exactly that, byte for byte the
same for the same arguments, and streams it: memory stays flat for a million messages.

How determinism and flat memory are kept:

* Every decision comes from one ``random.Random(seed)`` consumed in message order, so message
  *k* never depends on how many messages were asked for (a longer run starts with the shorter one).
* Attachment contents are not kept: an attachment is a small spec (index, kind, name, size) and
  its bytes are rebuilt on demand from ``random.Random(f"{seed}:att:{index}")`` for structure and a
  ChaCha20 key stream keyed by (seed, index) for the bulk. The key stream is only a fast
  deterministic source of incompressible bytes (about three times faster than
  ``Random.randbytes``); nothing is encrypted.
* Only bounded pools are kept: the last few hundred attachment-carrying messages (specs and a short
  text excerpt, for forwards and re-sends) and the last few dozen message texts (for replies).

Line endings are CRLF throughout, as IMAP delivers them, except where deliberately varied: a
re-sent attachment may be base64-wrapped at 72 or 64 characters instead of 76, or with LF line
ends inside its part, as another mail client would have written it.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import html
import io
import random
import struct
import sys
import unicodedata
import zipfile
import zlib
from collections import deque
from itertools import chain, repeat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

__all__ = ["GeneratedCopy", "generate_org_mail", "write_tree", "main"]

CRLF = b"\r\n"
Bytes = bytes | bytearray


@dataclass(frozen=True, slots=True)
class GeneratedCopy:
    """One copy of a message as one archive mailbox holds it."""

    mailbox: str  # the archive mailbox address this copy belongs to
    folder: str  # "Sent" or "Inbox"
    raw: bytes  # the copy as that mailbox's server would hold it
    message_no: int  # which logical message it is a copy of (0-based)


# --------------------------------------------------------------------------------------------
# Fixed vocabularies (immutable module constants; all per-run state lives in _OrgMail).

_FIRST_NAMES = (
    "Anna", "Thomas", "Maria", "Michael", "Laura", "David", "Sarah", "Daniel", "Julia", "Martin",
    "Emma", "Lukas", "Sophie", "Jonas", "Lea", "Felix", "Hannah", "Paul", "Lena", "Jan", "Claire",
    "Pierre", "Camille", "Nicolas", "Chloé", "François", "Élodie", "Jérôme", "Olivia", "James",
    "Emily", "Robert", "Jessica", "William", "Ashley", "Christopher", "Jennifer", "Matthew",
    "Amanda", "Andrew", "Jürgen", "Jörg", "Björn", "Søren", "Zoë", "Ana", "José", "Lucía",
    "Carlos", "Marta", "Giulia", "Marco", "Francesca", "Luca", "Priya", "Rahul", "Ananya", "Arjun",
    "Wei", "Mei", "Olga", "Dmitri", "Łukasz", "Agnieszka", "Tomáš", "Zuzana", "Mehmet", "Ayşe",
    "Fatima", "Omar", "Noah", "Mia", "Elias", "Ida", "Kevin", "Nina", "Stefan", "Katrin",
)
_LAST_NAMES = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann",
    "Braun", "Krüger", "Martin", "Bernard", "Dubois", "Durand", "Lefèvre", "Moreau", "Laurent",
    "Simon", "Michel", "Roux", "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis",
    "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "White", "Harris", "García",
    "Rodríguez", "Martínez", "López", "González", "Rossi", "Russo", "Ferrari", "Esposito",
    "Bianchi", "Nowak", "Kowalski", "Wiśniewski", "Novák", "Svoboda", "Yılmaz", "Kaya", "Sharma",
    "Patel", "Singh", "Wang", "Zhang", "Liu", "Ivanov", "Petrov", "Jensen", "Nielsen", "Andersson",
    "Johansson", "O'Brien", "Murphy", "Kelly", "Walsh", "Costa", "Silva",
)
_JA_NAMES = (
    ("田中 太郎", "taro.tanaka"), ("鈴木 花子", "hanako.suzuki"), ("佐藤 健", "ken.sato"),
    ("高橋 由美", "yumi.takahashi"), ("渡辺 翔太", "shota.watanabe"), ("伊藤 さくら", "sakura.ito"),
    ("山本 大輔", "daisuke.yamamoto"), ("中村 美咲", "misaki.nakamura"), ("小林 誠", "makoto.kobayashi"),
    ("加藤 愛", "ai.kato"),
)
_TITLES = (
    "Sales Manager", "Account Executive", "Software Engineer", "Senior Software Engineer",
    "Project Manager", "HR Business Partner", "Financial Controller", "Head of Marketing",
    "Office Manager", "IT Administrator", "Legal Counsel", "Product Owner",
    "Customer Success Manager", "Procurement Specialist", "Chief Financial Officer",
    "Team Lead Operations", "Data Analyst", "Executive Assistant", "Support Engineer",
    "Key Account Manager",
)
_EXTERNAL_DOMAINS = (
    "gmail.com", "outlook.com", "yahoo.com", "gmx.de", "web.de", "t-online.de", "orange.fr",
    "free.fr", "contoso.com", "fabrikam.com", "northwind-traders.com", "acme-supplies.de",
    "kanzlei-mueller.de", "steuerberatung-weber.de", "cabinet-durand.fr", "logistique-roux.fr",
    "tanaka-shoji.co.jp", "globex.com", "initech.com", "umbrella-corp.com", "wayne-enterprises.com",
    "stark-industries.com", "bluebird-consulting.co.uk", "alpine-bank.ch", "nordic-freight.se",
)
_LEGAL_SUFFIX = ("GmbH", "AG", "SAS", "Ltd.", "Inc.", "B.V.", "S.A.")

_EN_WORDS = tuple("""
the to and of a in for is that we on this with be you it will as are have i at our by from can
please not or your all an if would let us me know about more need which they was there some been
also has should so new any time team next week one up out meeting project update report data call
review plan just like get work see thanks what when could do make other here but into now first
these their them than only may its over after well per current final draft attached below above
following changes issue issues question questions information support customer customers client
contract budget cost costs price pricing sales quarter Q3 Q4 year month today tomorrow Monday
Tuesday Wednesday Thursday Friday morning afternoon schedule deadline status progress action items
notes agenda discussion decision approval proposal document documents version file system server
access account invoice order delivery payment numbers figures forecast target targets revenue
growth margin risk risks timeline milestone milestones release deployment migration testing
feedback comments input help sure great good fine quick short brief soon asap later earlier
already still again both each every few many most several another same different important urgent
open closed pending confirmed updated shared sent received signed reviewed approved discussed agreed
prepared scheduled planned moved postponed cancelled requested required expected available possible
vendor supplier partner partners board management department office legal finance marketing
engineering operations HR IT security compliance audit policy process processes workflow tool tools
training onboarding hiring candidates interview offer team's slides presentation deck spreadsheet
summary overview details context background scope requirements specification design architecture
performance quality incident ticket escalation outage fix patch issue's regards best kind thank
appreciate hope looking forward hear back reply confirm check clarify discuss align sync meet
join attend present share send forward circulate update prepare finalize complete start finish
continue follow owner owners lead leads region EMEA APAC Europe Germany France Japan Berlin Paris
Munich London Tokyo headquarters site sites warehouse shipment shipments stock inventory purchase
order's net gross total amount EUR USD percent 2023 2024 10 15 20 25 50 100 first second third last
week's end of day by end this quarter conference room Teams Zoom link dial-in calendar invite
""".split())
_DE_WORDS = tuple("""
der die das und ist nicht zu den von mit sich des auf für im dem ein eine als auch es an werden aus
er hat dass sie nach wird bei einer um am sind noch wie einem über einen so zum war haben nur oder
aber vor zur bis mehr durch man sein wurde sei wir Ihnen uns bitte gerne kurz nächste Woche Montag
Dienstag Mittwoch Donnerstag Freitag heute morgen gestern Besprechung Termin Vertrag Rechnung Angebot
Bericht Unterlagen Änderungen Rückmeldung Kunde Kunden Projekt Zeitplan Abstimmung Übersicht Prüfung
Lösung Größe Qualität möglich bezüglich Anhang anbei beigefügt Entwurf Freigabe Budget Kosten
Lieferung Zahlung Bestellung Abteilung Geschäftsführung Mitarbeiter Schulung Büro Umzug Sicherheit
Datenschutz müssen können würde hätten später früher schön Dank Fragen Antwort Unterstützung
Zusammenarbeit Ergebnis Ergebnisse Planung Umsetzung Quartal Umsatz Ziel Ziele Stand aktuell
dringend wichtig erledigt offen geklärt besprochen vereinbart geprüft erstellt angepasst übermittelt
Lieferant Partner Vorstand Einkauf Vertrieb Buchhaltung Personal Entwicklung Betrieb Prozess
Verfahren Richtlinie Freigaben Präsentation Tabelle Zusammenfassung Hintergrund Anforderungen
Störung Ticket Fehler Korrektur Aktualisierung Rücksprache Verfügung Grüße freundlichen Viele
""".split())
_FR_WORDS = tuple("""
le la les de des du un une et est à en pour que qui dans sur avec pas par nous vous il elle ce cette
ces au aux plus ne se sont être avoir fait faire comme mais ou donc aussi très bien merci bonjour
réunion rendez-vous contrat facture devis rapport documents modifications retour client clients
projet planning calendrier équipe semaine prochaine lundi mardi mercredi jeudi vendredi aujourd'hui
demain hier pièce jointe ci-joint brouillon validation budget coûts livraison paiement commande
service direction collaborateurs formation bureau déménagement sécurité confidentialité possible
concernant résultat résultats mise à jour trimestre chiffre d'affaires objectif objectifs état
actuel urgent important terminé ouvert réglé discuté convenu vérifié préparé adapté envoyé
fournisseur partenaire conseil achats ventes comptabilité ressources humaines développement
exploitation processus procédure politique présentation tableau synthèse contexte exigences
incident ticket erreur correction échange disposition cordialement salutations bonne journée
""".split())
_JA_WORDS = tuple("""
会議 資料 確認 お願い します いたします です ます の は を に が で と も から まで について よろしく
プロジェクト 進捗 報告 予定 来週 今週 本日 明日 見積書 請求書 契約 顧客 担当 部長 課長 対応 修正 共有
添付 ファイル スケジュール 調整 検討 承認 ご確認 ください させていただきます ありがとうございます 問題
解決 導入 システム サーバー 更新 計画 予算 費用 売上 四半期 目標 結果 分析 データ 営業 開発 品質 テスト
リリース 案件 提案 打ち合わせ 議事録 変更 内容 詳細 必要 可能 早急 完了 準備 連絡 回答 質問 以下 以上
""".split())

_SUBJECTS = {
    "en": (
        "{topic} review", "Meeting notes: {topic}", "Quarterly report Q{q} {year}", "Invoice {num}",
        "Action required: {topic}", "Updated {topic} schedule", "Lunch on Friday?",
        "{topic} follow-up", "Draft {topic} proposal", "Status update – {topic}",
        "Question about the {topic} figures", "Reminder: {topic} deadline", "Your order {num}",
        "Team offsite {year}", "Contract renewal {num}", "Slides for {topic}",
    ),
    "de": (
        "Besprechung zum Thema {topic}", "Änderungen am Vertrag {num}", "Rückfrage zur Rechnung {num}",
        "Urlaubsplanung {year}", "Protokoll der Sitzung – {topic}", "Angebot {num} für {topic}",
        "Kurze Frage zu {topic}", "Übergabe {topic}",
    ),
    "fr": (
        "Réunion de l'équipe — ordre du jour", "Compte rendu : {topic}", "Facture n° {num}",
        "Mise à jour du planning {topic}", "Demande de congés {year}", "Question concernant {topic}",
    ),
    "ja": (
        "会議の議事録（{topic}）", "{num}号請求書の件", "来週の打ち合わせについて", "プロジェクト進捗報告 {topic}",
        "見積書送付のご案内 {num}",
    ),
}
_TOPICS = (
    "budget", "hiring plan", "cloud migration", "Q3 forecast", "vendor contract", "onboarding",
    "security audit", "release 4.2", "customer escalation", "office move", "pricing", "roadmap",
    "travel policy", "board deck", "ERP rollout", "trade fair", "GDPR", "year-end closing",
)
_GREETINGS = {
    "en": ("Hi {first},", "Hello {first},", "Dear {first},", "Hi all,", "Hi team,", "{first},"),
    "de": ("Hallo {first},", "Liebe Kolleginnen und Kollegen,", "Guten Morgen {first},", "Hallo zusammen,"),
    "fr": ("Bonjour {first},", "Bonjour à tous,", "Cher {first},"),
    "ja": ("{last}様", "お疲れ様です。", "各位"),
}
_CLOSINGS = {
    "en": ("Best regards,", "Thanks,", "Kind regards,", "Cheers,", "Best,", "Thank you!"),
    "de": ("Viele Grüße", "Beste Grüße", "Mit freundlichen Grüßen", "Danke und Gruß"),
    "fr": ("Cordialement,", "Bien à vous,", "Merci d'avance,", "Bonne journée,"),
    "ja": ("よろしくお願いいたします。", "以上、よろしくお願いします。"),
}
_DISCLAIMER = (
    "CONFIDENTIALITY NOTICE: This e-mail and any attachments are confidential and may be privileged. "
    "If you are not the intended recipient, please notify the sender immediately and delete this "
    "e-mail. Any unauthorised copying, disclosure or distribution of the material in this e-mail is "
    "strictly forbidden. Diese E-Mail enthält vertrauliche Informationen. Wenn Sie nicht der richtige "
    "Adressat sind, informieren Sie bitte sofort den Absender und vernichten Sie diese E-Mail."
)
_OUTLOOK_HEAD = (
    '<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
    'xmlns:w="urn:schemas-microsoft-com:office:word" '
    'xmlns:m="http://schemas.microsoft.com/office/2004/12/omml" xmlns="http://www.w3.org/TR/REC-html40">\n'
    '<head>\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\n'
    '<meta name="Generator" content="Microsoft Word 15 (filtered medium)">\n'
    "<style><!--\n/* Font Definitions */\n@font-face\n\t{font-family:\"Cambria Math\";\n"
    "\tpanose-1:2 4 5 3 5 4 6 3 2 4;}\n@font-face\n\t{font-family:Calibri;\n"
    "\tpanose-1:2 15 5 2 2 2 4 3 2 4;}\n/* Style Definitions */\n"
    "p.MsoNormal, li.MsoNormal, div.MsoNormal\n\t{margin:0cm;\n\tfont-size:11.0pt;\n"
    "\tfont-family:\"Calibri\",sans-serif;\n\tmso-fareast-language:EN-US;}\n"
    "a:link, span.MsoHyperlink\n\t{mso-style-priority:99;\n\tcolor:#0563C1;\n"
    "\ttext-decoration:underline;}\nspan.EmailStyle17\n\t{mso-style-type:personal-compose;\n"
    "\tfont-family:\"Calibri\",sans-serif;\n\tcolor:windowtext;}\n.MsoChpDefault\n"
    "\t{mso-style-type:export-only;\n\tfont-family:\"Calibri\",sans-serif;\n"
    "\tmso-fareast-language:EN-US;}\n@page WordSection1\n\t{size:612.0pt 792.0pt;\n"
    "\tmargin:70.85pt 70.85pt 2.0cm 70.85pt;}\ndiv.WordSection1\n\t{page:WordSection1;}\n"
    "--></style><!--[if gte mso 9]><xml>\n<o:shapedefaults v:ext=\"edit\" spidmax=\"1026\" />\n"
    "</xml><![endif]--><!--[if gte mso 9]><xml>\n<o:shapelayout v:ext=\"edit\">\n"
    "<o:idmap v:ext=\"edit\" data=\"1\" />\n</o:shapelayout></xml><![endif]-->\n</head>\n"
    '<body lang="{lang}" link="#0563C1" vlink="#954F72" style="word-wrap:break-word">\n'
    '<div class="WordSection1">\n'
)

# The four base64 layouts seen in the wild: (characters per line, line end).
_WRAPS: tuple[tuple[int, bytes], ...] = ((76, b"\r\n"), (72, b"\r\n"), (64, b"\r\n"), (76, b"\n"))
# Each client's own layout: Outlook and Apple Mail wrap at 76, Thunderbird at 72.
_CLIENT_WRAP = {"outlook": (76, b"\r\n"), "thunderbird": (72, b"\r\n"), "apple": (76, b"\r\n")}

_KINDS = (
    # kind, weight, content type, median bytes, sigma
    ("pdf", 34, "application/pdf", 100_000, 1.0),
    ("docx", 12, "application/vnd.openxmlformats-officedocument.wordprocessingml.document", 45_000, 1.0),
    ("xlsx", 10, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", 35_000, 1.0),
    ("pptx", 4, "application/vnd.openxmlformats-officedocument.presentationml.presentation", 400_000, 1.0),
    ("jpeg", 16, "image/jpeg", 180_000, 0.9),
    ("png", 10, "image/png", 80_000, 1.0),
    ("csv", 8, "text/csv", 40_000, 1.1),
    ("txt", 6, "text/plain", 20_000, 0.9),
)
_KIND_CTYPE = {k[0]: k[2] for k in _KINDS}
_FILENAMES = {
    "pdf": ("Report_{topic}_{date}.pdf", "Invoice_{num}.pdf", "Rechnung_{num}.pdf", "Angebot_{num}.pdf",
            "Facture_{num}.pdf", "Präsentation_{topic}.pdf", "Contract_draft_v{v}.pdf", "scan_{date}.pdf",
            "見積書_{num}.pdf", "Übersicht_{topic}.pdf"),
    "docx": ("Proposal_{topic}_v{v}.docx", "Meeting_notes_{date}.docx", "Vertragsentwurf_v{v}.docx",
             "Compte-rendu_{date}.docx"),
    "xlsx": ("Budget_{year}_Q{q}.xlsx", "Forecast_{topic}.xlsx", "Übersicht_{date}.xlsx", "Kosten_{year}.xlsx"),
    "pptx": ("{topic}_presentation.pptx", "Board_deck_Q{q}.pptx"),
    "jpeg": ("IMG_{n4}.JPG", "photo_{date}.jpg", "image001.jpg"),
    "png": ("Screenshot {date} at {hh}.{mm}.png", "image{n3}.png", "diagram_{topic}.png"),
    "csv": ("export_{date}.csv", "Kundenliste_{date}.csv", "transactions_{year}{mm}.csv"),
    "txt": ("log_{date}.txt", "notes.txt", "readme.txt", "server_{n3}.log"),
}
_TOPIC_TOKENS = ("Budget", "Roadmap", "Migration", "Pricing", "Hiring", "Security", "Vendor", "Marketing",
                 "Sales", "Q3", "Audit", "Strategy")
_CSV_DATES = tuple(f"{d:02d}.{m:02d}.{y}" for y in (2023, 2024) for m in range(1, 13) for d in range(1, 29)
                   if d in (1, 3, 5, 8, 10, 12, 15, 17, 19, 22, 24))[:256]
# Ready-made small ints and number strings: hot loops then create no objects per field. That
# makes generation faster and, above all, keeps tracemalloc-traced runs (the memory test) fast.
_SMALL_INTS = tuple(range(4096))
_N = tuple(str(i) for i in range(1000))
_D2 = tuple(f"{i:02d}" for i in range(100))
_LOG_CLOCK = tuple(f"{m:02d}:{s:02d}" for m in range(60) for s in range(60))
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # what Office writes into OOXML packages
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_START = int(datetime(2023, 1, 2, 7, 0, 0, tzinfo=timezone.utc).timestamp())  # a Monday
_Q_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!*+-/")
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_QUEUE_ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"
_POOL_SIZE = 300  # attachment-carrying messages remembered for forwards and re-sends
_THREAD_SIZE = 64  # message texts remembered for quoted replies


# --------------------------------------------------------------------------------------------
# Small encoders


def _b64_wrap(raw: bytes, line: int = 76, eol: bytes = CRLF) -> bytearray:
    """Base64 of ``raw`` in lines of ``line`` characters ending in ``eol``.

    Strided slice assignment in blocks keeps this in C: several times faster than joining one
    small bytes object per line, which matters when attachments run to gigabytes.
    """
    enc = binascii.b2a_base64(raw, newline=False)
    rows, rest = divmod(len(enc), line)
    width = line + len(eol)
    out = bytearray(rows * width)
    for j, c in enumerate(eol):
        out[line + j :: width] = bytes((c,)) * rows
    block = 16384
    for r0 in range(0, rows, block):
        r1 = min(rows, r0 + block)
        s0, s1, d0, d1 = r0 * line, r1 * line, r0 * width, r1 * width
        for i in range(line):
            out[d0 + i : d1 : width] = enc[s0 + i : s1 : line]
    if rest:
        out += enc[len(enc) - rest :]
        out += eol
    return out


def _qp(text: str) -> bytes:
    """Quoted-printable UTF-8 with CRLF line ends (soft breaks at 76 as clients write them)."""
    return binascii.b2a_qp(text.encode("utf-8")).replace(b"\n", CRLF)


def _crlf(text: str) -> bytes:
    return text.encode("utf-8").replace(b"\n", CRLF)


def _encoded_words(text: str, mode: str) -> list[str]:
    """RFC 2047 UTF-8 encoded-words ("B" or "Q") short enough to fold, never splitting a character."""
    words: list[str] = []
    size = 0
    if mode == "B":
        bcur: list[bytes] = []
        for ch in text:
            b = ch.encode("utf-8")
            if size + len(b) > 42 and bcur:
                words.append("=?UTF-8?B?" + base64.b64encode(b"".join(bcur)).decode("ascii") + "?=")
                bcur, size = [], 0
            bcur.append(b)
            size += len(b)
        if bcur:
            words.append("=?UTF-8?B?" + base64.b64encode(b"".join(bcur)).decode("ascii") + "?=")
        return words
    qcur: list[str] = []
    for ch in text:
        if ch == " ":
            e = "_"
        elif ch in _Q_SAFE:
            e = ch
        else:
            e = "".join(f"={x:02X}" for x in ch.encode("utf-8"))
        if size + len(e) > 58 and qcur:
            words.append("=?UTF-8?Q?" + "".join(qcur) + "?=")
            qcur, size = [], 0
        qcur.append(e)
        size += len(e)
    if qcur:
        words.append("=?UTF-8?Q?" + "".join(qcur) + "?=")
    return words


def _unstructured(name: str, value: str, mode: str) -> str:
    """A header line, RFC 2047-encoded and folded when it is not plain ASCII."""
    if value.isascii():
        return f"{name}: {value}"
    return f"{name}: " + "\r\n ".join(_encoded_words(value, mode))


def _mailbox(display: str, addr: str, mode: str) -> str:
    """``Name <addr>`` with the display name quoted or encoded as RFC 5322 requires."""
    if not display.isascii():
        return " ".join(_encoded_words(display, mode)) + f" <{addr}>"
    if any(c in display for c in ',."()<>@:;[]\\'):
        return '"' + display.replace("\\", "\\\\").replace('"', '\\"') + f'" <{addr}>'
    return f"{display} <{addr}>"


def _address_list(name: str, items: Sequence[str]) -> str:
    """An address header folded between addresses at about 76 characters."""
    lines: list[str] = []
    cur = f"{name}:"
    for i, item in enumerate(items):
        tok = item + ("," if i + 1 < len(items) else "")
        if len(cur) + 1 + len(tok) > 76 and cur != f"{name}:":
            lines.append(cur)
            cur = " " + tok
        else:
            cur += " " + tok
    lines.append(cur)
    return "\r\n".join(lines)


def _fold_b64(prefix: str, value: str) -> str:
    """Fold a long base64 tag value (DKIM/ARC ``b=``) over continuation lines."""
    parts = [value[i : i + 70] for i in range(0, len(value), 70)]
    return prefix + "\r\n\t ".join(parts)


def _ascii_fold(text: str) -> str:
    """Lower-case ASCII form of a name for a local part (``Jürgen`` -> ``jurgen``)."""
    s = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(c for c in s.lower() if c.isalnum())


def _rfc2231(value: str) -> str:
    return "UTF-8''" + "".join(
        chr(b) if (chr(b).isalnum() and b < 128) or chr(b) in "-._~" else f"%{b:02X}"
        for b in value.encode("utf-8")
    )


def _queue_id(random_bytes: bytes) -> str:
    """A Postfix-style queue id from random bytes."""
    return "".join([_QUEUE_ALPHABET[b % 51] for b in random_bytes])


def _date(t: int, tz_minutes: int, pad: bool = False) -> str:
    """RFC 5322 date of the UTC second ``t`` shown in a fixed zone offset."""
    d = _EPOCH + timedelta(seconds=t + tz_minutes * 60)
    sign = "+" if tz_minutes >= 0 else "-"
    hh, mm = divmod(abs(tz_minutes), 60)
    day = f"{d.day:02d}" if pad else str(d.day)
    return (f"{_WEEKDAYS[d.weekday()]}, {day} {_MONTHS[d.month - 1]} {d.year} "
            f"{d.hour:02d}:{d.minute:02d}:{d.second:02d} {sign}{hh:02d}{mm:02d}")


def _topic(subject: str) -> str:
    """The subject without reply/forward prefixes (Outlook's Thread-Topic)."""
    while True:
        for prefix in ("RE: ", "Re: ", "AW: ", "FW: ", "Fwd: ", "WG: "):
            if subject.startswith(prefix):
                subject = subject[len(prefix) :]
                break
        else:
            return subject


def _lognormal_size(rng: random.Random, median: float, sigma: float, low: int, high: int) -> int:
    return int(min(high, max(low, rng.lognormvariate(0.0, sigma) * median)))


# --------------------------------------------------------------------------------------------
# Attachments: specs are remembered, bytes are rebuilt on demand.


@dataclass(frozen=True)
class _Attachment:
    """What is needed to rebuild an attachment's bytes: its pool index identifies the content."""

    index: int
    kind: str
    filename: str
    size: int


class _Bulk:
    """Deterministic incompressible bytes for one attachment (a ChaCha20 key stream, no secrecy)."""

    def __init__(self, seed: int, index: int) -> None:
        key = hashlib.sha256(f"mailark-bench:{seed}:{index}".encode()).digest()
        self._enc = Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor()

    def take(self, n: int) -> bytes:
        return self._enc.update(bytes(max(0, n)))


def _attachment_bytes(seed: int, att: _Attachment) -> bytes:
    """Rebuild an attachment's content; identical for the same (seed, index) every time."""
    rng = random.Random(f"{seed}:att:{att.index}")
    bulk = _Bulk(seed, att.index)
    builder = {
        "pdf": _pdf, "docx": _ooxml, "xlsx": _ooxml, "pptx": _ooxml, "jpeg": _jpeg, "png": _png,
        "csv": _csv, "txt": _txt,
    }[att.kind]
    return builder(rng, bulk, att.size, att.kind)


def _pdf(rng: random.Random, bulk: _Bulk, size: int, kind: str) -> bytes:
    """A structurally plausible PDF: text objects, an xref table, and Flate streams (random bytes)."""
    out = bytearray(b"%PDF-1.7\r\n%\xb5\xb5\xb5\xb5\r\n")
    offsets: list[int] = []
    pages = min(200, max(1, size // 40_000))
    font_len = min(size // 4, rng.randint(15_000, 45_000))
    per_page = max(200, (size - font_len - 1200 - pages * 160) // pages)
    first_page = 7
    kids = " ".join(f"{first_page + 2 * i} 0 R" for i in range(pages))

    def obj(body: bytes) -> None:
        offsets.append(len(out))
        out.extend(f"{len(offsets)} 0 obj\r\n".encode())
        out.extend(body)
        out.extend(b"\r\nendobj\r\n")

    def stream(data: bytes, extra: str = "") -> bytes:
        return (f"<</Filter/FlateDecode/Length {len(data)}{extra}>>stream\r\n".encode() + data
                + b"\r\nendstream")

    obj(b"<</Type/Catalog/Pages 2 0 R/Lang(en-US)>>")
    obj(f"<</Type/Pages/Count {pages}/Kids[ {kids}] >>".encode())
    obj(b"<</Type/Font/Subtype/TrueType/Name/F1/BaseFont/ABCDEE+Calibri/Encoding/WinAnsiEncoding"
        b"/FontDescriptor 4 0 R/FirstChar 32/LastChar 122>>")
    obj(b"<</Type/FontDescriptor/FontName/ABCDEE+Calibri/Flags 32/ItalicAngle 0/Ascent 750"
        b"/Descent -250/CapHeight 750/AvgWidth 521/MaxWidth 1743/FontWeight 400/StemV 52"
        b"/FontBBox[ -503 -250 1240 750] /FontFile2 5 0 R>>")
    obj(stream(bulk.take(font_len), f"/Length1 {font_len * 2}"))
    year = rng.randint(2019, 2024)
    obj(f"<</Author(Office User)/Creator(Microsoft\xae Word for Microsoft 365)/CreationDate(D:{year}"
        f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(8, 18):02d}{rng.randint(0, 59):02d}"
        f"00+01'00')/Producer(Microsoft\xae Word for Microsoft 365)>>".encode("latin-1"))
    for i in range(pages):
        obj(f"<</Type/Page/Parent 2 0 R/Resources<</Font<</F1 3 0 R>>/ProcSet[/PDF/Text]>>"
            f"/MediaBox[ 0 0 595.32 841.92] /Contents {first_page + 2 * i + 1} 0 R/Group<</Type/Group"
            f"/S/Transparency/CS/DeviceRGB>>/Tabs/S/StructParents {i}>>".encode())
        obj(stream(bulk.take(per_page)))
    xref = len(out)
    out.extend(f"xref\r\n0 {len(offsets) + 1}\r\n0000000000 65535 f\r\n".encode())
    out.extend("".join(f"{o:010d} 00000 n\r\n" for o in offsets).encode())
    doc_id = rng.randbytes(16).hex().upper()
    out.extend(f"trailer\r\n<</Size {len(offsets) + 1}/Root 1 0 R/Info 6 0 R/ID[<{doc_id}><{doc_id}>] >>"
               f"\r\nstartxref\r\n{xref}\r\n%%EOF\r\n".encode())
    return bytes(out)


def _words_xml(rng: random.Random, n: int) -> str:
    return " ".join([_EN_WORDS[i % len(_EN_WORDS)] for i in rng.randbytes(n)])


def _ooxml(rng: random.Random, bulk: _Bulk, size: int, kind: str) -> bytes:
    """A real OOXML zip (opens as a zip): deflated XML parts plus a stored media file for the bulk."""
    part, media, main_ct = {
        "docx": ("word/document.xml", "word/media/image1.png",
                 "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"),
        "xlsx": ("xl/worksheets/sheet1.xml", "xl/media/image1.png",
                 "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"),
        "pptx": ("ppt/slides/slide1.xml", "ppt/media/image1.jpeg",
                 "application/vnd.openxmlformats-officedocument.presentationml.slide+xml"),
    }[kind]
    if kind == "xlsx":
        n = min(400, size // 200 + 2)
        rb = rng.randbytes(4 * n)
        row = ('<row r="%s" spans="1:3" x14ac:dyDescent="0.25"><c r="A%s"><v>%s%s</v></c><c r="B%s" s="1">'
               '<v>%s.%s</v></c><c r="C%s" t="s"><v>%s</v></c></row>')
        ids = _N[1 : n + 1]
        cols = (ids, ids, [_N[x] for x in rb[0::4]], [_D2[x % 100] for x in rb[1::4]], ids,
                [_N[x] for x in rb[2::4]], [_D2[x % 100] for x in rb[3::4]], ids, [_N[x % 40] for x in rb[0::4]])
        rows = (row * n) % tuple(chain.from_iterable(zip(*cols)))
        body = ('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                f"<sheetData>{rows}</sheetData></worksheet>")
    else:
        paras = "".join(
            f'<w:p w14:paraId="{rng.getrandbits(32):08X}" w14:textId="77777777" w:rsidR="00A1{i % 97:02d}3C">'
            '<w:pPr><w:spacing w:after="160" w:line="259" w:lineRule="auto"/></w:pPr><w:r><w:rPr>'
            '<w:rFonts w:ascii="Calibri" w:hAnsi="Calibri"/><w:lang w:val="en-US"/></w:rPr>'
            f"<w:t>{_words_xml(rng, 40)}</w:t></w:r></w:p>"
            for i in range(min(30, size // 8000 + 3)))
        body = ('<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                f"<w:body>{paras}</w:body></w:document>")
    types = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<Types xmlns="http://schemas.'
             'openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="'
             'application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
             'ContentType="application/xml"/><Default Extension="png" ContentType="image/png"/>'
             f'<Default Extension="jpeg" ContentType="image/jpeg"/><Override PartName="/{part}" '
             f'ContentType="{main_ct}"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<Relationships xmlns="http://'
            'schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
            'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            f'Target="{part}"/></Relationships>')
    core = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<cp:coreProperties xmlns:cp="http:'
            '//schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org'
            f'/dc/elements/1.1/"><dc:creator>{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}'
            f'</dc:creator><cp:revision>{rng.randint(1, 40)}</cp:revision></cp:coreProperties>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data, deflate in (("[Content_Types].xml", types, True), ("_rels/.rels", rels, True),
                                    ("docProps/core.xml", core, True), (part, body, True)):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
            z.writestr(info, data)
        info = zipfile.ZipInfo(media, date_time=_ZIP_TIME)
        info.compress_type = zipfile.ZIP_STORED
        z.writestr(info, bulk.take(size - buf.tell() - 600))
    return buf.getvalue()


def _jpeg(rng: random.Random, bulk: _Bulk, size: int, kind: str) -> bytes:
    """JFIF/Exif headers, quantisation and Huffman tables, byte-stuffed entropy data (random)."""
    w, h = rng.choice(((4032, 3024), (1920, 1080), (1280, 960), (3264, 2448), (800, 600)))
    make = rng.choice((b"Apple\0iPhone 13\0", b"samsung\0SM-G991B\0", b"Canon\0EOS 80D\0"))
    exif = b"Exif\0\0MM\0*\0\0\0\x08" + make + rng.randbytes(180)
    head = (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00"
            + b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
            + b"\xff\xdb\x00\x84\x00" + rng.randbytes(64) + b"\x01" + rng.randbytes(64)
            + b"\xff\xc0\x00\x11\x08" + struct.pack(">HH", h, w) + b"\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
            + b"\xff\xc4\x01\xa2" + rng.randbytes(416)
            + b"\xff\xda\x00\x0c\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00")
    data = bulk.take(size - len(head) - 2 - size // 256).replace(b"\xff", b"\xff\x00")
    return head + data + b"\xff\xd9"


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _png(rng: random.Random, bulk: _Bulk, size: int, kind: str) -> bytes:
    """PNG signature, IHDR/sRGB/pHYs, 64 KiB IDAT chunks of (random) deflate data, IEND."""
    w, h = rng.choice(((1920, 1080), (2560, 1440), (1366, 768), (800, 600), (1024, 512)))
    parts = [b"\x89PNG\r\n\x1a\n", _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)),
             _png_chunk(b"sRGB", b"\0"), _png_chunk(b"pHYs", struct.pack(">IIB", 3779, 3779, 1))]
    data = b"\x78\x9c" + bulk.take(size - 80)
    for i in range(0, len(data), 65536):
        parts.append(_png_chunk(b"IDAT", data[i : i + 65536]))
    parts.append(_png_chunk(b"IEND", b""))
    return b"".join(parts)


def _csv(rng: random.Random, bulk: _Bulk, size: int, kind: str) -> bytes:
    """A semicolon CSV export (as German Excel writes it): compressible like real exports.

    Columns come from strided slices of random bytes and lookup tables, and rows are filled by one
    ``%`` format per batch: no objects are made per row or field, which keeps big exports (and
    tracemalloc-traced runs) fast.
    """
    header = "Datum;Belegnummer;Kunde;Betrag;Währung;Region;Status\r\n"
    regions = ("Nord", "Süd", "West", "Ost", "EMEA", "APAC")
    status = ("bezahlt", "offen", "überfällig", "storniert")
    customers = [f"{rng.choice(_LAST_NAMES)} {rng.choice(_LEGAL_SUFFIX)}" for _ in range(64)]
    block = rng.randint(100, 899)
    row = "%s;RE-%s%s%s;%s;%s%s,%s;EUR;%s;%s\r\n"
    out = [header]
    total = len(header)
    while total < size:
        count = max(1, min(4096, (size - total) // 55))
        r = rng.randbytes(8 * count)
        ids = _SMALL_INTS[:count]
        columns = ([_CSV_DATES[x] for x in r[0::8]], repeat(_N[block], count), [_D2[i // 100] for i in ids],
                   [_D2[i % 100] for i in ids], [customers[x % 64] for x in r[2::8]], [_N[x] for x in r[3::8]],
                   [_N[x % 10] for x in r[4::8]], [_D2[x % 100] for x in r[5::8]],
                   [regions[x % 6] for x in r[6::8]], [status[x % 4] for x in r[7::8]])
        chunk = (row * count) % tuple(chain.from_iterable(zip(*columns)))
        out.append(chunk)
        total += len(chunk)
        block = block + 1 if block < 999 else 100
    return "".join(out).encode("utf-8")


def _txt(rng: random.Random, bulk: _Bulk, size: int, kind: str) -> bytes:
    """An application log: repetitive lines with varying numbers, as people attach them."""
    levels = ("INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR", "INFO", "INFO")
    msgs = ("Processed batch %s%s in %s ms", "Connection to db-%s%s established (pool %s)",
            "Retrying request %s%s (%s)", "User user%s%s logged in from 10.0.4.%s",
            "Cache miss for key order:%s%s%s", "Job %s%s finished with status %s",
            "Timeout after %s%s ms while calling service-%s", "Queue depth %s%s on shard %s")
    lines = [f"%s%s,%s%s %s [worker-%s] {m}\r\n" for m in msgs]
    stamp = f"2023-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:"
    out: list[str] = []
    total = 0
    t = rng.randint(0, 3000)
    while total < size:
        count = max(1, min(4096, (size - total) // 70))
        r = rng.randbytes(6 * count)
        clock = _LOG_CLOCK[t % 3000 : t % 3000 + 600]
        kinds = r[3::6]
        columns = (repeat(stamp, count), [clock[x % 600] for x in sorted(r[0::6])], [_D2[x % 100] for x in r[1::6]],
                   [_N[x % 10] for x in r[0::6]], [levels[x % 8] for x in r[2::6]], [_N[x % 8 + 1] for x in r[2::6]],
                   [_N[x] for x in r[4::6]], [_D2[x % 100] for x in r[5::6]], [_N[x] for x in kinds])
        chunk = "".join([lines[x % 8] for x in kinds]) % tuple(chain.from_iterable(zip(*columns)))
        out.append(chunk)
        total += len(chunk)
        t += 600
    return "".join(out).encode("ascii")


# --------------------------------------------------------------------------------------------
# The organization and its people


@dataclass(frozen=True)
class _Person:
    addr: str
    first: str
    last: str
    display: str
    header_b: str  # formatted for From/To with B-encoding (Outlook) ...
    header_q: str  # ... and with Q-encoding (other clients)
    internal: bool
    client: str  # outlook | thunderbird | apple
    lang: str
    tz: int  # minutes east of UTC
    exchange: bool  # mailbox hosted on Exchange Online (else Postfix/Dovecot)
    server: str
    title: str
    phone: str


@dataclass(frozen=True)
class _PoolEntry:
    """An earlier attachment-carrying message that may be forwarded or re-sent."""

    subject: str
    sender: _Person
    to_line: str
    date: str
    message_id: str
    attachments: tuple[_Attachment, ...]
    wrap: tuple[int, bytes]
    excerpt: str


@dataclass(frozen=True)
class _ThreadEntry:
    """An earlier message whose text a reply can quote."""

    subject: str
    sender: _Person
    to_line: str
    date: str
    message_id: str
    references: tuple[str, ...]
    text: str
    lang: str


@dataclass
class _Text:
    """The logical text of a message, rendered to plain text and HTML alike."""

    greeting: str
    paras: list[str]
    closing: str
    signature: list[str]
    disclaimer: str | None
    quote_head: list[str]  # "On ... wrote:" or an Outlook header block
    quoted: str  # the earlier text being quoted or forwarded
    quote_gt: bool  # quote with "> " (Thunderbird/Apple) or inline below a header block (Outlook)


class _Lang:
    """A language's words with Zipf-like frequencies, so text compresses like real mail.

    Words are drawn through a 256 x 256 table indexed by two random bytes each: one ``randbytes``
    call per paragraph instead of one weighted ``choices`` step per word, and no int objects made
    per word (which keeps tracemalloc-traced runs fast as well).
    """

    def __init__(self, code: str, words: Sequence[str]) -> None:
        self.code = code
        weights = [1.0 / (rank + 1) ** 0.7 for rank in range(len(words))]
        scale = 65536 / sum(weights)
        table: list[str] = []
        for w, wt in zip(words, weights):
            table.extend([w] * max(1, round(wt * scale)))
        table = (table * 2)[:65536]
        self.table = [table[hi * 256 : hi * 256 + 256] for hi in range(256)]
        self.sep = "" if code == "ja" else " "
        self.width = 36 if code == "ja" else 72
        marks = ("。", "。", "？") if code == "ja" else (".", "?", "!")
        uniq = list(dict.fromkeys(words))
        # ready-made sentence starts and ends, so a sentence costs no new string objects
        self.cap = {w: w if code == "ja" else w[0].upper() + w[1:] for w in uniq}
        self.ends = [{w: w + m for w in uniq} for m in marks]

    def paragraph(self, rng: random.Random) -> str:
        """2-6 sentences of 5-17 words each, joined in one go (a few objects per paragraph)."""
        head = rng.randbytes(13)
        n = 2 + head[0] % 5
        lens = [5 + x % 13 for x in head[1 : 1 + n]]
        total = sum(lens)
        table = self.table
        it = iter(rng.randbytes(2 * total))
        words = [table[hi][lo] for hi, lo in zip(it, it)]
        cap, ends = self.cap, self.ends
        pos = 0
        for k, e in zip(lens, head[7 : 7 + n]):
            words[pos] = cap[words[pos]]
            pos += k
            words[pos - 1] = ends[0 if e < 205 else 1 if e < 235 else 2][words[pos - 1]]
        return self.sep.join(words)


def _wrap_text(text: str, width: int) -> list[str]:
    """Greedy word wrap (per line, not per word: cheap enough for millions of messages)."""
    lines: list[str] = []
    start, n = 0, len(text)
    while n - start > width:
        cut = text.rfind(" ", start, start + width + 1)
        if cut <= start:
            lines.append(text[start : start + width])
            start += width
        else:
            lines.append(text[start:cut])
            start = cut + 1
    lines.append(text[start:])
    return lines


class _OrgMail:
    """All state of one generator run: the people, the clock, the rng and the bounded pools."""

    def __init__(self, users: int, seed: int, domain: str, attachment_share: float = 0.30) -> None:
        self.attachment_share = attachment_share
        self.seed = seed
        self.domain = domain
        self.rng = random.Random(seed)
        rng = self.rng
        self.langs = {c: _Lang(c, w) for c, w in
                      (("en", _EN_WORDS), ("de", _DE_WORDS), ("fr", _FR_WORDS), ("ja", _JA_WORDS))}
        base = domain.split(".")[0].replace("-", " ").title()
        self.company = f"{base} {rng.choice(_LEGAL_SUFFIX)}"
        self.disclaimer = rng.random() < 0.6
        self.short = "".join(c for c in base.upper() if c.isalnum())[:4] or "ORG"
        self.users = [self._person(i, rng) for i in range(users)]
        self.externals = [self._external(rng) for _ in range(300)]
        self.logo = _Attachment(index=-1, kind="png", filename="image001.png", size=rng.randint(6000, 14000))
        self.t = _START
        self.gap = max(1.0, 36_000 / (users * 25))  # each user sends ~25 messages a 10-hour day
        self.next_att = 0
        self.pool: deque[_PoolEntry] = deque(maxlen=_POOL_SIZE)
        self.threads: deque[_ThreadEntry] = deque(maxlen=_THREAD_SIZE)
        self._dates: dict[tuple[int, int, bool], str] = {}

    # -- people ---------------------------------------------------------------------------
    def _person(self, i: int, rng: random.Random) -> _Person:
        r = rng.random()
        lang = "en" if r < 0.70 else "de" if r < 0.85 else "fr" if r < 0.95 else "ja"
        if lang == "ja":
            display, _ = rng.choice(_JA_NAMES)
            last, first = display.split(" ")
        else:
            first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
            display = f"{last}, {first}" if rng.random() < 0.2 else f"{first} {last}"
        addr = f"user{i:04d}@{self.domain}"
        c = rng.random()
        client = "outlook" if c < 0.6 else "thunderbird" if c < 0.85 else "apple"
        tz = {"en": rng.choice((0, 60, 60, -300)), "de": 60, "fr": 60, "ja": 540}[lang]
        exchange = rng.random() < 0.6
        if exchange:
            region = rng.choice(("AM0", "AM6", "DB9", "VI1", "PA4", "FR0"))
            server = (f"{region}PR{rng.randint(1, 9):02d}MB{rng.randint(1000, 9999)}"
                      f".eurprd{rng.randint(1, 9):02d}.prod.outlook.com")
        else:
            server = f"imap{rng.randint(1, 3)}.{self.domain}"
        return _Person(
            addr=addr, first=first, last=last, display=display,
            header_b=_mailbox(display, addr, "B"), header_q=_mailbox(display, addr, "Q"),
            internal=True, client=client, lang=lang, tz=tz, exchange=exchange, server=server,
            title=rng.choice(_TITLES), phone=f"+49 89 {rng.randint(100000, 999999)}-{rng.randint(10, 99)}",
        )

    def _external(self, rng: random.Random) -> _Person:
        if rng.random() < 0.05:
            display, local = rng.choice(_JA_NAMES)
            last, first = display.split(" ")
        else:
            first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
            display = f"{first} {last}"
            local = f"{_ascii_fold(first)}.{_ascii_fold(last)}"
        dom = rng.choice(_EXTERNAL_DOMAINS)
        if dom in ("gmail.com", "outlook.com", "yahoo.com", "gmx.de", "web.de"):
            local += str(rng.randint(1, 99))
        addr = f"{local}@{dom}"
        return _Person(
            addr=addr, first=first, last=last, display=display,
            header_b=_mailbox(display, addr, "B"), header_q=_mailbox(display, addr, "Q"),
            internal=False, client="outlook", lang="en", tz=0, exchange=False, server="", title="", phone="",
        )

    def _pick_recipients(self, sender_i: int, count: int, taken: set[str]) -> list[_Person]:
        """``count`` distinct recipients, ~20 % external, internal ones mostly from the sender's team."""
        rng, n = self.rng, len(self.users)
        out: list[_Person] = []
        for _ in range(count):
            person: _Person | None = None
            if rng.random() >= 0.2 and n > 1:
                for _attempt in range(8):
                    if rng.random() < 0.6:
                        team0 = sender_i - sender_i % 10
                        j = min(n - 1, team0 + rng.randrange(10))
                    else:
                        j = rng.randrange(n)
                    cand = self.users[j]
                    if j != sender_i and cand.addr not in taken:
                        person = cand
                        break
            if person is None:
                for _attempt in range(8):
                    cand = rng.choice(self.externals)
                    if cand.addr not in taken:
                        person = cand
                        break
            if person is not None:
                taken.add(person.addr)
                out.append(person)
        return out

    # -- time ----------------------------------------------------------------------------
    def _tick(self) -> int:
        """Advance the clock by an exponential gap, within office hours (07-17 UTC, Mon-Fri)."""
        self.t += max(1, int(self.rng.expovariate(1.0 / self.gap)))
        day, sec = divmod(self.t, 86_400)
        if sec >= 17 * 3600:
            day, sec = day + 1, 7 * 3600 + sec % 600
        elif sec < 7 * 3600:
            sec = 7 * 3600 + sec % 600
        while (day + 3) % 7 >= 5:  # 1970-01-01 was a Thursday: (day + 3) % 7 == 0 is Monday
            day += 1
        self.t = day * 86_400 + sec
        return self.t

    # -- small random tokens ---------------------------------------------------------------
    def _queue_id(self) -> str:
        return _queue_id(self.rng.randbytes(12))

    def _date(self, t: int, tz_minutes: int, pad: bool = False) -> str:
        """``_date`` memoised: the copies of one message share their few timestamps."""
        key = (t, tz_minutes, pad)
        text = self._dates.get(key)
        if text is None:
            if len(self._dates) > 256:
                self._dates.clear()
            text = self._dates[key] = _date(t, tz_minutes, pad)
        return text

    def _hex(self, n: int) -> str:
        return self.rng.randbytes(n).hex()

    def _b64tok(self, n: int) -> str:
        return base64.b64encode(self.rng.randbytes(n)).decode("ascii")

    def _guid(self) -> str:
        h = self._hex(16)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def _message_id(self, sender: _Person) -> str:
        if sender.client == "outlook":
            host = sender.server if sender.exchange else f"EX{self.rng.randint(1, 4):02d}.{self.domain}"
            return f"<{host.split('.')[0]}{self._hex(18).upper()}@{host}>"
        if sender.client == "apple":
            return f"<{self._guid().upper()}@{self.domain}>"
        return f"<{self._guid()}@{self.domain}>"

    def _boundary(self, client: str, n: int) -> str:
        if client == "outlook":
            return f"_{n:03d}_{self.short}PR04MB{self._hex(20).upper()}_"
        if client == "apple":
            return f"Apple-Mail={self._guid().upper()}"
        return "------------" + "".join([_ALNUM[b % 62] for b in self.rng.randbytes(24)])

    def _fill(self, template: str) -> str:
        """Fill a subject or file-name template with plausible values."""
        rng = self.rng
        d = _EPOCH + timedelta(seconds=self.t)
        return template.format(
            topic=rng.choice(_TOPICS), q=rng.randint(1, 4), year=d.year, num=rng.randint(10000, 99999),
            date=f"{d.year}-{d.month:02d}-{d.day:02d}", v=rng.randint(1, 9), n4=rng.randint(1000, 9999),
            n3=rng.randint(1, 999), hh=rng.randint(8, 18), mm=f"{rng.randint(0, 59):02d}",
        )

    # -- text ------------------------------------------------------------------------------
    def _paras(self, lang: str, target: int) -> list[str]:
        """Paragraphs of 2-6 sentences until about ``target`` bytes."""
        L = self.langs[lang]
        rng = self.rng
        chars = target // 3 if lang == "ja" else target
        paras: list[str] = []
        total = 0
        while total < chars:
            p = L.paragraph(rng)
            paras.append(p)
            total += len(p) + 2
        return paras

    def _text(self, sender: _Person, first_to: _Person | None, target: int, lang: str) -> _Text:
        rng = self.rng
        to_first = first_to.first if first_to else "all"
        to_last = first_to.last if first_to else "皆"  # "皆様": everyone
        greeting = rng.choice(_GREETINGS[lang]).format(first=to_first, last=to_last)
        name = sender.display if sender.lang == "ja" else f"{sender.first} {sender.last}"
        sig = [name, sender.title, self.company, f"Tel. {sender.phone}", sender.addr]
        disclaimer = _DISCLAIMER if self.disclaimer and sender.client == "outlook" else None
        return _Text(greeting=greeting, paras=self._paras(lang, target), closing=rng.choice(_CLOSINGS[lang]),
                     signature=sig, disclaimer=disclaimer, quote_head=[], quoted="",
                     quote_gt=sender.client != "outlook")

    @staticmethod
    def _plain(t: _Text, width: int) -> str:
        out = [t.greeting, ""]
        for p in t.paras:
            out.extend(_wrap_text(p, width))
            out.append("")
        out.append(t.closing)
        out.extend(t.signature)
        if t.disclaimer:
            out.append("")
            out.extend(_wrap_text(t.disclaimer, width))
        if t.quote_head:
            out.append("")
            out.extend(t.quote_head)
            if t.quote_gt:
                out.extend("> " + ln if ln else ">" for ln in t.quoted.split("\n"))
            else:
                out.append("")
                out.append(t.quoted)
        return "\n".join(out) + "\n"

    @staticmethod
    def _html(t: _Text, client: str, lang_tag: str, logo_cid: str | None) -> str:
        esc = html.escape
        if client == "outlook":
            p = '<p class="MsoNormal">{}<o:p></o:p></p>\n'
            blank = '<p class="MsoNormal"><o:p>&nbsp;</o:p></p>\n'
            out = [_OUTLOOK_HEAD.replace("{lang}", lang_tag)]
        else:
            p = "<div>{}</div>\n" if client == "apple" else "<p>{}</p>\n"
            blank = "<div><br></div>\n" if client == "apple" else "<p><br></p>\n"
            out = ['<html><head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8"></head>\n'
                   '<body style="overflow-wrap: break-word;">\n']
        out.append(p.format(esc(t.greeting)))
        out.append(blank)
        for para in t.paras:
            out.append(p.format(esc(para)))
            out.append(blank)
        out.append(p.format(esc(t.closing)))
        out.append(p.format("<br>\n".join(esc(s) for s in t.signature)))
        if logo_cid:
            out.append(p.format(f'<img width="180" height="48" style="width:1.875in;height:.5in" '
                                f'id="Picture_x0020_1" src="cid:{logo_cid}" alt="{esc(t.signature[2])}">'))
        if t.disclaimer:
            out.append(p.format(f'<span style="font-size:7.5pt;color:gray">{esc(t.disclaimer)}</span>'))
        if t.quote_head:
            quoted = "".join(p.format(esc(q).replace("\n", "<br>\n")) for q in t.quoted.split("\n\n"))
            if t.quote_gt:
                out.append(f'<div class="moz-cite-prefix">{esc(" ".join(t.quote_head))}<br></div>\n'
                           f'<blockquote type="cite">\n{quoted}</blockquote>\n')
            else:
                head = "<br>\n".join(esc(h) for h in t.quote_head)
                out.append('<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">\n'
                           f"{p.format(head)}</div>\n{quoted}")
        out.append("</div>\n</body>\n</html>\n" if client == "outlook" else "</body>\n</html>\n")
        return "".join(out)

    # -- MIME entities ---------------------------------------------------------------------
    def _text_entity(self, text: str, subtype: str, client: str, lang: str) -> tuple[list[str], Bytes]:
        """One text part with the charset and transfer encoding the sending client would choose."""
        if subtype == "html" or (client != "thunderbird" and not text.isascii() and lang != "ja"):
            cs = "utf-8" if client == "outlook" else "UTF-8"
            return [f'Content-Type: text/{subtype}; charset="{cs}"',
                    "Content-Transfer-Encoding: quoted-printable"], _qp(text)
        if lang == "ja":
            return ['Content-Type: text/plain; charset="UTF-8"', "Content-Transfer-Encoding: base64"], \
                _b64_wrap(text.encode("utf-8"))
        if text.isascii():
            ctype = {"outlook": 'text/plain; charset="us-ascii"', "apple": "text/plain; charset=us-ascii",
                     "thunderbird": "text/plain; charset=UTF-8; format=flowed"}[client]
            return [f"Content-Type: {ctype}", "Content-Transfer-Encoding: 7bit"], _crlf(text)
        return ["Content-Type: text/plain; charset=UTF-8; format=flowed",
                "Content-Transfer-Encoding: 8bit"], _crlf(text)

    @staticmethod
    def _entity(headers: list[str], body: Bytes | list[Bytes]) -> list[Bytes]:
        """An entity as a list of byte pieces: big bodies are copied once, into each copy."""
        head = ("\r\n".join(headers) + "\r\n\r\n").encode("ascii")
        return [head, *body] if isinstance(body, list) else [head, body]

    def _multipart(self, subtype: str, client: str, n: int, parts: list[list[Bytes]],
                   extra: str = "") -> tuple[list[str], list[Bytes]]:
        b = self._boundary(client, n)
        delim = f"--{b}\r\n".encode()
        chunks: list[Bytes] = [b"This is a multi-part message in MIME format.\r\n"] if client == "thunderbird" else []
        for part in parts:
            chunks.append(delim)
            chunks.extend(part)
            chunks.append(CRLF)
        chunks.append(f"--{b}--\r\n".encode())
        return [f'Content-Type: multipart/{subtype};{extra}\r\n\tboundary="{b}"'], chunks

    def _attachment_part(self, att: _Attachment, client: str, wrap: tuple[int, bytes], date: str) -> list[Bytes]:
        raw = _attachment_bytes(self.seed, att)
        size = len(raw)
        body = _b64_wrap(raw, *wrap)
        del raw
        ctype = _KIND_CTYPE[att.kind]
        name = att.filename
        if name.isascii():
            name_p, file_p = f'name="{name}"', f'filename="{name}"'
        elif client == "outlook":
            enc = " ".join(_encoded_words(name, "B"))
            name_p, file_p = f'name="{enc}"', f'filename="{enc}"'
        else:
            name_p, file_p = f'name="{" ".join(_encoded_words(name, "Q"))}"', f"filename*={_rfc2231(name)}"
        if att.kind in ("csv", "txt"):
            ctype += "; charset=UTF-8" if client == "thunderbird" else ""
        type_h = f"Content-Type: {ctype};\r\n\t{name_p}"
        if client == "outlook":
            desc = name if name.isascii() else " ".join(_encoded_words(name, "B"))
            headers = [type_h, f"Content-Description: {desc}",
                       f"Content-Disposition: attachment;\r\n\t{file_p}; size={size};\r\n"
                       f'\tcreation-date="{date}";\r\n\tmodification-date="{date}"',
                       "Content-Transfer-Encoding: base64"]
        elif client == "apple":
            headers = [f"Content-Disposition: attachment;\r\n\t{file_p}", type_h,
                       "Content-Transfer-Encoding: base64"]
        else:
            headers = [type_h, f"Content-Disposition: attachment;\r\n {file_p}",
                       "Content-Transfer-Encoding: base64"]
        return self._entity(headers, body)

    # -- one message -----------------------------------------------------------------------
    def message(self, no: int) -> Iterator[GeneratedCopy]:
        """Yield the Sent copy, then one Inbox copy per internal recipient, of message ``no``."""
        rng = self.rng
        t = self._tick()
        n = len(self.users)
        sender_i = min(n - 1, int(n * rng.random() ** 1.6))  # some people send far more than others
        sender = self.users[sender_i]
        client = sender.client
        mode = "B" if client == "outlook" else "Q"

        taken = {sender.addr}
        r = rng.random()
        reuse: _PoolEntry | None = None
        reply: _ThreadEntry | None = None
        if r < self.attachment_share:
            kind = "attach"
            if self.pool and rng.random() < 0.25:
                reuse = self.pool[-1 - min(len(self.pool) - 1, int(rng.expovariate(1 / 20)))] \
                    if rng.random() < 0.7 else rng.choice(self.pool)
        elif r < self.attachment_share + 0.07:
            kind = "related"
        elif r < self.attachment_share + 0.10:
            kind = "calendar"
        else:
            kind = "text"
        if kind in ("text", "related") and self.threads and rng.random() < 0.075:
            reply = self.threads[-1 - min(len(self.threads) - 1, int(rng.expovariate(1 / 8)))]

        first: list[_Person] = []
        if reply is not None and reply.sender.addr != sender.addr:
            first = [reply.sender]
            taken.add(reply.sender.addr)
        to = first + self._pick_recipients(
            sender_i, rng.choices((1, 2, 3, 4, 5, 6), (50, 20, 12, 8, 6, 4))[0] - len(first), taken)
        if not to:
            to = self._pick_recipients(sender_i, 1, taken)
        cc = self._pick_recipients(sender_i, rng.choices((0, 1, 2, 3), (60, 20, 12, 8))[0], taken)
        bcc = self._pick_recipients(sender_i, rng.randint(1, 2), taken) if rng.random() < 0.10 else []

        date = self._date(t, 0 if client == "outlook" and sender.exchange else sender.tz)
        message_id = self._message_id(sender)
        lang = reply.lang if reply else sender.lang
        if lang == "ja" and sender.lang != "ja":
            lang = "en"
        hdr = (lambda p: p.header_b) if mode == "B" else (lambda p: p.header_q)
        to_line = ", ".join(p.display for p in to)

        # subject, threading and text
        references: tuple[str, ...] = ()
        in_reply_to: str | None = None
        if reply is not None:
            re_ = {"outlook": "AW: " if lang == "de" else "RE: "}.get(client, "Re: ")
            subject = reply.subject if reply.subject.lower().startswith(("re:", "aw:")) else re_ + reply.subject
            references = (reply.references + (reply.message_id,))[-10:]
            in_reply_to = reply.message_id
            text = self._text(sender, to[0], _lognormal_size(rng, 900, 0.8, 200, 8000), lang)
            if text.quote_gt:
                text.quote_head = [f"On {reply.date}, {reply.sender.display} wrote:" if lang != "de"
                                   else f"Am {reply.date} schrieb {reply.sender.display}:"]
            else:
                rule = "-----Ursprüngliche Nachricht-----" if lang == "de" else "-----Original Message-----"
                text.quote_head = [rule,
                                   f"From: {reply.sender.display} <{reply.sender.addr}>", f"Sent: {reply.date}",
                                   f"To: {reply.to_line}", f"Subject: {reply.subject}"]
            text.quoted = reply.text
        elif reuse is not None:
            style = rng.random()
            if style < 0.5:
                fw = {"outlook": "WG: " if lang == "de" else "FW: "}.get(client, "Fwd: ")
                subject = fw + reuse.subject
            elif style < 0.7:
                subject = ("RE: " if client == "outlook" else "Re: ") + reuse.subject
                in_reply_to = reuse.message_id
                references = (reuse.message_id,)
            else:
                subject = reuse.subject  # the same report sent to other people
            text = self._text(sender, to[0], _lognormal_size(rng, 500, 0.7, 150, 4000), lang)
            if style < 0.5:
                text.quote_gt = False
                origin = f"From: {reuse.sender.display} <{reuse.sender.addr}>"
                if client == "outlook":
                    text.quote_head = [origin, f"Sent: {reuse.date}", f"To: {reuse.to_line}",
                                       f"Subject: {reuse.subject}"]
                else:
                    text.quote_head = ["---------- Forwarded message ---------", origin, f"Date: {reuse.date}",
                                       f"Subject: {reuse.subject}", f"To: {reuse.to_line}"]
                text.quoted = reuse.excerpt
        else:
            subject = self._fill(rng.choice(_SUBJECTS[lang]))
            target = (_lognormal_size(rng, 600, 0.8, 150, 6000) if kind == "attach"
                      else _lognormal_size(rng, 1800, 0.8, 500, 20_000))
            text = self._text(sender, to[0] if len(to) == 1 else None, target, lang)
        plain = self._plain(text, self.langs[lang].width)

        # body parts
        plain_only = kind == "text" and rng.random() < (0.05 if client == "outlook" else 0.4)
        lang_tag = {"en": "EN-US", "de": "DE", "fr": "FR", "ja": "JA"}[lang]
        logo_cid = (f"image001.png@01D9{self._hex(6).upper()}.{self._hex(4).upper()}"
                    if kind == "related" else None)
        if plain_only:
            top_headers, body = self._text_entity(plain, "plain", client, lang)
        else:
            alt_parts = [self._entity(*self._text_entity(plain, "plain", client, lang)),
                         self._entity(*self._text_entity(self._html(text, client, lang_tag, logo_cid),
                                                               "html", client, lang))]
            if kind == "calendar":
                alt_parts.append(self._entity(*self._calendar(sender, to + cc, subject, t)))
            top_headers, body = self._multipart("alternative", client, 0, alt_parts)
            if kind == "related":
                logo = _attachment_bytes(self.seed, self.logo)
                logo_part = self._entity(
                    ['Content-Type: image/png; name="image001.png"',
                     'Content-Description: image001.png', 'Content-Disposition: inline; filename="image001.png";'
                     f" size={len(logo)};\r\n\tcreation-date=\"{date}\";\r\n\tmodification-date=\"{date}\"",
                     f"Content-ID: <{logo_cid}>", "Content-Transfer-Encoding: base64"],
                    _b64_wrap(logo))
                top_headers, body = self._multipart(
                    "related", client, 1, [self._entity(top_headers, body), logo_part],
                    ' type="multipart/alternative";')
            if kind == "attach":
                if reuse is not None:
                    atts = reuse.attachments
                    if rng.random() < 0.5:
                        wrap = rng.choice([w for w in _WRAPS if w != reuse.wrap])
                    else:
                        wrap = reuse.wrap
                else:
                    atts = tuple(self._new_attachment(lang) for _ in range(rng.choices((1, 2, 3), (65, 25, 10))[0]))
                    wrap = _CLIENT_WRAP[client]
                parts = [self._entity(top_headers, body)]
                for att in atts:
                    parts.append(self._attachment_part(att, client, wrap, date))
                top_headers, body = self._multipart("mixed", client, 4, parts)
                del parts
                if reuse is None:
                    self.pool.append(_PoolEntry(subject=subject, sender=sender, to_line=to_line, date=date,
                                                message_id=message_id, attachments=atts, wrap=wrap,
                                                excerpt=plain[:1500]))
        if reuse is None:
            self.threads.append(_ThreadEntry(subject=subject, sender=sender, to_line=to_line, date=date,
                                             message_id=message_id, references=references,
                                             text=plain[:6000].rstrip("\n"), lang=lang))

        # top-level headers, in the order the sending client writes them
        from_h = f"From: {hdr(sender)}"
        to_h = _address_list("To", [hdr(p) for p in to])
        cc_h = _address_list("CC" if client == "outlook" else "Cc", [hdr(p) for p in cc]) if cc else None
        bcc_h = _address_list("BCC" if client == "outlook" else "Bcc", [hdr(p) for p in bcc]) if bcc else None
        subj_h = _unstructured("Subject", subject, mode)
        thread_h = []
        if in_reply_to:
            thread_h = [f"In-Reply-To: {in_reply_to}", "References: " + "\r\n ".join(references)]
        has_att = kind == "attach"
        if client == "outlook":
            head = [from_h, to_h, cc_h, bcc_h, subj_h,
                    _unstructured("Thread-Topic", _topic(subject), mode),
                    f"Thread-Index: {self._b64tok(22 if not (reply or reuse) else 27)}",
                    f"Date: {date}", f"Message-ID: {message_id}", *thread_h,
                    f"Accept-Language: {lang_tag.lower()}, en-US" if lang != "en" else "Accept-Language: en-US",
                    f"Content-Language: {lang_tag.lower() if lang != 'en' else 'en-US'}",
                    f"X-MS-Has-Attach: {'yes' if has_att else ''}", "X-MS-TNEF-Correlator:",
                    *top_headers, "MIME-Version: 1.0"]
        elif client == "thunderbird":
            head = [f"Message-ID: {message_id}", f"Date: {date}", "MIME-Version: 1.0",
                    "User-Agent: Mozilla Thunderbird", f"Content-Language: {lang_tag.lower()}",
                    to_h, cc_h, bcc_h, from_h, subj_h, *thread_h, *top_headers]
        else:
            head = [from_h, *top_headers, "Mime-Version: 1.0 (Mac OS X Mail 16.0 \\(3731.500.231\\))",
                    subj_h, f"Message-Id: {message_id}", *thread_h, f"Date: {date}", cc_h, bcc_h, to_h,
                    "X-Mailer: Apple Mail (2.3731.500.231)"]
        lines = [h for h in head if h]
        sent_head = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
        inbox_head = ("\r\n".join(h for h in lines if h is not bcc_h) + "\r\n\r\n").encode("ascii")

        if not isinstance(body, list):
            body = [body]
        yield GeneratedCopy(sender.addr, "Sent", b"".join([sent_head, *body]), no)
        del sent_head
        dkim = self._dkim(t) if rng.random() < 0.4 else None
        arc = rng.random() < 0.3
        submission = self._submission_received(sender, t)
        network_id = self._guid()
        for p2_type, people in (("To", to), ("Cc", cc), ("Bcc", bcc)):
            for p in people:
                if p.internal:
                    prefix = self._transport(sender, p, p2_type, t, dkim, arc, submission, network_id)
                    yield GeneratedCopy(p.addr, "Inbox", b"".join([prefix, inbox_head, *body]), no)

    def _new_attachment(self, lang: str) -> _Attachment:
        rng = self.rng
        kinds = [k[0] for k in _KINDS]
        kind = rng.choices(kinds, [k[1] for k in _KINDS])[0]
        spec = next(k for k in _KINDS if k[0] == kind)
        if rng.random() < 0.001:
            size = rng.randint(5_000_000, 15_000_000)
        else:
            size = _lognormal_size(rng, spec[3], spec[4], 20_000, 5_000_000)
        names = _FILENAMES[kind]
        name = rng.choice(names if lang != "en" else [n for n in names if n.isascii()] or names)
        name = self._fill(name.replace("{topic}", rng.choice(_TOPIC_TOKENS)))
        self.next_att += 1
        return _Attachment(index=self.next_att - 1, kind=kind, filename=name, size=size)

    def _calendar(self, organizer: _Person, attendees: list[_Person], subject: str, t: int) -> tuple[list[str], bytes]:
        """A text/calendar METHOD:REQUEST part, as Outlook adds to invitations."""
        rng = self.rng
        start = (t // 86_400 + rng.randint(1, 10)) * 86_400 + rng.randint(8, 16) * 3600
        def ics_time(x: int) -> str:
            d = _EPOCH + timedelta(seconds=x)
            return f"{d.year}{d.month:02d}{d.day:02d}T{d.hour:02d}{d.minute:02d}{d.second:02d}"
        def fold(line: str) -> str:
            return "\r\n ".join(line[i : i + 74] for i in range(0, len(line), 74))
        lines = ["BEGIN:VCALENDAR", "METHOD:REQUEST", "PRODID:Microsoft Exchange Server 2010", "VERSION:2.0",
                 "BEGIN:VTIMEZONE", "TZID:W. Europe Standard Time", "BEGIN:STANDARD", "DTSTART:16010101T030000",
                 "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10",
                 "END:STANDARD", "BEGIN:DAYLIGHT", "DTSTART:16010101T020000", "TZOFFSETFROM:+0100",
                 "TZOFFSETTO:+0200", "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3", "END:DAYLIGHT",
                 "END:VTIMEZONE", "BEGIN:VEVENT",
                 fold(f"ORGANIZER;CN={organizer.display}:mailto:{organizer.addr}")]
        lines += [fold(f"ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN={a.display}:mailto:{a.addr}")
                  for a in attendees]
        lines += [fold(f"SUMMARY;LANGUAGE=en-US:{subject}"),
                  f"DTSTART;TZID=W. Europe Standard Time:{ics_time(start)}",
                  f"DTEND;TZID=W. Europe Standard Time:{ics_time(start + 3600)}",
                  f"UID:040000008200E00074C5B7101A82E008000000{self._hex(28).upper()}",
                  "CLASS:PUBLIC", "PRIORITY:5", f"DTSTAMP:{ics_time(t)}Z", "TRANSP:OPAQUE", "STATUS:CONFIRMED",
                  "SEQUENCE:0", "LOCATION;LANGUAGE=en-US:Microsoft Teams Meeting",
                  "X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE", "X-MICROSOFT-CDO-IMPORTANCE:1",
                  "BEGIN:VALARM", "DESCRIPTION:REMINDER", "TRIGGER;RELATED=START:-PT15M", "ACTION:DISPLAY",
                  "END:VALARM", "END:VEVENT", "END:VCALENDAR"]
        data = ("\r\n".join(lines) + "\r\n").encode("utf-8")
        return ['Content-Type: text/calendar; charset="utf-8"; method=REQUEST',
                "Content-Transfer-Encoding: base64"], bytes(_b64_wrap(data))

    # -- transport headers -----------------------------------------------------------------
    def _dkim(self, t: int) -> str:
        return _fold_b64(
            f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={self.domain};\r\n\t"
            f"s=selector{self.rng.randint(1, 2)}; t={t};\r\n\th=From:To:Subject:Date:Message-ID:"
            f"Content-Type:MIME-Version;\r\n\tbh={self._b64tok(32)};\r\n\tb=",
            self._b64tok(256))

    def _submission_received(self, sender: _Person, t: int) -> str:
        """The client's submission hop: the same in every Inbox copy of one message."""
        rng = self.rng
        if sender.exchange:
            h = self._hex(16)
            return (f"Received: from {sender.server} ([fe80::{h[0:4]}:{h[4:8]}:{h[8:12]}:{h[12:16]}]) by "
                    f"{sender.server}\r\n ([fe80::{h[16:20]}:{h[20:24]}:{h[24:28]}:{h[28:32]}%{rng.randint(3, 7)}])"
                    f" with mapi id 15.20.{rng.randint(6000, 7999)}.0{rng.randint(10, 99)}; {self._date(t, 0)}")
        ip = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        qid = self._queue_id()
        return (f"Received: from [192.168.{rng.randint(0, 9)}.{rng.randint(2, 250)}] (unknown [{ip}])\r\n"
                f"\t(Authenticated sender: {sender.addr})\r\n\tby smtp.{self.domain} (Postfix) with ESMTPSA"
                f" id {qid};\r\n\t{self._date(t, sender.tz, pad=True)}")

    def _transport(self, sender: _Person, rcpt: _Person, p2: str, t: int, dkim: str | None, arc: bool,
                   submission: str, network_id: str) -> bytes:
        """What the recipient's servers prepend to this one Inbox copy (per-recipient ids and times).

        All small random numbers come from one ``randbytes`` call: this runs once per copy.
        """
        rb = self.rng.randbytes(40)
        hx = rb[16:40].hex()
        d = self.domain
        t1 = t + rb[0] % 3
        t2 = t1 + rb[1] % 4
        relay = sender.server if sender.exchange else f"mx1.{d}"
        h: list[str] = []
        if rcpt.exchange:
            h += [f"Return-Path: {sender.addr}", f"Delivered-To: {rcpt.addr}",
                  f"Received: from {relay} by {rcpt.server} with HTTPS; {self._date(t2, 0)}"]
            if rb[2] < 128:
                pod, rest = rcpt.server.split(".", 1)
                h.append(f"Received: from {pod[:3]}P{_N[rb[3] % 9 + 1]}{_D2[rb[4] % 100]}CA{hx[:4].upper()}.{rest}"
                         f" (2603:10a6:{hx[4:8]}:{hx[8:10]}::{hx[10:14]}) by {rcpt.server}\r\n"
                         f" (2603:10a6:{hx[14:18]}:{hx[18:20]}::{hx[20:24]}) with Microsoft SMTP Server"
                         f" (version=TLS1_2,\r\n cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.6"
                         f"{_D2[rb[5] % 100]}.0{_N[rb[6] % 90 + 10]}; {self._date(t1, 0)}")
            h.append(submission)
            h.append(f"Authentication-Results: dkim={'pass' if dkim else 'none'} "
                     f"({'signature was verified' if dkim else 'message not signed'})\r\n header.d={d};dmarc=pass"
                     f" action=none header.from={d};")
        else:
            lmtp = base64.b64encode(rb[24:40]).decode("ascii").rstrip("=")
            h += [f"Return-Path: <{sender.addr}>", f"Delivered-To: {rcpt.addr}",
                  f"Received: from mx1.{d}\r\n\tby {rcpt.server} with LMTP\r\n\tid {lmtp}\r\n"
                  f"\t(envelope-from <{sender.addr}>)\r\n\tfor <{rcpt.addr}>; {self._date(t2, rcpt.tz, pad=True)}"]
            if rb[2] < 128:
                h.append(f"Received: from localhost (localhost [127.0.0.1])\r\n\tby mx1.{d} (Postfix) with ESMTP id "
                         f"{_queue_id(rb[4:16])}\r\n\tfor <{rcpt.addr}>; {self._date(t2, rcpt.tz, pad=True)}")
            h.append(f"Received: from smtp.{d} (smtp.{d} [10.0.0.25])\r\n\t(using TLSv1.3 with cipher "
                     f"TLS_AES_256_GCM_SHA384 (256/256 bits)\r\n\t key-exchange X25519 server-signature RSA-PSS "
                     f"(2048 bits))\r\n\t(No client certificate requested)\r\n\tby mx1.{d} (Postfix) with ESMTPS id "
                     f"{_queue_id(rb[16:28])}\r\n\tfor <{rcpt.addr}>; {self._date(t1, rcpt.tz, pad=True)}")
            h.append(submission)
            verdict = f"pass (2048-bit key; unprotected) header.d={d} header.i=@{d} header.b={lmtp[:8]}" \
                if dkim else f"none header.d={d}"
            h.append(f"Authentication-Results: mx1.{d};\r\n\tdkim={verdict};\r\n\tdkim-atps=neutral")
            h.append(f"X-Spam-Status: No, score=-{_N[rb[3] % 4]}.{_N[rb[5] % 10]} required=5.0 tests=ALL_TRUSTED,"
                     f"BAYES_00\r\n\tautolearn=ham autolearn_force=no version=3.4.6")
        if arc:
            selector = _N[rb[7] % 9 + 1]
            h.append(_fold_b64(f"ARC-Seal: i=1; a=rsa-sha256; s=arcselector{selector}; d={d}; t={t1};"
                               " cv=none;\r\n\tb=", self._b64tok(256)))
            h.append(_fold_b64(f"ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d={d};\r\n\ts=arcselector"
                               f"{selector}; t={t1};\r\n\th=From:Date:Subject:Message-ID:Content-Type:"
                               f"MIME-Version;\r\n\tbh={self._b64tok(32)};\r\n\tb=", self._b64tok(256)))
            h.append(f"ARC-Authentication-Results: i=1; mx1.{d}; spf=pass smtp.mailfrom={d}; dkim=pass\r\n"
                     f" header.d={d}; dmarc=pass header.from={d}; arc=none")
        if dkim:
            h.append(dkim)
        if rcpt.exchange:
            h += [f"X-MS-Exchange-Organization-ExpirationStartTime: {self._date(t1, 0)[5:-6]}.{_D2[rb[8] % 100]}"
                  f"{_D2[rb[9] % 100]} (UTC)",
                  "X-MS-Exchange-Organization-ExpirationStartTimeReason: OriginalSubmit",
                  "X-MS-Exchange-Organization-ExpirationInterval: 1:00:00:00.0000000",
                  "X-MS-Exchange-Organization-ExpirationIntervalReason: OriginalSubmit",
                  f"X-MS-Exchange-Organization-Network-Message-Id:\r\n\t{network_id}",
                  "X-MS-Exchange-Organization-MessageDirectionality: Originating",
                  f"X-MS-Exchange-Organization-AuthSource: {relay}",
                  "X-MS-Exchange-Organization-AuthAs: Internal",
                  "X-MS-Exchange-Organization-AuthMechanism: 04",
                  "X-MS-Exchange-Organization-SCL: -1"]
            if p2 == "Bcc":
                h.append("X-MS-Exchange-Organization-Recipient-P2-Type: Bcc")
            h += [f"X-MS-Exchange-Transport-EndToEndLatency: 00:00:0{_N[t2 - t]}.{_D2[rb[10] % 100]}{_D2[rb[11] % 100]}"
                  f"{_D2[rb[12] % 100]}{_N[rb[13] % 10]}",
                  f"X-MS-Exchange-Processed-By-BccFoldering: 15.20.6{_D2[rb[5] % 100]}.0{_N[rb[6] % 90 + 10]}"]
        h.append("")
        return "\r\n".join(h).encode("ascii")


# --------------------------------------------------------------------------------------------
# Public interface


def generate_org_mail(
    users: int, messages: int, seed: int = 1, domain: str = "example.org", attachment_share: float = 0.30
) -> Iterator[GeneratedCopy]:
    """Stream every copy of ``messages`` messages exchanged in an organization of ``users`` people.

    Per message: the sender's ``Sent`` copy first (with a Bcc header when there are Bcc
    recipients, no transport headers), then one ``Inbox`` copy per internal To/Cc/Bcc recipient
    (its own Received/Return-Path/Delivered-To/authentication headers prepended, no Bcc). The
    same arguments give the same bytes; message *k* does not depend on ``messages``.
    ``attachment_share`` (default 0.30, realistic) lowers the share of messages with attachments
    for scale runs that measure the catalogue rather than bulk bytes.
    """
    if users < 1:
        raise ValueError("users must be at least 1")
    if messages < 0:
        raise ValueError("messages must not be negative")
    if not domain or not domain.isascii() or "@" in domain:
        raise ValueError(f"bad domain: {domain!r}")
    if not 0 <= attachment_share <= 0.9:
        raise ValueError("attachment_share must be between 0 and 0.9")
    return _stream(_OrgMail(users, seed, domain, attachment_share), messages)


def _stream(org: _OrgMail, messages: int) -> Iterator[GeneratedCopy]:
    for no in range(messages):
        yield from org.message(no)


def write_tree(copies: Iterable[GeneratedCopy], out: Path) -> tuple[int, int]:
    """Write ``out/<mailbox>/<folder>/<message_no:07d>.eml``; return (copies, bytes) written."""
    out = Path(out)
    made: set[Path] = set()
    count = total = 0
    for c in copies:
        folder = out / c.mailbox / c.folder
        if folder not in made:
            folder.mkdir(parents=True, exist_ok=True)
            made.add(folder)
        (folder / f"{c.message_no:07d}.eml").write_bytes(c.raw)
        count += 1
        total += len(c.raw)
    return count, total


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bench.generate --users 50 --messages 1000 --seed 1 --out DIR``."""
    ap = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--domain", default="example.org")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    stats = {"Sent": 0, "Inbox": 0}
    mailboxes: set[str] = set()

    def counted() -> Iterator[GeneratedCopy]:
        for c in generate_org_mail(a.users, a.messages, a.seed, a.domain):
            stats[c.folder] += 1
            mailboxes.add(c.mailbox)
            yield c

    copies, total = write_tree(counted(), a.out)
    print(f"messages: {a.messages}")
    print(f"copies: {copies} (Sent {stats['Sent']}, Inbox {stats['Inbox']})")
    print(f"mailboxes: {len(mailboxes)}")
    print(f"bytes: {total} ({total / 1e6:.1f} MB, {total / max(1, copies) / 1e3:.1f} kB per copy)")
    print(f"out: {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
