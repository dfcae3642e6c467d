#!/usr/bin/env python3
"""CDK entry point: ``cdk synth`` (cdk.json runs ``python3 app.py``) or ``python app.py`` alone.

The template never carries the secret code, nor its hash: after the first deploy, set it with
``g3n ops init-secret`` (see README.md, "Deploy").
"""

from infra.stack import build_app

if __name__ == "__main__":
    app, _stack = build_app()  # also adds Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    app.synth()
