-- When the acceptor took the STACK command for a bill. A bill still escrowed
-- with this set, that the device reports nowhere at power-up, finished
-- stacking before the kiosk heard of it: it is in the cassette.
ALTER TABLE bills ADD COLUMN stack_at TEXT;
