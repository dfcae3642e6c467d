"""The local stack's defaults, apart from the stack itself: the CLI shows them in its help
without loading moto and the functions."""

DEFAULT_PORT = 4566
DEFAULT_PENDING_SECONDS = 10  # the deployed default is 300 s; locally a short window keeps playbooks quick
# The stand-ins' guard TTL, as deployed (tests start the stack with a shorter one), and the slack
# on top of it within which every stand-in must answer 503 after a window starts.
DEFAULT_GUARD_TTL_SECONDS = 20
DEFAULT_PROBE_MARGIN_SECONDS = 10
LOCAL_STAGE = "local"
LOCAL_ACCOUNT = "123456789012"
LOCAL_REGION = "us-east-1"
