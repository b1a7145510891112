-- The console's status lists the newest top-ups completed by recovery at
-- start-up. They are rare, but without an index finding them read every
-- top-up the kiosk ever made: on a five-year ledger, hundreds of thousands
-- at each status. Partial, so it holds only the recovered ones.
CREATE INDEX topups_recovered ON topups (completed_at, receipt_no) WHERE recovered = 1;
