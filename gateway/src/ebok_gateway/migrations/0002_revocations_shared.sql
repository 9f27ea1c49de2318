-- Revocations moved to the tables every component shares (ebok_shared.revocation,
-- shared migration 0003): their rows go there, the gateway's own tables go.
INSERT INTO revoked_token_subjects (subject, revoked_before, reason)
    SELECT subject, revoked_before, reason FROM revoked_subjects
    ON CONFLICT (subject) DO NOTHING;
INSERT INTO revoked_token_sessions (session_id, expires_at)
    SELECT session_id, expires_at FROM revoked_sessions
    ON CONFLICT (session_id) DO NOTHING;
DROP TABLE revoked_subjects;
DROP TABLE revoked_sessions;
