-- Access tokens revoked before they expire, the same tables in every service and the gateway
-- (ebok_shared.revocation): each fills them from auth's events and refuses those tokens.

-- Tokens of a subject ("customer:100001") issued up to revoked_before are refused (a block,
-- an erasure, a contract-end block).
CREATE TABLE revoked_token_subjects (
    subject         text PRIMARY KEY,
    revoked_before  timestamptz NOT NULL,
    reason          text NOT NULL
);

-- Single sessions ended early (logout, password change, refresh-token reuse); kept until
-- their last access token has expired.
CREATE TABLE revoked_token_sessions (
    session_id  text PRIMARY KEY,
    expires_at  timestamptz NOT NULL
);
