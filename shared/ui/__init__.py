"""The web UI, served by the API function: pages rendered on the server from typed views.

`routes` answers a page request (`handle`), `views` builds what each page shows (pure, table
tested), `reads` reads the store, the cluster and the diff step, `templates/` lays the views
out (Jinja2, autoescaped) and `static/` holds the stylesheet and the few lines of script
(buttons that call the REST API, the status polled while a sync runs). No build step.
"""
