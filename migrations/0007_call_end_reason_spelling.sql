-- One spelling for "canceled" (as the call status already has it): end reasons written as
-- "cancelled" by earlier versions are renamed.
UPDATE calls SET end_reason = 'canceled' WHERE end_reason = 'cancelled';
