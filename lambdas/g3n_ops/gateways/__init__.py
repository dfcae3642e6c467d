"""The AWS services the domain uses besides the OPS table, each behind a small gateway: the domain
calls these, never boto3. (The purge engine, the data plane, calls the services it empties itself.)

- ``executions``  Step Functions: start, stop, describe, read the latest history events
- ``audit_log``   CloudWatch Logs: the maintenance audit log group
- ``tables``      DynamoDB table descriptions (item counts for ``stat``)
"""
