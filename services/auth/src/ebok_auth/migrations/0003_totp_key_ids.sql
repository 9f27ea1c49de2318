-- TOTP keys encrypted at rest (ebok_auth.totp_vault): beside each ciphertext, the id of the
-- EBOK_TOTP_KEYS key that sealed it. NULL: a key stored in clear before this migration; auth
-- seals those (and re-seals any under an older key) with the first key at every start-up.
ALTER TABLE accounts ADD COLUMN totp_key_id text, ADD COLUMN totp_pending_key_id text;
ALTER TABLE operators ADD COLUMN totp_key_id text;
