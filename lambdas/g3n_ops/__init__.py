"""g3n OPS: everything that runs inside Lambda (asset root is ``lambdas/``)."""
