"""Fixed vocabularies: names, words in four languages, subjects, client quirks, file kinds.

Immutable module constants; all per-run state lives in the run (messages.py).
"""

from __future__ import annotations

from datetime import datetime, timezone

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
