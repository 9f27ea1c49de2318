-- Operator roles, least privilege (issue #13): customer_service, billing, content, admin.
-- Until now every operator held "operator" (which reached every operator route: cases, but
-- also tariffs, rates and feed batches) and admins held "admin" as well (operators, new
-- terms). Mapping: "operator" → customer_service (the duties the terms give customer service);
-- "admin" → admin and content (publishing terms was admin-only). Nobody gets billing by
-- migration: an admin gives it to whoever runs the back office. Unknown roles are dropped.
UPDATE operators SET roles = ARRAY(
    SELECT DISTINCT new_role
    FROM unnest(roles) AS old_role,
         unnest(CASE old_role
                    WHEN 'operator' THEN ARRAY['customer_service']
                    WHEN 'admin' THEN ARRAY['admin', 'content']
                    WHEN 'customer_service' THEN ARRAY['customer_service']
                    WHEN 'billing' THEN ARRAY['billing']
                    WHEN 'content' THEN ARRAY['content']
                    ELSE ARRAY[]::text[]
                END) AS new_role
    ORDER BY new_role
);

ALTER TABLE operators
    ADD CONSTRAINT operators_known_roles
        CHECK (roles <@ ARRAY['customer_service', 'billing', 'content', 'admin']::text[]),
    ADD COLUMN roles_changed_at timestamptz,
    ADD COLUMN roles_changed_by text,
    ADD COLUMN deactivated_at timestamptz,
    ADD COLUMN deactivated_by text,
    ADD COLUMN totp_reset_at timestamptz;
