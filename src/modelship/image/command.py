"""`modelship build`: build the model's image (the project's Dockerfile, or a generated one),
smoke-test it, push it, and report image, digest and tags (DESIGN.md, "Build contract")."""

from __future__ import annotations

import argparse
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelship import console, credentials, ghactions, imageref, serving
from modelship.config import Config, suggest
from modelship.errors import UsageError
from modelship.image import (
    accelerators,
    buildargs,
    builder,
    context,
    dockerfile,
    gitinfo,
    report,
    repository,
    smoke,
    tags,
)
from modelship.outcome import Outcome
from modelship.provenance import signing, statements

HELP = "build the model's image (GPU-aware), smoke-test it and push it"
CA_ENV = ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")
GATE_REPORTS = ("gate-report.json", ".modelship/gate-report.json")
SMOKE_SAMPLES = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--push", action="store_true",
                        help="push the image and its tags to image.repository")
    parser.add_argument("--no-smoke", action="store_true", help="skip the smoke test")
    parser.add_argument("--repository", metavar="REPO",
                        help="where the image goes (overrides image.repository)")
    parser.add_argument("--tag", action="append", default=[], metavar="TAG",
                        help="an extra tag (repeatable), besides the generated ones")
    parser.add_argument("--gate-report", metavar="FILE",
                        help="gate report whose digest labels the image "
                             f"(default: {GATE_REPORTS[0]} next to the config, if present)")
    parser.add_argument("--smoke-timeout", type=float, metavar="SECONDS",
                        help="how long the smoke test waits for health (image.smoke.timeout, "
                             "default 60)")
    parser.add_argument("--no-cache", action="store_true",
                        help="build every step afresh (no layer cache, no --cache-from)")
    parser.add_argument("--print-dockerfile", action="store_true",
                        help="print the Dockerfile that would be used and stop (no build)")
    signing.add_arguments(parser)


# -- inputs ---------------------------------------------------------------------------------
def _profile(cfg: Config, requirements: str) -> accelerators.Profile:
    settings = {
        "accelerator": cfg.get_str("image.accelerator", "auto"),
        "cuda": cfg.get_str("image.cuda", None) if cfg.has("image.cuda") else None,
        "gpu_products": cfg.get_list("image.gpu_products", []),
        "gpu_count": cfg.get_int("image.gpu_count", None) if cfg.has("image.gpu_count")
        else None,
    }
    try:
        return accelerators.resolve(settings, requirements)
    except accelerators.AcceleratorError as e:
        value = settings.get(e.key.split(".")[-1])
        bad = value if isinstance(value, str) else ""
        if isinstance(value, list):
            bad = next((str(v) for v in value if str(v).upper() not in
                        {c.upper() for c in e.choices}), "")
        raise cfg.error(e.key, str(e), hint=suggest(bad, e.choices) if bad else None) from e


def _requirements_text(ctx: context.Context) -> str:
    texts = []
    for name in ctx.top_level:
        if name not in ctx.directories and dockerfile.REQUIREMENT_FILE.match(name):
            try:
                texts.append((ctx.root / name).read_text(encoding="utf-8", errors="replace"))
            except OSError:
                continue
    return "\n".join(texts)


def _ca_bundle() -> bytes | None:
    for name in CA_ENV:
        path = os.environ.get(name)
        if path and Path(path).is_file():
            return Path(path).read_bytes()
    return None


def _gate_report(args: argparse.Namespace, cfg: Config,
                 attest: bool) -> statements.GateReport | None:
    """--gate-report FILE, else the first of GATE_REPORTS next to the config: its digest labels
    the image and, with --sign (`attest`), it is attested to the pushed digest, so it must
    then be a gate report."""
    if args.gate_report:
        return statements.read_gate_report(Path(args.gate_report), strict=attest)
    found = [cfg.root / name for name in GATE_REPORTS if (cfg.root / name).is_file()]
    return statements.read_gate_report(found[0], flag="gate report",
                                       strict=attest) if found else None


def smoke_samples(cfg: Config, serve: serving.ServeSpec) -> list[Any]:
    """Request bodies for the smoke test: image.smoke.request, else the first rows of the eval
    set made into the bodies `gate --endpoint` sends (serving.request_body)."""
    if cfg.has("image.smoke.request"):
        return [cfg.raw("image.smoke.request")]
    eval_set = cfg.get_path("gate.online.eval_set", "eval/eval.jsonl")
    if not eval_set.is_file():
        return []
    return [serving.request_body(serve, row)
            for row in serving.load_rows(eval_set, limit=SMOKE_SAMPLES)]


