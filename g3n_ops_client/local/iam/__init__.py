"""IAM on the embedded local stack: each function acts as its deployed role, each documented
operator identity as its documented policy (``enforce.py`` says how)."""
