"""A probe function for the local host's tests: what an execution environment is, seen from inside."""

import json
import os
import time

STARTED = time.time()  # module state: once per execution environment
SERVED = []


def handler(event, context):
    if "body" in event:  # through the HTTP API: the action is in the body
        event = json.loads(event["body"])
    action = event.get("action", "echo")
    if action == "crash":
        os._exit(3)  # the process dies mid-request
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "raise":
        raise ValueError("the handler failed")
    if action == "init_env":
        return {"value": os.environ.get(event["name"])}
    SERVED.append(event.get("tag"))
    return {"pid": os.getpid(), "tag": event.get("tag"), "served": list(SERVED), "started": STARTED,
            "remaining_ms": context.get_remaining_time_in_millis(), "request_id": context.aws_request_id}
