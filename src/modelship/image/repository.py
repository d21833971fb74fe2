"""Where `modelship build` puts the image: --repository, image.repository, or
`modelship/<model name>`, each checked against docker's reference grammar before anything is
built."""

from __future__ import annotations

from modelship import imageref
from modelship.config import Config
from modelship.errors import UsageError


def choose(given: str | None, cfg: Config, model_name: str, *, push: bool) -> str:
    """Where the image goes: --repository, image.repository, or `modelship/<model name>` made
    a valid repository (lowercase, other characters as '-'). Every one is checked against
    docker's reference grammar here, before anything is built."""
    if given:
        repo, key = str(given).strip(), "--repository"
    elif cfg.has("image.repository"):
        repo, key = cfg.get_str("image.repository").strip(), "image.repository"
    elif push:
        raise cfg.error("image.repository", "missing: --push needs somewhere to push",
                        hint="set image.repository (e.g. ghcr.io/org/model) or pass "
                             "--repository")
    else:
        return default(cfg, model_name)
    if not imageref.valid_repository(repo):
        msg = (f"'{repo}' is not an image repository; expected [registry[:port]/]path with "
               "lowercase letters, digits and . _ - separators, and no tag")
        last = repo.rsplit("/", 1)[-1]
        if ":" in last or "@" in last:
            hint: str | None = "give the repository without a tag or digest; add tags with --tag"
        else:
            better = imageref.suggest_repository(repo)
            hint = f"did you mean '{better}'?" if better and better != repo else None
        if key.startswith("--"):
            raise UsageError(f"{key}: {msg}", hint=hint)
        raise cfg.error(key, msg, hint=hint)
    return repo


def default(cfg: Config, model_name: str) -> str:
    """`modelship/<model name>`, made a valid repository name."""
    name = imageref.repository_component(model_name)
    repo = f"modelship/{name}"
    if name and imageref.valid_repository(repo):
        return repo
    hint = "set image.repository (e.g. ghcr.io/org/model) or pass --repository"
    if cfg.has("model.name"):
        raise cfg.error("model.name", f"'{model_name}' cannot be made an image repository "
                        "name (needs letters or digits)", hint=hint)
    raise UsageError(f"the project directory's name '{model_name}' cannot be made an image "
                     "repository name (needs letters or digits); set model.name, "
                     "image.repository or --repository", hint=hint)
