-- Issue 15 item 4: an exception may say why the vulnerability does not apply in OpenVEX's terms, so that the
-- exceptions exported as an OpenVEX document (GET /v1/exceptions/export?format=openvex) carry a justification, and
-- those imported from one (POST /v1/vex) keep theirs.
ALTER TABLE policy_exceptions ADD COLUMN justification text
  CONSTRAINT policy_exceptions_justification_check CHECK (justification IN (
    'component_not_present',
    'vulnerable_code_not_present',
    'vulnerable_code_not_in_execute_path',
    'vulnerable_code_cannot_be_controlled_by_adversary',
    'inline_mitigations_already_exist'));
COMMENT ON COLUMN policy_exceptions.justification IS 'OpenVEX justification of the accepted risk (component_not_present, vulnerable_code_not_present, vulnerable_code_not_in_execute_path, vulnerable_code_cannot_be_controlled_by_adversary, inline_mitigations_already_exist); NULL = none given (the reason alone explains it).';
