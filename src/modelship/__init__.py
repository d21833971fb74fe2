"""modelship: take a model from a push to production and back.

Module map (one job each):
    cli          argparse sub-commands; turns Outcomes and errors into output and exit codes
    config       modelship.yaml: typed access with defaults, errors naming file/key/line
    errors       exception types -> exit codes (0 ok, 1 rejected, 2 usage, 3 infrastructure)
    outcome      what a command hands back: result JSON, exit code, text, summary, outputs
    console      progress lines on stderr, plain-text tables, secret redaction
    ghactions    the only GitHub-aware module: outputs, summary, annotations, masking, event
    markdown     job-summary tables and Mermaid charts
    credentials  registry credentials from the environment, masked
    records      JSONL and CSV lines with their line numbers (gate results, eval sets)
    serving/     the serve contract: eval rows -> requests -> predictions or classified failures
                 (online gate, smoke test, release probes)
    doctor       `modelship doctor`: Docker, registry, cluster, helm, kubectl
    gate/        `modelship gate`: readers -> metrics -> intervals -> judge -> report; online
    image/       `modelship build`: accelerators, dockerfile, context, builder, tags, gitinfo,
                 smoke
    imageref     image references (registry, repository, tag, digest), parsed once
    registry     the registry API: tag -> digest, manifests and blobs, with auth
    release/     the release engine: session (the sequence every verb runs), one module per
                 verb, strategy, plan, runner, state, drain; analysis/ judges each step
    notify/      release notifications: `notify:` -> Slack, Teams or a JSON webhook, one
                 message per release event; URLs masked, failures warnings
    action       the GitHub Action's runtime: inputs -> arguments, kubeconfig file, masking
    workflows/   `modelship init`: options, pins, render workflow-templates/ with Jinja2
"""

__version__ = "0.1.0"
