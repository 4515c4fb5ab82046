"""The console: passgate in a browser, with accounts, roles, sessions and the audit log."""
