"""Memory for one huge message: peak RSS of `mailark import` of a single .eml with one large attachment.

    python -m bench.huge_message --mb 500

Writes the message once (bench/out/huge-<mb>mb.eml: a base64 attachment of random bytes, 76-column
CRLF lines as mail clients write them), imports it in a fresh home in a child process and reports
the child's peak RSS against the message size and against the baseline of importing a tiny message
in the same way. The goal (issue 19) is a peak that is a small multiple of the largest part.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def write_message(path: Path, attachment_bytes: int, incompressible: bool = False) -> int:
    """The attachment repeats 57 KB of noise with a counter (zstd shrinks it: sealing compresses it), or
    with `incompressible` is noise throughout, like a zip or a JPEG (sealing stores it as it is)."""
    if path.exists() and path.with_suffix(".complete").exists():
        return path.stat().st_size
    rnd = os.urandom(57 * 1024)
    with path.open("wb") as f:
        f.write(b"From: ann@acme.example\r\nTo: bob@acme.example\r\nSubject: the big one\r\n"
                b"Message-ID: <huge@acme.example>\r\nDate: Fri, 04 Dec 2026 07:00:00 +0000\r\nMIME-Version: 1.0\r\n"
                b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n'
                b'--b1\r\nContent-Type: application/octet-stream; name="big.bin"\r\n'
                b"Content-Transfer-Encoding: base64\r\n\r\n")
        written = 0
        counter = 0
        while written < attachment_bytes:
            chunk = os.urandom(len(rnd)) if incompressible else counter.to_bytes(8, "big") + rnd[8:]
            counter += 1
            f.write(base64.encodebytes(chunk).replace(b"\n", b"\r\n"))
            written += len(chunk)
        f.write(b"--b1--\r\n")
    path.with_suffix(".complete").write_text("ok")
    return path.stat().st_size


def import_peak(source: Path, home: Path) -> tuple[float, int, str]:
    """(seconds, peak RSS bytes of the child, its stdout) for `mailark import source` in a fresh home."""
    shutil.rmtree(home, ignore_errors=True)
    env = {**os.environ, "MAILARK_HOME": str(home), "MAILARK_PREFECT_API_URL": "http://127.0.0.1:9/api"}
    mailark = str(Path(sys.executable).parent / "mailark")
    subprocess.run([mailark, "org", "create", "acme", "--json"], env=env, check=True, capture_output=True)
    script = (
        "import resource, subprocess, sys; "
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "print(p.stdout.strip() or p.stderr.strip()); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)"
    )
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script, mailark, "import", str(source), "--org", "acme",
                           "--mailbox", "ann@acme.example", "--json"], env=env, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    out, peak = done.stdout.strip().rsplit("\n", 1)
    return seconds, int(peak), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=500, help="size of the attachment in MB (decoded)")
    ap.add_argument("--incompressible", action="store_true",
                    help="an attachment of noise throughout (zstd cannot shrink it)")
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    big = OUT / f"huge-{args.mb}mb{'-noise' if args.incompressible else ''}.eml"
    size = write_message(big, args.mb * 10**6, args.incompressible)
    small = OUT / "huge-baseline.eml"
    small.write_bytes(b"From: ann@acme.example\r\nSubject: tiny\r\n\r\nx\r\n")
    _, base_peak, _ = import_peak(small, OUT / "home-huge")
    seconds, peak, out = import_peak(big, OUT / "home-huge")
    shutil.rmtree(OUT / "home-huge", ignore_errors=True)
    print(json.dumps({
        "message_bytes": size, "seconds": round(seconds, 1), "peak_rss_mb": round(peak / 1e6),
        "baseline_rss_mb": round(base_peak / 1e6), "peak_over_message": round(peak / size, 2),
        "added_over_message": round((peak - base_peak) / size, 2), "import": json.loads(out),
    }, indent=2))


if __name__ == "__main__":
    main()
