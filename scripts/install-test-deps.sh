#!/usr/bin/env bash
# Install the Debian packages the test suite needs (its real peers). Idempotent: when they are
# all there it does nothing and says nothing; `apt-get update` runs only when one is missing.
# Not root and something missing: it says what to install and goes on (those tests skip).
#
#   postgresql   tests/postgres: control plane and DuckLake catalog on a real PostgreSQL server
#   slapd        tests/directory: a real OpenLDAP server (slapd and slapadd; started by tests/peers/openldap.py)
#   ldap-utils   ldapsearch/ldapmodify, to look into a test directory by hand
#   swaks, libnet-ssleay-perl   tests/sources/journal: a real SMTP client for the journal endpoint (with STARTTLS)
#   postfix, libsasl2-modules   tests/sources/journal: Postfix relaying to the journal endpoint (TLS, SMTP AUTH);
#                the tests run their own instance under a temp config directory, never the system service
#   dovecot-imapd  tests/sources/imap: a real IMAP server (configured under a temp dir, no system service)
set -euo pipefail

PACKAGES=(postgresql slapd ldap-utils swaks libnet-ssleay-perl postfix libsasl2-modules dovecot-imapd
    # the web pages' end-to-end tests: Playwright drives Debian's chromium (no downloaded browsers)
    chromium)

installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=()
for p in "${PACKAGES[@]}"; do
    installed "$p" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-test-deps: no apt-get here; install ${missing[*]} yourself (tests that need it skip)" >&2
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-test-deps: not root; missing ${missing[*]}: sudo apt-get install ${missing[*]} (tests that need it skip)" >&2
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-test-deps: installing ${missing[*]}" >&2
apt-get update -q
# slapd: no default directory of its own (the tests make theirs), so nothing is started on :389.
if command -v debconf-set-selections >/dev/null 2>&1; then
    echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
    # postfix: no system mail server either (the tests run their own instance under a temp dir).
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
fi
# The tests initdb a cluster of their own; the package's default cluster is not used.
apt-get install -y -q --no-install-recommends "${missing[@]}"
