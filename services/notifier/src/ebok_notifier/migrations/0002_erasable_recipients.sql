-- GDPR art. 17: once an account is erased its delivery log keeps what was sent and when, not
-- to which address (recipient NULL; the context and Message-ID that could name it go too).
ALTER TABLE deliveries ALTER COLUMN recipient DROP NOT NULL;
