"""The central server: ingest, the school's records, the policy engine, commands, audit log."""
