-- Evidence requested by an operator is shown to the customer on the case (the operator's
-- note says what is needed), and the customer may add files to an open case afterwards:
-- such an attachment records when it was added (NULL: it came with the document).
ALTER TABLE cases ADD COLUMN evidence_note text;
ALTER TABLE attachments ADD COLUMN added_at timestamptz;
