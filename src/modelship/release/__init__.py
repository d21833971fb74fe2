"""The release engine: deploy, promote, abort, rollback and status on Helm (DESIGN.md, "Releases").

Pure plans (plan.py, values.py) executed by one runner; helm.py is the only module that runs
helm; the chart is the only source of manifests; analysis/ judges each step.
"""
