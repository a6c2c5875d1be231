"""Directory sources (LDAP / Active Directory, Microsoft 365): they read people and groups into
`records`, and control.directory applies those to the control plane."""
