"""The endpoint as a service (`mailark journal serve` in its own process) with real clients: swaks and
smtplib; kill -9 right after a 250 loses nothing; SMTP import keeps bytes and is idempotent."""

from __future__ import annotations

import json
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailark.sources.journal.drain import drain_all
from tests.sources.journal.conftest import archived, client_tls, quarantined
from tests.sources.journal.reports import corpus_message, make_report

MAILARK = str(Path(sys.executable).parent / "mailark")
SWAKS = shutil.which("swaks")


def mailark(*args: str) -> dict | list:  # type: ignore[type-arg]
    p = subprocess.run([MAILARK, *args, "--json"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.fixture
def served(jrt, acme) -> Iterator[tuple[subprocess.Popen, int, dict]]:  # type: ignore[no-untyped-def,type-arg]
    """Organization acme with a journal address (made in this process), and `mailark journal serve --port 0`."""
    doc = {"address": acme.journal}
    with socket.socket() as sock:  # a free port, given as `mailark up` gives it: settings smtp_port
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    proc = subprocess.Popen([MAILARK, "journal", "serve"], env={**os.environ, "MAILARK_SMTP_PORT": str(free)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert "listening on" in line, proc.stderr.read() if proc.poll() is not None else line  # type: ignore[union-attr]
        port = int(line.rsplit(":", 1)[1])
        assert line.strip() == f"journal endpoint listening on 127.0.0.1:{free}"
        yield proc, port, doc  # type: ignore[misc]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_kill_9_right_after_250_loses_nothing(jrt, served, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    proc, port, doc = served
    files = sorted((corpus / "cpython-test_email").glob("msg_0*.txt"))[:8]
    sent = [corpus_message(corpus, f"cpython-test_email/{f.name}") for f in files]
    c = smtplib.SMTP("127.0.0.1", port, timeout=10)
    c.ehlo()
    for raw in sent:
        assert c.sendmail("", [doc["address"]], raw) == {}
    os.kill(proc.pid, signal.SIGKILL)  # right after the last 250, before anything else happens
    proc.wait()
    c.close()
    org = jrt.org("acme")
    from mailark.sources.journal import drops

    names = [o.name for o in drops.pending(jrt.store, org.id)]
    assert len(names) == len(sent)
    sealer = jrt.archive_for(org).sealer
    assert sorted(drops.read(jrt.store, sealer, n)[1] for n in names) == sorted(sent)
    res = mailark("journal", "drain", "--org", "acme")
    assert res[0]["removed"] == len(sent) and res[0]["archived"] == len(set(sent))
    assert sorted(archived(jrt, org, doc["address"])) == sorted(set(sent))


@pytest.mark.skipif(SWAKS is None, reason="swaks is not installed (scripts/install-test-deps.sh installs it)")
def test_swaks_journal_report_and_refusals(jrt, served, corpus: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, port, doc = served
    original = corpus_message(corpus, "cpython-test_email/msg_07.txt")
    report = make_report(original, ["Sender: bob@acme.com", "Subject: Here is your dingus fish",
                                    "Message-Id: <x@y>", "To: carol@acme.com"], to=doc["address"])
    f = tmp_path / "report.eml"
    f.write_bytes(report + b".\r\n")  # --no-data-fixup: swaks sends the file as the whole DATA
    ok = subprocess.run([SWAKS, "--server", f"127.0.0.1:{port}", "--from", "<>", "--to", doc["address"],
                         "--data", f"@{f}", "--no-data-fixup", "--tls"], capture_output=True, text=True, timeout=20)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "250 2.0.0 OK: stored as" in ok.stdout
    unknown = subprocess.run([SWAKS, "--server", f"127.0.0.1:{port}", "--to", "nobody@acme.journal.localhost",
                              "--from", "x@y.example"], capture_output=True, text=True, timeout=20)
    assert unknown.returncode != 0 and "<** 550 5.1.1" in unknown.stdout
    # AUTH before STARTTLS is refused (and not even offered).
    noauth = subprocess.run([SWAKS, "--server", f"127.0.0.1:{port}", "--to", doc["address"], "--from", "x@y.example",
                             "--auth", "PLAIN", "--auth-user", doc["address"], "--auth-password", "whatever-at-all"],
                            capture_output=True, text=True, timeout=20)
    assert noauth.returncode != 0 and "did not advertise authentication" in noauth.stderr
    drain_all(jrt)
    org = jrt.org("acme")
    assert archived(jrt, org, doc["address"]) == [original]


@pytest.mark.skipif(SWAKS is None, reason="swaks is not installed (scripts/install-test-deps.sh installs it)")
def test_smtp_import_keeps_bytes_and_is_idempotent_on_resend(jrt, served, corpus: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, port, _ = served
    imp = mailark("journal", "add-import", "--org", "acme", "--mailbox", "ann@acme.com", "--name", "mailstore")
    assert imp["address"] == "import-mailstore@acme.journal.localhost" and imp["password"]
    listed = mailark("journal", "list", "--org", "acme")
    assert {(r["kind"], r["address"], r["mailbox"]) for r in listed} == {
        ("journal", "journal@acme.journal.localhost", "journal@acme.journal.localhost"),
        ("smtp-import", imp["address"], "ann@acme.com")}
    assert imp["password"] not in json.dumps(listed) and all("password" not in r for r in listed)
    import time

    time.sleep(0.3)  # the endpoint re-reads its address table after 0.2 s in tests
    msgs = [corpus_message(corpus, f"cpython-test_email/msg_{n:02d}.txt") for n in (2, 7, 12, 21)]
    files = []
    for i, raw in enumerate(msgs):
        files.append(tmp_path / f"{i}.eml")
        files[-1].write_bytes(raw + b".\r\n")  # --no-data-fixup: swaks sends the file as the whole DATA

    def swaks_send(f: Path, password: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([SWAKS, "--server", f"127.0.0.1:{port}", "--from", "export@mailstore.example",
                               "--to", imp["address"], "--data", f"@{f}", "--no-data-fixup", "--tls",
                               "--auth", "LOGIN", "--auth-user", imp["address"], "--auth-password", password],
                              capture_output=True, text=True, timeout=20)

    wrong = swaks_send(files[0], "not-the-password")
    assert wrong.returncode != 0 and "535 5.7.8" in wrong.stdout
    # Without AUTH the import address refuses (530), whatever the sender.
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
        c.starttls(context=client_tls())
        c.ehlo()
        c.mail("")
        assert c.rcpt(imp["address"])[0] == 530
    for f in files:
        r = swaks_send(f, imp["password"])
        assert r.returncode == 0, r.stdout + r.stderr
    drain_all(jrt)
    org = jrt.org("acme")
    assert sorted(archived(jrt, org, "ann@acme.com")) == sorted(msgs)  # byte for byte: dates, headers, no Received
    rows = jrt.lake.execute("SELECT DISTINCT source, folder FROM lake.mailbox_items").fetchall()
    assert rows == [("smtp-import", "Imported")]
    # The export is sent again (a migration restarted): nothing archived twice.
    for f in files:
        assert swaks_send(f, imp["password"]).returncode == 0
    [res] = drain_all(jrt)
    assert res.counts.archived == 0 and res.counts.duplicates == len(msgs) and res.removed == len(msgs)
    assert len(archived(jrt, org, "ann@acme.com")) == len(msgs)


def test_drain_killed_midway_then_run_again(jrt, served, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    """kill -9 of a drain in the middle of its work (some batches done, some drops deleted): the next
    drain ends in the same state as an uninterrupted one, every message taken once, no drop left."""
    import time

    from mailark.sources.journal import drops

    _, port, doc = served
    sent = sorted({corpus_message(corpus, f"cpython-test_email/{f.name}")
                   for f in sorted((corpus / "cpython-test_email").glob("msg_*.txt"))[:40]})
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
        for raw in sent:
            assert c.sendmail("", [doc["address"]], raw) == {}
    org = jrt.org("acme")
    total = len(drops.pending(jrt.store, org.id))
    assert total == len(sent)
    drain = subprocess.Popen([MAILARK, "journal", "drain", "--org", "acme"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env={**os.environ, "MAILARK_BATCH_MESSAGES": "3"})
    deadline = time.monotonic() + 60
    while len(drops.pending(jrt.store, org.id)) == total and drain.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    drain.kill()  # right after its first batches landed and their drops went
    drain.wait()
    left = len(drops.pending(jrt.store, org.id))
    assert 0 < left < total, "the drain was not caught midway"
    [res] = drain_all(jrt)
    assert res.drops == left and res.removed == left and drops.pending(jrt.store, org.id) == []
    taken = archived(jrt, org, doc["address"]) + [data for _, _, data in quarantined(jrt, org)]
    assert sorted(taken) == sent  # each exactly once (archived, or quarantined: a few corpus files are no messages)
