"""Canary analysis: providers (Prometheus, probes) -> evidence -> sequential judge -> verdict.

The release runner sees only `base.Analysis`: after a step's traffic is in place it calls
`assess(step)` and acts on the returned `StepVerdict`.
"""
