"""gunicorn settings every web process uses (Procfile, Procfile.dev, Dockerfile, compose.yaml:
`gunicorn -c config/gunicorn.conf.py …`). Bind address, workers and threads stay on each
command line; what is here is the same everywhere. docs/operations.md "Security".
"""

# Access log on stdout, without query strings: `%(U)s` is the path alone where the default
# format's `%(r)s` is the whole request line, and the Referer (a URL too) is left out. A
# credential or a search term in a URL therefore never reaches the log.
accesslog = "-"
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(a)s" %(M)sms'

# gunicorn answers longer request lines with its own HTML 414. Django refuses anything over
# REQUEST_URI_MAX_LENGTH (4096) first, with problem JSON (config/middleware.py); keep this
# limit above that one.
limit_request_line = 8190

# Graceful shutdown (docs/operations.md "Stopping and crashes"): on SIGTERM the master stops
# accepting, each worker finishes the requests it holds — a submit batch commits or rolls back
# as a whole — and exits; after this many seconds the rest are killed (their transactions roll
# back and the client's retry with the same Idempotency-Key is answered as new or replayed).
graceful_timeout = 30
# A worker silent this long is killed and replaced (a stuck request, not a slow batch).
timeout = 60
