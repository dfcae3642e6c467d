#!/usr/bin/env python3
"""CDK entry point: the CDK CLI runs it (cdk.json: ``.venv/bin/python app.py``, the project's venv
whether or not it is active), or ``make synth`` / ``.venv/bin/python app.py`` alone.

Run by the CLI, it writes where the CLI says (``CDK_OUTDIR``); run alone, to ``cdk.out/`` in the
current directory, as the CLI would (without an outdir, CDK writes to a temporary folder and
deletes it on exit).

The template never carries the secret code, nor its hash: after the first deploy, set it with
``g3n ops init-secret`` (see README.md, "Deploying to AWS").
"""

import os

from infra.stack import build_app

if __name__ == "__main__":
    outdir = os.environ.get("CDK_OUTDIR") or os.path.abspath("cdk.out")
    app, _stack = build_app(outdir=outdir)  # also adds Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    app.synth()