# -- the Dockerfile -------------------------------------------------------------------------
@dataclass(frozen=True)
class DockerfileChoice:
    path: str  # inside the build context
    extra_files: dict[str, bytes]  # added to the context: a generated Dockerfile, a CA bundle
    source: str  # "generated", or the project's file as shown


def _dockerfile(cfg: Config, ctx: context.Context, profile: accelerators.Profile,
                build_args: dict[str, str], ca: bytes | None) -> DockerfileChoice:
    configured = cfg.has("image.dockerfile")
    name = cfg.get_str("image.dockerfile", "Dockerfile")
    path = (ctx.root / name) if not Path(name).is_absolute() else Path(name)
    if path.is_file():
        try:
            inside = path.resolve().relative_to(ctx.root.resolve()).as_posix()
        except ValueError:  # outside the context: sent along with it
            inside = None
        if inside is None or inside not in ctx.files:  # or excluded by .dockerignore
            return DockerfileChoice(f"{context.EXTRA_DIR}/Dockerfile",
                                    {f"{context.EXTRA_DIR}/Dockerfile": path.read_bytes()},
                                    str(path))
        return DockerfileChoice(inside, {}, str(path))
    if configured:
        raise cfg.error("image.dockerfile", f"{path} does not exist",
                        hint="remove image.dockerfile to have modelship generate one")
    text = generate(cfg, ctx, profile, build_args, ca is not None)
    extra = {f"{context.EXTRA_DIR}/Dockerfile": text.encode()}
    if ca is not None and "modelship-ca.crt" in text:
        extra[dockerfile.CA_IN_CONTEXT] = ca
    return DockerfileChoice(f"{context.EXTRA_DIR}/Dockerfile", extra, "generated")


def _serve_command(cfg: Config) -> list[str]:
    """serve.command as the exec-form CMD: a list is taken as it is; a string is split the way
    a POSIX shell splits words (`python server.py --port 8080` -> three arguments, quotes
    group), without running a shell."""
    value = cfg.raw("serve.command")
    if isinstance(value, str):
        try:
            command = shlex.split(value)
        except ValueError as e:
            raise cfg.error("serve.command", f"cannot split '{value}' into arguments ({e})",
                            hint='give a list instead, e.g. ["python", "server.py"]') from None
    else:
        items = cfg.get_list("serve.command")
        if any(isinstance(c, dict | list) or c is None for c in items):
            raise cfg.error("serve.command", "expected a list of strings (or one string, "
                            "split into arguments)")
        command = [str(c) for c in items]
    if not command or not command[0].strip():
        raise cfg.error("serve.command", "is empty; expected the program and its arguments",
                        hint='e.g. ["python", "server.py"]')
    return command


def generate(cfg: Config, ctx: context.Context, profile: accelerators.Profile,
             build_args: dict[str, str], ca_bundle: bool) -> str:
    if not ctx.files:
        raise UsageError(f"no Dockerfile in {ctx.root} and nothing to build: the context is "
                         "empty (or all of it is in .dockerignore)",
                         hint="set image.context to the model project's directory")
    command = (_serve_command(cfg) if cfg.has("serve.command")
               else dockerfile.default_command(ctx.top_level))
    if not command:
        raise UsageError(
            f"no Dockerfile in {ctx.root} and no way to generate one: serve.command is not set "
            f"and the context has none of {', '.join(dockerfile.ENTRY_POINTS)}",
            hint="add a Dockerfile, or set serve.command in modelship.yaml "
                 '(e.g. ["python", "server.py"], or the string "python server.py")')
    weights = [str(w) for w in cfg.get_list("image.weights")] if cfg.has("image.weights") \
        else None
    requirements, found_weights, code = dockerfile.classify(
        ctx.top_level, weights=weights, is_dir=ctx.directories)
    base = cfg.get_str("image.base_image", None) if cfg.has("image.base_image") else None
    if base is None and profile.kind == "cpu" and cfg.has("image.python"):
        base = f"python:{cfg.get_str('image.python')}-slim-bookworm"
    serve = serving.ServeSpec.from_config(cfg)
    spec = dockerfile.Spec(
        base_image=base or profile.base_image, command=command,
        port=cfg.get_int("serve.port", 8080, minimum=1, maximum=65535),
        health=serve.health, requirements=requirements,
        weights=found_weights, code=code,
        env={**dict(serve.preset.env),  # the protocol's runtime needs; the user's win
             **{str(k): str(v) for k, v in cfg.get_mapping("serve.env", {}).items()}},
        build_args=sorted(build_args), nvidia=profile.kind == "nvidia",
        ca_bundle=ca_bundle and bool(requirements))
    return dockerfile.render(spec, directories=ctx.directories)


