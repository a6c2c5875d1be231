"""The catalogue's tables. DuckLake has no unique constraints: every row carries its batch id and
writers check what exists before they append (see catalog.ingest)."""

TABLES: dict[str, str] = {
    # One row per distinct message of an organization (its skeleton is stored once).
    "messages": """
        org_id VARCHAR, message_key VARCHAR, batch_id VARCHAR, message_id VARCHAR, subject VARCHAR,
        from_addr VARCHAR, from_name VARCHAR, to_addrs VARCHAR[], cc_addrs VARCHAR[],
        date TIMESTAMPTZ, size BIGINT, skeleton_ref VARCHAR, skeleton_size BIGINT,
        attachment_count INTEGER, attachment_names VARCHAR[], defects VARCHAR[], first_seen TIMESTAMPTZ
    """,
    # One row per archived copy in an archive mailbox and folder.
    "mailbox_items": """
        org_id VARCHAR, item_id VARCHAR, mailbox_id VARCHAR, mailbox VARCHAR, folder VARCHAR,
        message_key VARCHAR, copy_sha256 VARCHAR, size BIGINT, delta_ref VARCHAR, bcc_addrs VARCHAR[],
        source VARCHAR, source_position VARCHAR, batch_id VARCHAR, archived_at TIMESTAMPTZ
    """,
    # The leaf parts of a message that are objects of their own.
    "parts": """
        org_id VARCHAR, message_key VARCHAR, ordinal INTEGER, object_key VARCHAR, batch_id VARCHAR,
        content_type VARCHAR, filename VARCHAR, plain_size BIGINT, encoded_size BIGINT, recipe VARCHAR
    """,
    # Every object the organization occupies in the object store (parts, packs, quarantined bytes).
    "objects": """
        org_id VARCHAR, object_key VARCHAR, kind VARCHAR, plain_size BIGINT, stored_size BIGINT,
        batch_id VARCHAR, created_at TIMESTAMPTZ
    """,
    # Items that could not be archived as messages: their raw bytes are kept, with the reason.
    "quarantine": """
        org_id VARCHAR, item_id VARCHAR, mailbox_id VARCHAR, mailbox VARCHAR, folder VARCHAR,
        object_key VARCHAR, copy_sha256 VARCHAR, size BIGINT, reason VARCHAR, source VARCHAR,
        source_position VARCHAR, batch_id VARCHAR, quarantined_at TIMESTAMPTZ
    """,
    # Per run and batch: seen = archived + duplicates + quarantined + deferred.
    "ingest_ledger": """
        org_id VARCHAR, run_id VARCHAR, batch_id VARCHAR, source VARCHAR, mailbox VARCHAR,
        seen BIGINT, archived BIGINT, duplicates BIGINT, quarantined BIGINT, deferred BIGINT,
        reasons VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ
    """,
    # Metered figures over time (written by the metering flow).
    "usage": """
        org_id VARCHAR, measured_at TIMESTAMPTZ, storage_bytes BIGINT, storage_quota_bytes BIGINT,
        users BIGINT, mailboxes BIGINT, messages BIGINT, copies BIGINT, raw_bytes BIGINT
    """,
    # Folder changes on mirrored servers applied to mailbox_items: a moved item (kind "move") or
    # a renamed folder (kind "rename", item_id NULL, `items` = how many items it carried).
    "item_moves": """
        org_id VARCHAR, move_id VARCHAR, mailbox_id VARCHAR, item_id VARCHAR, kind VARCHAR,
        from_folder VARCHAR, to_folder VARCHAR, items BIGINT, source VARCHAR, source_position VARCHAR,
        run_id VARCHAR, moved_at TIMESTAMPTZ
    """,
}
