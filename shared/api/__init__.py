"""The API people act through (functions/api): authentication, authorization, audit, endpoints.

- `server.handle` takes one HTTP request and answers it: the caller's ID token is verified
  (shared/adapters/idtoken.py), every call is authorized against the RBAC policy in force
  (shared/core/rbac.py) and audited (audit/ in Firestore), then `/api/...` paths go to the
  endpoints (`endpoints`), every other path to the web pages (shared.ui.routes, when present).
- `viewer.Viewer` is the caller as the pages see it: principal, groups, and `can`.
- The endpoints call the operations of shared/steps/operations: the one implementation of
  what a person can do (the CLI reaches them through this API).
"""
