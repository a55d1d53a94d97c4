-- Phone numbers: no global uniqueness (it let one organization squat a number and told
-- others who held it); a number is unique within an organization and carries when its
-- carrier account confirmed holding it. Inbound calls route to the most recently verified
-- registration of a number (see README "Phone carriers").

ALTER TABLE phone_numbers DROP CONSTRAINT phone_numbers_number_key;
ALTER TABLE phone_numbers ADD CONSTRAINT phone_numbers_org_number_key UNIQUE (organization_id, number);
ALTER TABLE phone_numbers ADD COLUMN verified_at timestamptz;
CREATE INDEX phone_numbers_number_idx ON phone_numbers (number);
