"""The infra tests need no running stack and share no fixture: each module synthesises what it
checks once (module-scoped fixtures: test_stack.py's ``cdk_stack``/``template``, the CDK app;
test_operator_policies.py's ``template``, the same app as the local stack's IAM reads it)."""
