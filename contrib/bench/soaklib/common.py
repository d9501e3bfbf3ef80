"""Tunables of the soak, what became of a message id, and the Failure
exception: shared by the soak modules and the entry point."""

MESSAGE_SIZE = 65536           # limits.message_size of the daemon
CLIENT_TIMEOUT = 60.0          # per socket operation; ASan builds are slow
IDLE_TIMEOUT = 60.0            # for the daemon to become idle
ZOMBIE_WAIT = 5.0              # for a dead worker to be reaped
IDLE_SETTLE = 1.5              # idle this long before measuring
DEFAULT_WORKER_SESSIONS = 32   # workers.sessions when not written (-w)
RSS_BOUND_KIB = 1024           # master RSS growth allowed, at least ...
RSS_BOUND_FRACTION = 0.125     # ... or this fraction of the RSS before
REJECT_DOMAIN = "reject.soak.example"
INLINE_USER = ("alice", "wonderland")
FILE_USER = ("bob", "looking-glass")

# What became of a message id, as the client saw it.
ACKED = "acked"          # 250 after its content: must be stored once
MAYBE = "maybe"          # final dot (or BDAT LAST) sent, reply never read
REFUSED = "refused"      # a 4xx/5xx reply: must not be stored
ABORTED = "aborted"      # content not finished: must not be stored
RESET = "reset"          # RSET during BDAT: must not be stored
NOT_STORED = (REFUSED, ABORTED, RESET)


class Failure(Exception):
    """An unexpected reply or event in a client session."""