# -- run ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BuildJob:
    """Everything one build needs, read and checked before the engine is touched."""

    repo: str
    tag_names: list[str]
    refs: list[str]  # repo:tag for each tag; the first is the one built
    version: str
    git: gitinfo.GitInfo
    labels: dict[str, str]
    build_args: dict[str, str]
    profile: accelerators.Profile
    ctx: context.Context
    dockerfile: DockerfileChoice
    smoke: smoke.SmokeSpec | None  # None: --no-smoke
    push: bool
    no_cache: bool
    network: str | None
    platform: str | None
    user: str = ""
    password: str = field(default="", repr=False)

    @property
    def auth(self) -> dict[str, str] | None:
        return ({"username": self.user, "password": self.password}
                if self.user and self.password else None)


def run(args: argparse.Namespace, cfg: Config) -> Outcome:
    user, password = credentials.registry()
    model_name = cfg.get_str("model.name", None) if cfg.has("model.name") else None
    model_name = model_name or cfg.root.name
    repo = repository.choose(args.repository, cfg, model_name, push=args.push)
    for extra in args.tag:
        if not tags.valid_tag(extra):
            raise UsageError(f"--tag '{extra}' is not a valid docker tag (letters, digits, "
                             "_ . -, at most 128, not starting with . or -)")
    ctx_dir = cfg.get_path("image.context", ".")
    user_df = ctx_dir / cfg.get_str("image.dockerfile", "Dockerfile")
    ctx = context.scan(ctx_dir, skip_git=not user_df.is_file())
    profile = _profile(cfg, _requirements_text(ctx))
    args_given = {**profile.build_args(), **buildargs.read(cfg)}
    chosen = _dockerfile(cfg, ctx, profile, args_given, _ca_bundle())
    if args.print_dockerfile:
        text = (chosen.extra_files.get(chosen.path, b"").decode()
                or (ctx.root / chosen.path).read_text())
        return Outcome({"dockerfile": chosen.source, "text": text}, text=text.rstrip("\n"),
                       annotations=report.warnings(profile))

    who = signing.signer(args)  # --sign: checked before anything is built
    gate = _gate_report(args, cfg, attest=who is not None)
    git = gitinfo.detect(cfg.root)
    version = tags.version(cfg.get_str("model.version", "auto"), git)
    tag_names = tags.tags(git, version, args.tag)
    if not tag_names:
        raise cfg.error("model.version", f"'{version}' leaves no usable image tag (and there is "
                        "no git commit to tag by)", hint="use letters, digits, _ . or -")
    job = BuildJob(
        repo=repo, tag_names=tag_names, refs=[f"{repo}:{t}" for t in tag_names],
        version=version, git=git,
        labels=tags.labels(git=git, model_name=model_name, model_version=version,
                           accelerator=profile.labels(),
                           gate_report_digest=gate.digest if gate else None),
        build_args=args_given, profile=profile, ctx=ctx, dockerfile=chosen,
        smoke=None if args.no_smoke else smoke_spec(args, cfg, profile),
        push=args.push, no_cache=args.no_cache,
        network=cfg.get_str("image.network", "host") or None,
        platform=cfg.get_str("image.platform") if cfg.has("image.platform") else None,
        user=user, password=password)
    console.info(f"build {repo} ({profile.kind}"
                 f"{' CUDA ' + profile.cuda if profile.cuda else ''}; Dockerfile: "
                 f"{chosen.source}); tags: {', '.join(tag_names)}")
    docker_client = builder.client()
    try:
        outcome = _build_smoke_push(job, docker_client)
    finally:
        docker_client.close()
    if who is not None and outcome.result.get("digest"):
        _sign(outcome, job, who, gate)
    return outcome


