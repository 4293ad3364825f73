-- Issue 17 item 9: an ADMIN_TOKEN starting with sr_ had its first 8 characters stored as token_prefix (readable in
-- GET /v1/tokens and by scan_analyst). The token the operator chose is now stored with the marker '(admin)' only;
-- the rows stored before get it too.
UPDATE api_tokens SET token_prefix = '(admin)' WHERE name = 'admin (ADMIN_TOKEN)' AND token_prefix <> '(admin)';
COMMENT ON COLUMN api_tokens.token_prefix IS 'First characters of a generated token (sr_ and 5 more), to recognise it in lists; ''(admin)'' for the token set by ADMIN_TOKEN, of which nothing is stored.';
