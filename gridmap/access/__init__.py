"""Who may see and change what: roles, masking of personal data, audit rules."""
