"""SMTP journaling and SMTP import: an aiosmtpd endpoint that drops accepted mail durably, and a drain.

How it fits together:
- Each organization that journals has a source profile of kind ``journal`` (control.sources):
  its address (default ``journal@<org>.<journal.domain>``, or one the admin names), whether SMTP
  AUTH is required (the password lives in the profile's encrypted secret) and its journal archive
  mailbox (kind ``journal``, whose primary address is the journal address). An SMTP import (a
  migration from another archive) is a profile of kind ``smtp-import``: its address (default
  ``import-<name>@<org>.<journal.domain>``), the archive mailbox it fills, and always SMTP AUTH.
- The endpoint (endpoint.py) routes by recipient address (profiles.py): unknown addresses get 550,
  an organization whose storage is full gets 452 (quota.py), a message over the size limit 552.
  Each accepted message is sealed with the organization's key and written durably as a *drop*
  (drops.py) to ``orgs/<org_id>/drops/journal/<ulid>`` or ``.../drops/import/<ulid>`` before the
  250; nothing is added to it (no Received field), so a re-sent import is the same bytes.
- The drain (drain.py; the ``journal-drain`` flow runs it every minute) archives the drops with
  the archive core's BatchWriter: Exchange envelope journal reports are unwrapped (report.py) and
  the original is linked to every archive mailbox among its sender and recipients and to the
  journal mailbox; a drop is deleted only once all its copies are in the catalogue.
"""
