"""Canary analysis: providers (Prometheus, probes) -> evidence -> sequential judge -> verdict.

The release runner sees only `base.Analysis`: after a step's traffic is in place it calls
`assess(step)` and acts on the returned `StepVerdict`. Its three calls:

    from modelship.release.analysis import factory, summary
    analysis = factory.from_settings(release_settings, cfg)   # once per release
    verdict = analysis.assess(step_context, console.info)     # each step
    verdict = factory.bake(analysis, step_context, console.info)  # after 100%, if
                                                              # factory.bake_seconds(analysis)
    markdown = summary.render(result_steps)                   # job summary section

Modules: settings (deploy.analysis -> frozen settings), counts (per-track counts, histogram
buckets), prometheus (HTTP API provider), probe (eval rows through modelship.serving), judge
(pure e-processes), llm (time to first token, tokens/s: checks on the probes' streamed
answers), decide (pure verdict policy), canary (the loop), factory, summary,
preflight (before a deploy: can the probes read a prediction from the version serving now).
"""
