"""SSM parameter names the stack writes under ``/g3nretailstack/ops/`` so clients find OPS."""

PREFIX = "/g3nretailstack/ops"

STAGE = f"{PREFIX}/stage"
API_URL = f"{PREFIX}/api-url"
TABLE_NAME = f"{PREFIX}/table-name"
REGISTRY = f"{PREFIX}/registry"
LOCAL_SERVICES_URL = f"{PREFIX}/local/services-url"
EVENTS_TOPIC_ARN = f"{PREFIX}/events-topic-arn"  # subscribe here for every lifecycle event


def function_parameter(key: str) -> str:
    return f"{PREFIX}/functions/{key}"


def state_machine_parameter(key: str) -> str:
    return f"{PREFIX}/state-machines/{key}"
