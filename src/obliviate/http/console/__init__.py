"""The console at ``/console``: a tenant admin's pages for access and deletion requests."""
