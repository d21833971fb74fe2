"""`modelship init`: write the GitHub workflows (CI, CD, release, rollback, the reusable
pipeline, optionally versioning) and a starter modelship.yaml into a repository.

Values come from flags, else from prompts (unless --yes), else from what the repository
already says (modelship.yaml, the git remote, requirement files). Existing workflow files are
never overwritten without --force, and an existing modelship.yaml is always kept.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from modelship import console, imageref, markdown
from modelship.config import Config
from modelship.errors import EXIT_OK, UsageError
from modelship.image import accelerators, gitinfo
from modelship.outcome import Outcome
from modelship.workflows import options as opts
from modelship.workflows import pins, render

HELP = "write GitHub workflows (CI, CD, release, rollback) and a starter modelship.yaml"
WORKFLOWS_DIR = Path(".github") / "workflows"
ACTIONLINT_CONFIG = Path(".github") / "actionlint.yaml"
DEFAULT_GPU_LABELS = "self-hosted,linux,gpu"
T = TypeVar("T")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", "-y", action="store_true",
                        help="take the defaults for everything not given as a flag; never prompt")
    parser.add_argument("--dir", default=".", metavar="D",
                        help="the repository to write into (default: the current directory)")
    parser.add_argument("--registry", metavar="R", help="registry host (default: ghcr.io)")
    parser.add_argument("--image", metavar="NAME",
                        help="image path in the registry (default: OWNER/MODEL)")
    parser.add_argument("--strategy", choices=opts.STRATEGIES,
                        help="release strategy (default: canary)")
    parser.add_argument("--cluster-auth", choices=opts.CLUSTER_AUTH,
                        help="how deploy jobs reach the cluster: a KUBECONFIG secret, or OIDC "
                             "to EKS, GKE or AKS (default: kubeconfig)")
    parser.add_argument("--gpu-runner", metavar="LABELS",
                        help="comma-separated runner labels for the GPU build and smoke test "
                             f"(default: {DEFAULT_GPU_LABELS} when the model needs a GPU, "
                             "else a hosted runner)")
    parser.add_argument("--versioning", action="store_true",
                        help="tag the next semantic version with a changelog entry after "
                             "each production release")
    parser.add_argument("--action", metavar="REF",
                        help="the modelship action the workflows use, pinned: OWNER/REPO@SHA, "
                             "./PATH or docker://IMAGE@sha256:... (default: this release)")
    parser.add_argument("--sign", choices=opts.SIGNING,
                        help="sign each built image and attest its gate report with cosign: "
                             "key (secrets COSIGN_PRIVATE_KEY, COSIGN_PASSWORD; cosign.pub "
                             "committed) or keyless (the workflow's OIDC identity); deploys "
                             "then verify it (default: none)")
    parser.add_argument("--notify-secret", action="append", default=[], metavar="NAME",
                        help="a secret holding a webhook URL for release notifications, passed "
                             "to the deploy and rollback steps' env: (repeatable; default: "
                             "every notify[].url_env of an existing modelship.yaml)")
    parser.add_argument("--force", action="store_true",
                        help="overwrite existing workflow files")


@dataclass
class _Prompter:
    """Asks on stderr, reads stdin; an empty answer (or end of input) takes the default."""

    enabled: bool
    tries: int = 3

    def ask(self, question: str, default: str, parse: Callable[[str], T]) -> T:
        if not self.enabled:
            return parse(default)
        for _ in range(self.tries):
            print(f"{question} [{default}]: ", end="", file=sys.stderr, flush=True)
            line = sys.stdin.readline()
            answer = line.strip() or default
            try:
                return parse(answer)
            except UsageError as e:
                console.info(f"  {e.message}")
                if not line:  # end of input: asking again cannot help
                    raise
        msg = f"{question}: no valid answer after {self.tries} tries"
        raise UsageError(msg)


def _existing_config(root: Path) -> dict[str, Any]:
    path = root / "modelship.yaml"
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        msg = f"{path}: cannot read it for defaults: {e}"
        raise UsageError(msg) from e
    return data if isinstance(data, dict) else {}


def _section(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    return value if isinstance(value, dict) else {}


def _notify_secrets(existing: dict[str, Any], flags: list[str]) -> tuple[str, ...]:
    """--notify-secret names, else the variables an existing modelship.yaml's `notify:`
    reads its webhook URLs from (each entry's url_env, or its kind's default)."""
    from modelship.notify.settings import DEFAULT_URL_ENV, ENV_NAME

    if flags:
        return opts.secret_names(flags)
    entries = existing.get("notify")
    names = [str(e.get("url_env") or DEFAULT_URL_ENV.get(str(e.get("kind")), ""))
             for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []
    # a bad url_env is deploy's to refuse (exit 2 naming the key), not init's
    valid = [n for n in names if ENV_NAME.match(n) and not n.upper().startswith("GITHUB_")]
    return opts.secret_names(valid[:opts.MAX_SECRETS])


def _github_owner(root: Path) -> str | None:
    url = gitinfo.git(root, "remote", "get-url", "origin") or ""
    match = re.search(r"github\.com[:/]([^/]+)/", url)
    return match.group(1).lower() if match else None


def _github_repository(root: Path) -> str | None:
    """OWNER/REPO of a github.com origin remote (for the keyless signing identity)."""
    url = gitinfo.git(root, "remote", "get-url", "origin") or ""
    match = re.search(r"github\.com[:/]([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$", url)
    return f"{match.group(1)}/{match.group(2)}" if match else None


def _default_branch(root: Path) -> str:
    head = gitinfo.git(root, "symbolic-ref", "--short", "refs/remotes/origin/HEAD")
    if head and "/" in head:
        return opts.branch(head.split("/", 1)[1])
    return "main"


def _needs_gpu(root: Path, image_section: dict[str, Any]) -> bool:
    kind = str(image_section.get("accelerator") or "auto")
    if kind != "auto":
        return kind == "nvidia"
    text = ""
    for name in ("requirements.txt", "pyproject.toml"):
        path = root / name
        if path.is_file():
            text += path.read_text(encoding="utf-8", errors="replace") + "\n"
    return accelerators.detect(text)[0] is not None


def gather(args: argparse.Namespace, root: Path) -> tuple[opts.Options, list[str]]:
    """The options to render with, and notes about how defaults were chosen."""
    notes: list[str] = []
    ask = _Prompter(enabled=not args.yes)
    existing = _existing_config(root)
    image_section = _section(existing, "image")
    model = opts.model_name(str(_section(existing, "model").get("name") or root.resolve().name))

    known_registry, known_image = imageref.split_registry(
        str(image_section.get("repository") or ""))
    if args.registry is not None:
        registry = opts.registry(args.registry)
    else:
        registry = ask.ask("registry host", known_registry or opts.DEFAULT_REGISTRY, opts.registry)
    if args.image is not None:
        image = opts.image(args.image, registry)
    else:
        owner = _github_owner(root)
        default_image = known_image or (f"{owner}/{model}" if owner else model)
        image = ask.ask("image name in the registry", default_image,
                        lambda v: opts.image(v, registry))
    strategy = args.strategy or ask.ask(
        f"release strategy ({', '.join(opts.STRATEGIES)})",
        str(_section(existing, "deploy").get("strategy") or "canary"),
        lambda v: opts.choice(v, opts.STRATEGIES, "--strategy"))
    cluster_auth = args.cluster_auth or ask.ask(
        f"cluster credentials ({', '.join(opts.CLUSTER_AUTH)})", "kubeconfig",
        lambda v: opts.choice(v, opts.CLUSTER_AUTH, "--cluster-auth"))
    if args.gpu_runner is not None:
        gpu = opts.runner_labels(args.gpu_runner)
    else:
        needs_gpu = _needs_gpu(root, image_section)
        default = DEFAULT_GPU_LABELS if needs_gpu else "none"
        gpu = ask.ask("GPU runner labels for the build and smoke test (or none)", default,
                      lambda v: () if v.strip().lower() == "none" else opts.runner_labels(v))
        if gpu and needs_gpu and args.yes:
            notes.append(f"the model needs a GPU: its build and smoke test run on {','.join(gpu)}")
    action = pins.parse_action(args.action) if args.action else pins.default_action()
    return opts.Options(registry=registry, image=image, model_name=model, strategy=strategy,
                        cluster_auth=cluster_auth, gpu_runner=gpu, action=action,
                        default_branch=_default_branch(root),
                        versioning=bool(args.versioning), sign=args.sign or "none",
                        github_repository=_github_repository(root),
                        notify_secrets=_notify_secrets(existing, args.notify_secret)), notes


def next_steps(o: opts.Options, written: list[str]) -> list[str]:
    steps = [f"review and commit {', '.join(written)}"]
    if o.registry == "ghcr.io":
        steps.append("registry: nothing to store; jobs push to ghcr.io with their GITHUB_TOKEN "
                     "(if the package exists already, give this repository write access to it)")
    else:
        steps.append(f"repository secrets REGISTRY_USERNAME and REGISTRY_PASSWORD for {o.registry}")
    steps.append("environments (Settings > Environments): `staging`, and `production` with "
                 "required reviewers: that is the approval before production")
    # Otherwise any branch, or a pushed look-alike tag, could run a job in `production`.
    steps.append(f"`production` environment > deployment branches and tags: allow only "
                 f"`{o.default_branch}`, `v*` and `rollback-v*`; and protect the tags `v*` and "
                 "`rollback-v*` with a tag ruleset (Settings > Rules) so only maintainers can "
                 "push them")
    cluster = {
        "kubeconfig": "a KUBECONFIG secret in each environment holding that cluster's "
                      "kubeconfig file (use a service account token, not your own login)",
        "eks": "variables AWS_ROLE_ARN, AWS_REGION, EKS_CLUSTER (per environment), and an IAM "
               "role that trusts GitHub's OIDC provider for this repository and is mapped to "
               "a Kubernetes user in the cluster",
        "gke": "variables GCP_WORKLOAD_IDENTITY_PROVIDER, GCP_SERVICE_ACCOUNT, GKE_CLUSTER, "
               "GKE_LOCATION (per environment); the service account needs "
               "roles/container.developer",
        "aks": "variables AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_SUBSCRIPTION_ID, "
               "AKS_RESOURCE_GROUP, AKS_CLUSTER (per environment), and a federated credential "
               "for this repository on that identity",
    }[o.cluster_auth]
    steps.append(f"cluster: {cluster}")
    if o.gpu_runner:
        steps.append(f"a self-hosted runner with an NVIDIA GPU and the labels "
                     f"{', '.join(o.gpu_runner)} (build and smoke test run there)")
    steps.append("deploy.analysis.prometheus in modelship.yaml: the Prometheus that scrapes "
                 "the model's pods")
    if o.sign == "key":
        steps.append("signing: `cosign generate-key-pair`, commit cosign.pub next to "
                     "modelship.yaml, store cosign.key and its password as secrets "
                     "COSIGN_PRIVATE_KEY and COSIGN_PASSWORD")
    elif o.sign == "keyless":
        steps.append("signing: nothing to store (the build job's OIDC identity signs); check "
                     "deploy.verify.identity in modelship.yaml names this repository")
    if o.notify_secrets:
        steps.append(f"notifications: secrets {', '.join(o.notify_secrets)} holding the "
                     "webhook URLs (per environment or for the repository)")
    steps.append("try it locally first: act pull_request -W .github/workflows/modelship-ci.yml")
    return steps


def _actionlint_config(labels: tuple[str, ...]) -> str:
    custom = [label for label in labels if label not in ("self-hosted", "linux", "x64", "arm64")]
    return ("# Runner labels of this repository's self-hosted runners, so actionlint knows them.\n"
            + yaml.safe_dump({"self-hosted-runner": {"labels": custom}}, sort_keys=False))


def _shown(path: Path, root: Path) -> str:
    """A written file as the user will `git add` it: relative to the repository."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def run(args: argparse.Namespace, config: Config) -> Outcome:
    root = Path(args.dir)
    if not root.is_dir():
        msg = f"--dir: '{args.dir}' is not a directory; expected the repository to write into"
        raise UsageError(msg)
    options, notes = gather(args, root)
    files = render.render(options)

    planned: dict[Path, str] = {}
    for name, text in files.items():
        target = root / name if name == "modelship.yaml" else root / WORKFLOWS_DIR / name
        planned[target] = text
    if options.gpu_runner:
        planned[root / ACTIONLINT_CONFIG] = _actionlint_config(options.gpu_runner)
    keep_if_present = {root / "modelship.yaml", root / ACTIONLINT_CONFIG}
    conflicts = [p for p in planned if p.exists() and p not in keep_if_present]
    if conflicts and not args.force:
        names = ", ".join(str(p) for p in conflicts)
        msg = f"{names} already exist{'s' if len(conflicts) == 1 else ''}; not overwriting"
        raise UsageError(msg, hint="pass --force to overwrite them")

    written: list[str] = []
    kept: list[str] = []
    for path, text in planned.items():
        if path in keep_if_present and path.exists():
            kept.append(str(path))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as e:
            msg = f"cannot write {path}: {e.strerror or e}"
            raise UsageError(msg) from e
        written.append(str(path))
        console.info(f"wrote {path}")
    for name in kept:
        console.info(f"kept {name} (already there)")
    steps = next_steps(options, [_shown(Path(name), root) for name in written])
    result = {
        "written": written,
        "kept": kept,
        "options": {"registry": options.registry, "image": options.image,
                    "repository": options.repository, "strategy": options.strategy,
                    "cluster_auth": options.cluster_auth, "gpu_runner": list(options.gpu_runner),
                    "action": options.action.uses, "default_branch": options.default_branch,
                    "versioning": options.versioning,
                    "notify_secrets": list(options.notify_secrets)},
        "notes": notes,
        "next_steps": steps,
    }
    text = "\n".join([*(f"note: {n}" for n in notes), "next steps:",
                      *(f"  {i}. {s}" for i, s in enumerate(steps, 1))])
    summary = "### modelship init\n\n" + "".join(f"1. {markdown.escape(s)}\n" for s in steps)
    return Outcome(result, exit_code=EXIT_OK, text=text, summary=summary)


__all__ = ["HELP", "add_arguments", "gather", "next_steps", "run"]
