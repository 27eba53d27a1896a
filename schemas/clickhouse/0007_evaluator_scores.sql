-- Evaluator scores and the harmful-output, harmful-request, over-refusal and jailbreak-success
-- (a harmful output to a jailbreak attempt) signals.
-- over_refusal is NULL in interactions when the input or the output text is missing.
ALTER TABLE {db}.interactions
    ADD COLUMN IF NOT EXISTS harmful_output        Bool DEFAULT false AFTER error,
    ADD COLUMN IF NOT EXISTS harmful_request       Bool DEFAULT false AFTER harmful_output,
    ADD COLUMN IF NOT EXISTS over_refusal          Nullable(Bool) AFTER harmful_request,
    ADD COLUMN IF NOT EXISTS jailbreak_success     Bool DEFAULT false AFTER over_refusal,
    ADD COLUMN IF NOT EXISTS refusal_score         Float32 DEFAULT 0 AFTER over_refusal,
    ADD COLUMN IF NOT EXISTS jailbreak_score       Float32 DEFAULT 0 AFTER refusal_score,
    ADD COLUMN IF NOT EXISTS harmful_request_score Float32 DEFAULT 0 AFTER jailbreak_score,
    ADD COLUMN IF NOT EXISTS harmful_output_score  Float32 DEFAULT 0 AFTER harmful_request_score,
    ADD COLUMN IF NOT EXISTS pii_input_kinds       Array(LowCardinality(String)) AFTER pii_kinds,
    ADD COLUMN IF NOT EXISTS pii_output_kinds      Array(LowCardinality(String)) AFTER pii_input_kinds,
    ADD COLUMN IF NOT EXISTS truncated             Bool DEFAULT false;

ALTER TABLE {db}.segment_windows
    ADD COLUMN IF NOT EXISTS harmful_output        UInt64 DEFAULT 0 AFTER error,
    ADD COLUMN IF NOT EXISTS harmful_request       UInt64 DEFAULT 0 AFTER harmful_output,
    ADD COLUMN IF NOT EXISTS over_refusal          UInt64 DEFAULT 0 AFTER harmful_request,
    ADD COLUMN IF NOT EXISTS jailbreak_success     UInt64 DEFAULT 0 AFTER over_refusal;