def _sign(outcome: Outcome, job: BuildJob, who: signing.Signer,
          gate: statements.GateReport | None) -> None:
    """Attest the gate report to the pushed digest and sign it (beside the image, never in
    its index); the result and the summary say so."""
    with ghactions.group(f"cosign sign {outcome.result['image']}"):
        done = signing.sign_and_attest(who, str(outcome.result["image"]), tags=job.tag_names,
                                       version=job.version, gate=gate)
    outcome.result["provenance"] = done
    attested = ", ".join(done["attestations"]) or "no gate report to attest"
    line = f"signed ({done['signer']}); attested: {attested}"
    outcome.text += f"\nprovenance  {line}"
    outcome.summary += f"\n\n**Provenance:** {line}\n"


def smoke_spec(args: argparse.Namespace, cfg: Config,
               profile: accelerators.Profile) -> smoke.SmokeSpec:
    """Everything the smoke test needs, read before building so config mistakes show early:
    serve.* and gate.online.* through the serve contract, the samples from the eval set."""
    timeout = args.smoke_timeout if args.smoke_timeout is not None else \
        cfg.get_duration("image.smoke.timeout", 60)
    serve = serving.ServeSpec.from_config(cfg)
    named = cfg.has("gate.online.response_field") or serve.protocol != "custom"
    return smoke.SmokeSpec(
        port=serve.port, health=serve.health, predict=serve.predict,
        # metrics on their own port (serve.metrics_port) are the chart's to scrape
        metrics=serve.metrics if serve.metrics_port in (None, serve.port) else None,
        samples=smoke_samples(cfg, serve),
        # without a configured field (or a protocol that names one) any JSON object will do:
        # the gate's default field is not required of a server never evaluated online
        response_field=serve.response_field if named else None,
        timeout=timeout, nvidia=profile.kind == "nvidia", gpu_count=profile.gpu_count or 1,
        gpu=cfg.get_str("image.smoke.gpu", "auto", choices=smoke.GPU_MODES),
        request_timeout=serve.timeout, protocol=serve.protocol)


def _build_smoke_push(job: BuildJob, docker_client: Any) -> Outcome:
    api = docker_client.api
    if job.push and job.auth:
        builder.login(api, imageref.registry_host(job.repo) or "https://index.docker.io/v1/",
                      job.user, job.password)
    cache_from = []
    branch_tag = tags.sanitize(job.git.branch) if job.git.branch else None
    if job.push and branch_tag and not job.no_cache \
            and builder.pull_quietly(api, job.repo, branch_tag, job.auth):
        cache_from.append(f"{job.repo}:{branch_tag}")
        console.info(f"cache from {job.repo}:{branch_tag}")
    extra_files, dockerfile_path, api_labels = context.with_labels(
        job.ctx, job.dockerfile.extra_files, job.dockerfile.path, job.labels)
    with ghactions.group(f"docker build {job.refs[0]}"):
        fileobj = context.archive(job.ctx, extra_files)
        try:
            built = builder.build(api, fileobj, dockerfile=dockerfile_path, tag=job.refs[0],
                                  labels=api_labels, buildargs=job.build_args,
                                  cache_from=cache_from, network_mode=job.network,
                                  nocache=job.no_cache, platform=job.platform)
        finally:
            fileobj.close()
    for ref in job.refs[1:]:
        name, _, tag = ref.rpartition(":")
        api.tag(built.image_id, name, tag)
    size = int(docker_client.images.get(built.image_id).attrs.get("Size") or 0)

    if job.smoke is None:
        smoke_result = smoke.SmokeResult(passed=False, gpu=False, skipped=True,
                                         notes=["skipped (--no-smoke)"])
    else:
        with ghactions.group("smoke test"):
            smoke_result = smoke.run(docker_client, built.image_id, job.smoke)

    pushes = []
    if job.push:
        with ghactions.group(f"docker push {job.repo}"):
            for tag in job.tag_names:
                pushes.append(builder.push(api, job.repo, tag, job.auth))
    return report.outcome(job, built, size, smoke_result, pushes, cache_from)


__all__ = ["HELP", "BuildJob", "DockerfileChoice", "add_arguments", "generate", "run",
           "smoke_samples",
           "smoke_spec"]
