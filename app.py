#!/usr/bin/env python3
"""CDK entry point: ``cdk synth`` (cdk.json runs ``python3 app.py``) or ``python app.py`` alone.

Set ``G3N_OPS_SECRET_CODE`` when deploying a new stack: the template then carries the scrypt hash
of that code (never the code) and writes it only if no secret exists yet.
"""

from infra.stack import build_app

if __name__ == "__main__":
    app, _stack = build_app()  # also adds Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    app.synth()
