"""One Logger, Tracer and Metrics for every OPS function (Powertools).

Service and namespace are explicit so they hold wherever the module is first imported
(the stack also sets POWERTOOLS_* variables, from the same names in settings.py).
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

from g3n_ops.contract.metrics import NAMESPACE as METRICS_NAMESPACE
from g3n_ops.contract.metrics import SERVICE

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)
